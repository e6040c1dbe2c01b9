/// `SealToken`: a user's staked, expiring, revocable right to send requests to one cluster.
///
/// This module owns the token's lifecycle (stake, renew, grant, revoke, slash, unstake) and
/// the authorisation check `request` calls. The token is a shared object that requests read
/// through `&SealToken`, so one user's parallel requests never queue behind it; only the
/// rare lifecycle calls take it mutably. It never touches requests or cluster state.
module kubectl_sui::seal_token;

use kubectl_sui::access::{Self, Rule};
use kubectl_sui::cluster::{Cluster, ClusterAdminCap};
use std::string::String;
use sui::balance::Balance;
use sui::clock::Clock;
use sui::coin::{Self, Coin};
use sui::event;
use sui::sui::SUI;

/// The token belongs to another cluster than the one given.
const EWrongCluster: u64 = 20;
/// The sender is not the address the token is bound to.
const ENotTokenOwner: u64 = 21;
/// The token's expiry has passed; renew it.
const ETokenExpired: u64 = 22;
/// The cluster admin revoked the token.
const ETokenRevoked: u64 = 23;
/// No rule of the token allows the verb on that resource in that namespace (or that path).
const EPermissionDenied: u64 = 24;
/// A write needs at least the policy's minimum stake.
const EInsufficientStake: u64 = 25;
/// The role (or explicit rules) asked for exceeds what the policy grants without the admin.
const ERoleNotSelfService: u64 = 26;
/// The stake is still locked (`unlocks_at_ms` is in the future).
const EStakeLocked: u64 = 27;
/// The policy does not allow slashing.
const ESlashingDisabled: u64 = 28;
/// The slash amount is larger than the stake.
const ESlashExceedsStake: u64 = 29;

public struct SealToken has key {
    id: UID,
    cluster_id: ID,
    owner: address,
    stake: Balance<SUI>,
    role: u8,
    rules: vector<Rule>,
    /// When the stake may be withdrawn: the policy's lock from the last stake change, never
    /// shortened by a later policy.
    unlocks_at_ms: u64,
    expires_at_ms: u64,
    revoked: bool,
}

public struct TokenIssued has copy, drop {
    token_id: ID,
    cluster_id: ID,
    owner: address,
    stake: u64,
    role: u8,
    expires_at_ms: u64,
}

public struct TokenRenewed has copy, drop {
    token_id: ID,
    expires_at_ms: u64,
}

public struct StakeAdded has copy, drop {
    token_id: ID,
    stake: u64,
}

public struct TokenPermissionsChanged has copy, drop {
    token_id: ID,
    role: u8,
}

public struct TokenRevoked has copy, drop {
    token_id: ID,
    cluster_id: ID,
}

public struct TokenSlashed has copy, drop {
    token_id: ID,
    amount: u64,
}

public struct TokenUnstaked has copy, drop {
    token_id: ID,
    owner: address,
    amount: u64,
}

/// Stakes `payment` and shares a token with a predefined role, up to the self-service role.
public fun stake(
    cluster: &Cluster,
    payment: Coin<SUI>,
    role: u8,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    cluster.assert_current();
    let rules = access::role_rules(role);
    assert!(role <= cluster.policy().self_service_role(), ERoleNotSelfService);
    issue(cluster, payment, role, rules, clock, ctx);
}

/// Stakes `payment` and shares a token with explicit rules, which the self-service role
/// must cover.
public fun stake_with_rules(
    cluster: &Cluster,
    payment: Coin<SUI>,
    verbs: vector<u16>,
    groups: vector<vector<String>>,
    resources: vector<vector<String>>,
    namespaces: vector<vector<String>>,
    non_resource_urls: vector<vector<String>>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    cluster.assert_current();
    let rules = access::rules_from_parts(verbs, groups, resources, namespaces, non_resource_urls);
    let policy = cluster.policy();
    let allowed = access::role_rules(policy.self_service_role());
    assert!(access::covers(&allowed, &rules, &policy.protected_namespaces()), ERoleNotSelfService);
    issue(cluster, payment, access::role_custom(), rules, clock, ctx);
}

/// Adds to the stake, e.g. to reach the minimum for writes. The whole stake is locked again
/// for the policy's lock period from now (never less than it already was).
public fun add_stake(
    token: &mut SealToken,
    cluster: &Cluster,
    payment: Coin<SUI>,
    clock: &Clock,
    ctx: &TxContext,
) {
    cluster.assert_current();
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    assert!(token.owner == ctx.sender(), ENotTokenOwner);
    token.stake.join(payment.into_balance());
    let relocked = clock.timestamp_ms() + cluster.policy().unstake_lock_ms();
    if (relocked > token.unlocks_at_ms) {
        token.unlocks_at_ms = relocked;
    };
    event::emit(StakeAdded { token_id: object::id(token), stake: token.stake.value() });
}

/// Extends the expiry to one token lifetime from now.
public fun renew(token: &mut SealToken, cluster: &Cluster, clock: &Clock, ctx: &TxContext) {
    cluster.assert_current();
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    assert!(token.owner == ctx.sender(), ENotTokenOwner);
    assert!(!token.revoked, ETokenRevoked);
    token.expires_at_ms = clock.timestamp_ms() + cluster.policy().token_lifetime_ms();
    event::emit(TokenRenewed { token_id: object::id(token), expires_at_ms: token.expires_at_ms });
}

