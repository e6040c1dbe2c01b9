/// One shared `Cluster` object per Kubernetes cluster: its policy and its registered nodes.
///
/// This module owns `Cluster`, `ClusterAdminCap`, `Policy` and `NodeInfo`, and every change
/// to them. It never touches tokens or requests: those read the cluster through `&Cluster`,
/// which is a read-only shared input and so never contends with other transactions.
module kubectl_sui::cluster;

use kubectl_sui::access;
use std::string::String;
use sui::address;
use sui::clock::Clock;
use sui::event;
use sui::hash;
use sui::vec_map::{Self, VecMap};

/// The admin capability given does not belong to this cluster.
const ENotClusterAdmin: u64 = 1;
/// Policy values out of range: zero token lifetime or an unknown self-service role.
const EInvalidPolicy: u64 = 2;
/// A public key is not 32 bytes (Ed25519 for signing, X25519 for sealing).
const EInvalidKey: u64 = 3;
/// The node address is not the Sui address of the Ed25519 signing key.
const ENodeKeyMismatch: u64 = 4;
/// The policy forbids debug (unattested) nodes.
const EDebugNodesForbidden: u64 = 5;
/// The node is already registered on this cluster.
const ENodeAlreadyRegistered: u64 = 6;
/// The address is not a registered node of this cluster.
const ENodeNotRegistered: u64 = 7;
/// The cluster object is at another version than this package: call the package it was
/// migrated to, or (admin) migrate it with the newer package's `migrate`.
const EWrongVersion: u64 = 8;

/// This package's version. An upgraded package raises it; its `migrate` moves a cluster to
/// it, after which every call through an older package on that cluster aborts.
const VERSION: u64 = 1;

const KEY_LENGTH: u64 = 32;
/// Signature scheme flag of Ed25519 in Sui address derivation.
const ED25519_FLAG: u8 = 0;
/// The namespace `deploy/` runs the node in.
const DEFAULT_PROTECTED_NAMESPACE: vector<u8> = b"nautilus";

public struct Cluster has key {
    id: UID,
    name: String,
    policy: Policy,
    nodes: VecMap<address, NodeInfo>,
    /// The package version that may use this cluster (see `VERSION`).
    version: u64,
}

/// Whoever holds it administers exactly one cluster.
public struct ClusterAdminCap has key, store {
    id: UID,
    cluster_id: ID,
}

public struct Policy has copy, drop, store {
    /// Stake (MIST) a token needs for any verb other than get/list/watch.
    min_write_stake: u64,
    /// How long a token is valid after it is issued or renewed.
    token_lifetime_ms: u64,
    /// How long after staking the stake stays locked.
    unstake_lock_ms: u64,
    /// Whether nodes registered by the admin without attestation may answer.
    allow_debug_nodes: bool,
    /// The highest role a staker obtains without the admin (0 = none).
    self_service_role: u8,
    /// Whether the admin may slash stakes.
    slashing_enabled: bool,
    /// Namespaces no preset role and no `"*"` reaches, only a rule naming them: by default
    /// the node's own, where its keys live.
    protected_namespaces: vector<String>,
}

public struct NodeInfo has copy, drop, store {
    signing_key: vector<u8>,
    sealing_key: vector<u8>,
    /// The sealing key before the last rotation, so requests sealed to it are still answered.
    previous_sealing_key: vector<u8>,
    /// False for debug nodes registered by the admin; true once attested (later issue).
    attested: bool,
    registered_at_ms: u64,
}

public struct ClusterMigrated has copy, drop {
    cluster_id: ID,
    from: u64,
    to: u64,
}

public struct ClusterCreated has copy, drop {
    cluster_id: ID,
    name: String,
    admin: address,
}

public struct PolicyChanged has copy, drop {
    cluster_id: ID,
    min_write_stake: u64,
    token_lifetime_ms: u64,
    unstake_lock_ms: u64,
    allow_debug_nodes: bool,
    self_service_role: u8,
    slashing_enabled: bool,
}

public struct NodeRegistered has copy, drop {
    cluster_id: ID,
    node: address,
    signing_key: vector<u8>,
    sealing_key: vector<u8>,
    attested: bool,
}

public struct NodeRemoved has copy, drop {
    cluster_id: ID,
    node: address,
}

public struct ProtectedNamespacesChanged has copy, drop {
    cluster_id: ID,
    namespaces: vector<String>,
}

