//! `seal_token.move`: staking, the token's rules, its renewal, revocation, slashing and unstaking.

use sui_sdk_types::{ExecutionError, Owner};

use super::Call;
use super::access::{role_rules, rules_from_parts};
use super::cluster::assert_admin;
use crate::contract::Abort;
use crate::contract::events::*;
use crate::contract::objects::*;
use crate::contract::{Role, access};

pub(super) fn issue(
    c: &mut Call<'_>,
    cluster: &Cluster,
    stake: u64,
    role: u8,
    rules: Vec<Rule>,
) -> Result<(), ExecutionError> {
    let now = c.now();
    let token = SealToken {
        id: c.session.fresh_id(),
        cluster_id: cluster.id,
        owner: c.sender(),
        stake: Balance { value: stake },
        role,
        rules,
        unlocks_at_ms: c.add(now, cluster.policy.unstake_lock_ms)?,
        expires_at_ms: c.add(now, cluster.policy.token_lifetime_ms)?,
        revoked: false,
    };
    c.emit(&TokenIssued {
        token_id: token.id,
        cluster_id: token.cluster_id,
        owner: token.owner,
        stake,
        role,
        expires_at_ms: token.expires_at_ms,
    });
    c.create(token.id, &token, Owner::Shared(0));
    Ok(())
}

pub(super) fn stake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster = c.cluster(0)?;
    let role: u8 = c.pure(2)?;
    c.clock(3)?;
    let rules = role_rules(c, role)?;
    c.ensure(role <= cluster.policy.self_service_role, Abort::ERoleNotSelfService)?;
    let stake = c.take_coin(1)?;
    issue(c, &cluster, stake, role, rules)
}

pub(super) fn stake_with_rules(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster = c.cluster(0)?;
    c.clock(7)?;
    let rules = rules_from_parts(c, 2)?;
    let allowed = role_rules(c, cluster.policy.self_service_role)?;
    c.ensure(access::covers(&allowed, &rules, &cluster.policy.protected_namespaces), Abort::ERoleNotSelfService)?;
    let stake = c.take_coin(1)?;
    issue(c, &cluster, stake, Role::Custom.code(), rules)
}

pub(super) fn add_stake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut token: SealToken = c.load(0)?;
    let cluster = c.cluster(1)?;
    c.clock(3)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    let added = c.take_coin(2)?;
    token.stake.value = c.add(token.stake.value, added)?;
    token.unlocks_at_ms = token.unlocks_at_ms.max(c.add(c.now(), cluster.policy.unstake_lock_ms)?);
    c.emit(&StakeAdded { token_id: token.id, stake: token.stake.value });
    c.store(token.id, &token);
    Ok(())
}

pub(super) fn renew(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut token: SealToken = c.load(0)?;
    let cluster = c.cluster(1)?;
    c.clock(2)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    c.ensure(!token.revoked, Abort::ETokenRevoked)?;
    token.expires_at_ms = c.add(c.now(), cluster.policy.token_lifetime_ms)?;
    c.emit(&TokenRenewed { token_id: token.id, expires_at_ms: token.expires_at_ms });
    c.store(token.id, &token);
    Ok(())
}

/// Loads (cap, cluster, token) and runs the admin and cluster checks every admin call shares.
pub(super) fn admin_token(c: &Call<'_>) -> Result<(Cluster, SealToken), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let cluster = c.cluster(1)?;
    let token: SealToken = c.load(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    Ok((cluster, token))
}

pub(super) fn grant_role(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    let role: u8 = c.pure(3)?;
    token.rules = role_rules(c, role)?;
    token.role = role;
    c.emit(&TokenPermissionsChanged { token_id: token.id, role });
    c.store(token.id, &token);
    Ok(())
}

pub(super) fn grant_rules(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    token.rules = rules_from_parts(c, 3)?;
    token.role = Role::Custom.code();
    c.emit(&TokenPermissionsChanged { token_id: token.id, role: token.role });
    c.store(token.id, &token);
    Ok(())
}

pub(super) fn revoke(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    token.revoked = true;
    c.emit(&TokenRevoked { token_id: token.id, cluster_id: token.cluster_id });
    c.store(token.id, &token);
    Ok(())
}

pub(super) fn slash(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (cluster, mut token) = admin_token(c)?;
    let amount: u64 = c.pure(3)?;
    c.ensure(cluster.policy.slashing_enabled, Abort::ESlashingDisabled)?;
    c.ensure(amount <= token.stake.value, Abort::ESlashExceedsStake)?;
    token.stake.value -= amount;
    c.session.create_coin(amount, Owner::Address(c.sender()));
    c.emit(&TokenSlashed { token_id: token.id, amount });
    c.store(token.id, &token);
    Ok(())
}

pub(super) fn unstake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let token: SealToken = c.load(0)?;
    let cluster = c.cluster(1)?;
    c.clock(2)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    c.ensure(c.now() >= token.unlocks_at_ms, Abort::EStakeLocked)?;
    c.session.delete(token.id);
    c.session.create_coin(token.stake.value, Owner::Address(token.owner));
    c.emit(&TokenUnstaked { token_id: token.id, owner: token.owner, amount: token.stake.value });
    Ok(())
}