/// Admin: replaces the token's permissions with a predefined role.
public fun grant_role(cap: &ClusterAdminCap, cluster: &Cluster, token: &mut SealToken, role: u8) {
    cluster.assert_current();
    cap.assert_admin(cluster);
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    token.rules = access::role_rules(role);
    token.role = role;
    event::emit(TokenPermissionsChanged { token_id: object::id(token), role });
}

/// Admin: replaces the token's permissions with explicit rules.
public fun grant_rules(
    cap: &ClusterAdminCap,
    cluster: &Cluster,
    token: &mut SealToken,
    verbs: vector<u16>,
    groups: vector<vector<String>>,
    resources: vector<vector<String>>,
    namespaces: vector<vector<String>>,
    non_resource_urls: vector<vector<String>>,
) {
    cluster.assert_current();
    cap.assert_admin(cluster);
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    token.rules = access::rules_from_parts(verbs, groups, resources, namespaces, non_resource_urls);
    token.role = access::role_custom();
    event::emit(TokenPermissionsChanged { token_id: object::id(token), role: token.role });
}

/// Admin: the token can no longer submit requests or be renewed. Its stake can still be
/// withdrawn after the lock period.
public fun revoke(cap: &ClusterAdminCap, cluster: &Cluster, token: &mut SealToken) {
    cluster.assert_current();
    cap.assert_admin(cluster);
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    token.revoked = true;
    event::emit(TokenRevoked { token_id: object::id(token), cluster_id: token.cluster_id });
}

/// Admin: takes `amount` of the stake, sent to the admin, when the policy allows slashing.
/// Sent rather than returned so the slashed funds always land with whoever holds the cap.
#[allow(lint(self_transfer))]
public fun slash(
    cap: &ClusterAdminCap,
    cluster: &Cluster,
    token: &mut SealToken,
    amount: u64,
    ctx: &mut TxContext,
) {
    cluster.assert_current();
    cap.assert_admin(cluster);
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    assert!(cluster.policy().slashing_enabled(), ESlashingDisabled);
    assert!(amount <= token.stake.value(), ESlashExceedsStake);
    let slashed = coin::from_balance(token.stake.split(amount), ctx);
    transfer::public_transfer(slashed, ctx.sender());
    event::emit(TokenSlashed { token_id: object::id(token), amount });
}

/// Owner: deletes the token and returns its stake, once its lock is over (the lock the
/// policy set when the stake last changed: a later policy does not shorten it).
public fun unstake(token: SealToken, cluster: &Cluster, clock: &Clock, ctx: &mut TxContext) {
    cluster.assert_current();
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    assert!(token.owner == ctx.sender(), ENotTokenOwner);
    assert!(clock.timestamp_ms() >= token.unlocks_at_ms, EStakeLocked);
    let token_id = object::id(&token);
    let SealToken { id, owner, stake, .. } = token;
    id.delete();
    let amount = stake.value();
    transfer::public_transfer(coin::from_balance(stake, ctx), owner);
    event::emit(TokenUnstaked { token_id, owner, amount });
}

/// The check every request passes, in this order: cluster, owner, revocation, expiry,
/// permission (the policy's protected namespaces reached only by a rule naming them), stake
/// for writes.
public fun assert_authorized(
    token: &SealToken,
    cluster: &Cluster,
    sender: address,
    verb: u8,
    group: &String,
    resource: &String,
    namespace: &String,
    name: &String,
    now_ms: u64,
) {
    assert!(token.cluster_id == object::id(cluster), EWrongCluster);
    assert!(token.owner == sender, ENotTokenOwner);
    assert!(!token.revoked, ETokenRevoked);
    assert!(now_ms < token.expires_at_ms, ETokenExpired);
    let protected = cluster.policy().protected_namespaces();
    assert!(access::allows(&token.rules, verb, group, resource, namespace, name, &protected), EPermissionDenied);
    assert!(
        access::is_read(verb) || token.stake.value() >= cluster.policy().min_write_stake(),
        EInsufficientStake,
    );
}

public fun cluster_id(token: &SealToken): ID { token.cluster_id }

public fun owner(token: &SealToken): address { token.owner }

public fun stake_value(token: &SealToken): u64 { token.stake.value() }

public fun role(token: &SealToken): u8 { token.role }

public fun rules(token: &SealToken): vector<Rule> { token.rules }

public fun expires_at_ms(token: &SealToken): u64 { token.expires_at_ms }

public fun unlocks_at_ms(token: &SealToken): u64 { token.unlocks_at_ms }

public fun is_revoked(token: &SealToken): bool { token.revoked }

fun issue(
    cluster: &Cluster,
    payment: Coin<SUI>,
    role: u8,
    rules: vector<Rule>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    let now = clock.timestamp_ms();
    let token = SealToken {
        id: object::new(ctx),
        cluster_id: object::id(cluster),
        owner: ctx.sender(),
        stake: payment.into_balance(),
        role,
        rules,
        unlocks_at_ms: now + cluster.policy().unstake_lock_ms(),
        expires_at_ms: now + cluster.policy().token_lifetime_ms(),
        revoked: false,
    };
    event::emit(TokenIssued {
        token_id: object::id(&token),
        cluster_id: token.cluster_id,
        owner: token.owner,
        stake: token.stake.value(),
        role,
        expires_at_ms: token.expires_at_ms,
    });
    transfer::share_object(token);
}