public struct SealingKeyRotated has copy, drop {
    cluster_id: ID,
    node: address,
    sealing_key: vector<u8>,
}

/// Creates and shares a cluster; the sender receives its admin capability. The cap goes to
/// the sender rather than being returned so a plain one-call transaction creates a cluster.
#[allow(lint(self_transfer))]
public fun create_cluster(
    name: String,
    min_write_stake: u64,
    token_lifetime_ms: u64,
    unstake_lock_ms: u64,
    allow_debug_nodes: bool,
    self_service_role: u8,
    slashing_enabled: bool,
    ctx: &mut TxContext,
) {
    let policy = new_policy(
        min_write_stake,
        token_lifetime_ms,
        unstake_lock_ms,
        allow_debug_nodes,
        self_service_role,
        slashing_enabled,
    );
    let cluster = Cluster { id: object::new(ctx), name, policy, nodes: vec_map::empty(), version: VERSION };
    let cluster_id = object::id(&cluster);
    event::emit(ClusterCreated { cluster_id, name: cluster.name, admin: ctx.sender() });
    emit_policy(&cluster);
    transfer::public_transfer(ClusterAdminCap { id: object::new(ctx), cluster_id }, ctx.sender());
    transfer::share_object(cluster);
}

/// Replaces the policy, keeping its protected namespaces. Tokens already issued keep their
/// expiry.
public fun set_policy(
    cap: &ClusterAdminCap,
    cluster: &mut Cluster,
    min_write_stake: u64,
    token_lifetime_ms: u64,
    unstake_lock_ms: u64,
    allow_debug_nodes: bool,
    self_service_role: u8,
    slashing_enabled: bool,
) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    let protected = cluster.policy.protected_namespaces;
    cluster.policy =
        new_policy(
            min_write_stake,
            token_lifetime_ms,
            unstake_lock_ms,
            allow_debug_nodes,
            self_service_role,
            slashing_enabled,
        );
    cluster.policy.protected_namespaces = protected;
    emit_policy(cluster);
}

/// Replaces the namespaces only rules naming them reach (e.g. the node's, `kube-system`).
public fun set_protected_namespaces(cap: &ClusterAdminCap, cluster: &mut Cluster, namespaces: vector<String>) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    assert!(namespaces.all!(|n| !n.is_empty() && n != &b"*".to_string()), EInvalidPolicy);
    cluster.policy.protected_namespaces = namespaces;
    event::emit(ProtectedNamespacesChanged { cluster_id: object::id(cluster), namespaces });
}

/// Registers a debug node: its keys are vouched for by the admin, not by an attestation.
public fun register_debug_node(
    cap: &ClusterAdminCap,
    cluster: &mut Cluster,
    node: address,
    signing_key: vector<u8>,
    sealing_key: vector<u8>,
    clock: &Clock,
) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    assert!(cluster.policy.allow_debug_nodes, EDebugNodesForbidden);
    assert!(signing_key.length() == KEY_LENGTH && sealing_key.length() == KEY_LENGTH, EInvalidKey);
    assert!(node == ed25519_address(&signing_key), ENodeKeyMismatch);
    assert!(!cluster.nodes.contains(&node), ENodeAlreadyRegistered);
    cluster
        .nodes
        .insert(
            node,
            NodeInfo {
                signing_key,
                sealing_key,
                previous_sealing_key: vector[],
                attested: false,
                registered_at_ms: clock.timestamp_ms(),
            },
        );
    event::emit(NodeRegistered {
        cluster_id: object::id(cluster),
        node,
        signing_key,
        sealing_key,
        attested: false,
    });
}

public fun remove_node(cap: &ClusterAdminCap, cluster: &mut Cluster, node: address) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    assert!(cluster.nodes.contains(&node), ENodeNotRegistered);
    cluster.nodes.remove(&node);
    event::emit(NodeRemoved { cluster_id: object::id(cluster), node });
}

/// Called by a node to publish a new sealing key; the previous one stays accepted.
public fun rotate_sealing_key(cluster: &mut Cluster, sealing_key: vector<u8>, ctx: &TxContext) {
    cluster.assert_current();
    let node = ctx.sender();
    assert!(cluster.nodes.contains(&node), ENodeNotRegistered);
    assert!(sealing_key.length() == KEY_LENGTH, EInvalidKey);
    let info = &mut cluster.nodes[&node];
    info.previous_sealing_key = info.sealing_key;
    info.sealing_key = sealing_key;
    event::emit(SealingKeyRotated { cluster_id: object::id(cluster), node, sealing_key });
}

