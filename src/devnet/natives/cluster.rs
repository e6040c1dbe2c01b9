//! `cluster.move`: the cluster object, its policy, its nodes, its version.

use sui_sdk_types::{Address, ExecutionError, Owner};

use super::Call;
use super::KEY_LENGTH;
use crate::contract::Abort;
use crate::contract::CONTRACT_VERSION;
use crate::contract::events::*;
use crate::contract::objects::*;
use crate::contract::{Role, access};

pub(super) fn policy_from(c: &Call<'_>, first: usize) -> Result<Policy, ExecutionError> {
    let policy = Policy {
        min_write_stake: c.pure(first)?,
        token_lifetime_ms: c.pure(first + 1)?,
        unstake_lock_ms: c.pure(first + 2)?,
        allow_debug_nodes: c.pure(first + 3)?,
        self_service_role: c.pure(first + 4)?,
        slashing_enabled: c.pure(first + 5)?,
        protected_namespaces: access::default_protected_namespaces(),
    };
    c.ensure(policy.token_lifetime_ms > 0 && policy.self_service_role <= Role::Admin.code(), Abort::EInvalidPolicy)?;
    Ok(policy)
}

pub(super) fn policy_event(cluster: &Cluster) -> PolicyChanged {
    let p = &cluster.policy;
    PolicyChanged {
        cluster_id: cluster.id,
        min_write_stake: p.min_write_stake,
        token_lifetime_ms: p.token_lifetime_ms,
        unstake_lock_ms: p.unstake_lock_ms,
        allow_debug_nodes: p.allow_debug_nodes,
        self_service_role: p.self_service_role,
        slashing_enabled: p.slashing_enabled,
    }
}

pub(super) fn assert_admin(c: &Call<'_>, cap: &ClusterAdminCap, cluster: &Cluster) -> Result<(), ExecutionError> {
    c.ensure(cap.cluster_id == cluster.id, Abort::ENotClusterAdmin)
}

pub(super) fn create_cluster(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let name: String = c.pure(0)?;
    let policy = policy_from(c, 1)?;
    let cluster = Cluster {
        id: c.session.fresh_id(),
        name,
        policy,
        nodes: VecMap { contents: vec![] },
        version: CONTRACT_VERSION,
    };
    let cap = ClusterAdminCap { id: c.session.fresh_id(), cluster_id: cluster.id };
    c.emit(&ClusterCreated { cluster_id: cluster.id, name: cluster.name.clone(), admin: c.sender() });
    c.emit(&policy_event(&cluster));
    c.create(cap.id, &cap, Owner::Address(c.sender()));
    c.create(cluster.id, &cluster, Owner::Shared(0));
    Ok(())
}

pub(super) fn set_policy(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    assert_admin(c, &cap, &cluster)?;
    let protected = std::mem::take(&mut cluster.policy.protected_namespaces);
    cluster.policy = Policy { protected_namespaces: protected, ..policy_from(c, 2)? };
    c.emit(&policy_event(&cluster));
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn set_protected_namespaces(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let namespaces: Vec<String> = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(namespaces.iter().all(|n| !n.is_empty() && n != "*"), Abort::EInvalidPolicy)?;
    cluster.policy.protected_namespaces = namespaces.clone();
    c.emit(&ProtectedNamespacesChanged { cluster_id: cluster.id, namespaces });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn register_debug_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let node: Address = c.pure(2)?;
    let signing_key: Vec<u8> = c.pure(3)?;
    let sealing_key: Vec<u8> = c.pure(4)?;
    c.clock(5)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.policy.allow_debug_nodes, Abort::EDebugNodesForbidden)?;
    c.ensure(signing_key.len() == KEY_LENGTH && sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    c.ensure(node == ed25519_address(&signing_key), Abort::ENodeKeyMismatch)?;
    c.ensure(cluster.node(&node).is_none(), Abort::ENodeAlreadyRegistered)?;
    cluster.nodes.contents.push(crate::contract::objects::Entry {
        key: node,
        value: NodeInfo {
            signing_key: signing_key.clone(),
            sealing_key: sealing_key.clone(),
            previous_sealing_key: vec![],
            attested: false,
            registered_at_ms: c.now(),
        },
    });
    c.emit(&NodeRegistered { cluster_id: cluster.id, node, signing_key, sealing_key, attested: false });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn remove_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster = c.cluster(1)?;
    let node: Address = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    cluster.nodes.contents.retain(|e| e.key != node);
    c.emit(&NodeRemoved { cluster_id: cluster.id, node });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn rotate_sealing_key(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut cluster = c.cluster(0)?;
    let sealing_key: Vec<u8> = c.pure(1)?;
    let node = c.sender();
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    c.ensure(sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    let info = &mut cluster.nodes.contents.iter_mut().find(|e| e.key == node).expect("registered").value;
    info.previous_sealing_key = std::mem::replace(&mut info.sealing_key, sealing_key.clone());
    c.emit(&SealingKeyRotated { cluster_id: cluster.id, node, sealing_key });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn migrate(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.version < CONTRACT_VERSION, Abort::EWrongVersion)?;
    let from = cluster.version;
    cluster.version = CONTRACT_VERSION;
    c.emit(&ClusterMigrated { cluster_id: cluster.id, from, to: CONTRACT_VERSION });
    c.store(cluster.id, &cluster);
    Ok(())
}

pub(super) fn is_active_node(cluster: &Cluster, node: &Address) -> bool {
    cluster.node(node).is_some_and(|n| n.attested || cluster.policy.allow_debug_nodes)
}

/// The Sui address of an Ed25519 key: Blake2b256(0x00 || key).
pub(super) fn ed25519_address(key: &[u8]) -> Address {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(key);
    Address::new(sui_sdk_types::hash::Hasher::digest(&bytes).into_inner())
}