public fun name(cluster: &Cluster): String { cluster.name }

public fun policy(cluster: &Cluster): Policy { cluster.policy }

public fun min_write_stake(policy: &Policy): u64 { policy.min_write_stake }

public fun token_lifetime_ms(policy: &Policy): u64 { policy.token_lifetime_ms }

public fun unstake_lock_ms(policy: &Policy): u64 { policy.unstake_lock_ms }

public fun allow_debug_nodes(policy: &Policy): bool { policy.allow_debug_nodes }

public fun self_service_role(policy: &Policy): u8 { policy.self_service_role }

public fun slashing_enabled(policy: &Policy): bool { policy.slashing_enabled }

public fun protected_namespaces(policy: &Policy): vector<String> { policy.protected_namespaces }

public fun is_registered(cluster: &Cluster, node: address): bool {
    cluster.nodes.contains(&node)
}

/// A node may answer when registered and either attested or allowed as a debug node.
public fun is_active_node(cluster: &Cluster, node: address): bool {
    cluster.nodes.contains(&node) && {
        let info = &cluster.nodes[&node];
        info.attested || cluster.policy.allow_debug_nodes
    }
}

/// Whether `key` is the node's current or previous sealing key.
public fun accepts_sealing_key(cluster: &Cluster, node: address, key: &vector<u8>): bool {
    cluster.nodes.contains(&node) && {
        let info = &cluster.nodes[&node];
        &info.sealing_key == key || (!info.previous_sealing_key.is_empty() && &info.previous_sealing_key == key)
    }
}

public fun cap_cluster_id(cap: &ClusterAdminCap): ID { cap.cluster_id }

public fun version(cluster: &Cluster): u64 { cluster.version }

/// Aborts unless the cluster is at this package's version: every call on a cluster checks
/// it first, so that after a migration the older package refuses to act on it.
public fun assert_current(cluster: &Cluster) {
    assert!(cluster.version == VERSION, EWrongVersion);
}

/// Admin, through an upgraded package: moves the cluster to this package's version. From then
/// on calls through older packages abort with `EWrongVersion`; moving back is impossible.
public fun migrate(cap: &ClusterAdminCap, cluster: &mut Cluster) {
    assert_admin(cap, cluster);
    assert!(cluster.version < VERSION, EWrongVersion);
    let from = cluster.version;
    cluster.version = VERSION;
    event::emit(ClusterMigrated { cluster_id: object::id(cluster), from, to: VERSION });
}

#[test_only]
public fun set_version_for_testing(cluster: &mut Cluster, version: u64) {
    cluster.version = version;
}

public fun assert_admin(cap: &ClusterAdminCap, cluster: &Cluster) {
    assert!(cap.cluster_id == object::id(cluster), ENotClusterAdmin);
}

fun new_policy(
    min_write_stake: u64,
    token_lifetime_ms: u64,
    unstake_lock_ms: u64,
    allow_debug_nodes: bool,
    self_service_role: u8,
    slashing_enabled: bool,
): Policy {
    assert!(token_lifetime_ms > 0 && self_service_role <= access::role_admin(), EInvalidPolicy);
    Policy {
        min_write_stake,
        token_lifetime_ms,
        unstake_lock_ms,
        allow_debug_nodes,
        self_service_role,
        slashing_enabled,
        protected_namespaces: vector[DEFAULT_PROTECTED_NAMESPACE.to_string()],
    }
}

fun emit_policy(cluster: &Cluster) {
    let p = &cluster.policy;
    event::emit(PolicyChanged {
        cluster_id: object::id(cluster),
        min_write_stake: p.min_write_stake,
        token_lifetime_ms: p.token_lifetime_ms,
        unstake_lock_ms: p.unstake_lock_ms,
        allow_debug_nodes: p.allow_debug_nodes,
        self_service_role: p.self_service_role,
        slashing_enabled: p.slashing_enabled,
    });
}

/// The Sui address of an Ed25519 key: Blake2b256(flag || public key).
fun ed25519_address(key: &vector<u8>): address {
    let mut bytes = vector[ED25519_FLAG];
    bytes.append(*key);
    address::from_bytes(hash::blake2b256(&bytes))
}
