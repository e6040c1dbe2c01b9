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
use sui::nitro_attestation::NitroAttestationDocument;
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
/// The attestation document carries no Ed25519 public key (32 bytes) for the node.
const EAttestationKey: u64 = 60;
/// The attestation document is older than `MAX_ATTESTATION_AGE_MS`, or ahead of the clock by
/// more than `MAX_CLOCK_SKEW_MS`.
const EStaleAttestation: u64 = 61;
/// The document's PCRs match no enclave measurement the policy accepts.
const EUnknownEnclave: u64 = 62;
/// A measurement without PCR0, PCR1 and PCR2, with a value that is not 48 bytes (SHA-384), an
/// index above 31 or twice, or one the policy already holds.
const EInvalidMeasurement: u64 = 63;
/// The document's nonce (the challenge the node puts there: the cluster's id) names another
/// cluster.
const EAttestationForOtherCluster: u64 = 64;
/// The policy holds no such measurement.
const EMeasurementNotFound: u64 = 65;
/// The policy requires the challenge (a nonce naming this cluster) and the document has none.
const EAttestationNonceMissing: u64 = 66;
/// An auditor key that is not 32 bytes, the same key twice, or more than `MAX_AUDITORS` keys.
const EInvalidAuditors: u64 = 67;

/// This package's version. An upgraded package raises it; its `migrate` moves a cluster to
/// it, after which every call through an older package on that cluster aborts.
const VERSION: u64 = 1;

const KEY_LENGTH: u64 = 32;
/// Signature scheme flag of Ed25519 in Sui address derivation.
const ED25519_FLAG: u8 = 0;
/// How old an attestation document may be when it registers a node (its timestamp is the Nitro
/// Security Module's, signed with the document).
const MAX_ATTESTATION_AGE_MS: u64 = 600_000;
/// How far ahead of the chain's clock a document's timestamp may be.
const MAX_CLOCK_SKEW_MS: u64 = 60_000;
/// Length of a PCR value (SHA-384).
const PCR_LENGTH: u64 = 48;
/// The namespace `deploy/` runs the node in.
const DEFAULT_PROTECTED_NAMESPACE: vector<u8> = b"nautilus";
/// Most auditor keys a policy names: each is one more recipient of every session's key.
const MAX_AUDITORS: u64 = 8;

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
    /// The enclave images whose nodes may register by attestation; several at once, so that
    /// an upgrade can roll.
    enclaves: vector<Measurement>,
    /// Whether an attestation document must carry the challenge in its `nonce` (the cluster's
    /// id). True for a new cluster; an admin may lift it to accept an image whose node does not
    /// put one (the document's timestamp still bounds its age).
    require_attestation_nonce: bool,
    /// X25519 public keys of the cluster's auditors: every session (exec, attach,
    /// port-forward) is recorded for them, its key sealed to each (the node, attested, does the
    /// sealing; the contract only names who may read).
    auditors: vector<vector<u8>>,
}

/// One enclave image: the PCR values its attestation documents must carry (PCR0, 1 and 2 at
/// least; any other index also listed must match too).
public struct Measurement has copy, drop, store {
    pcrs: vector<Pcr>,
}

public struct Pcr has copy, drop, store {
    index: u8,
    value: vector<u8>,
}

public struct NodeInfo has copy, drop, store {
    signing_key: vector<u8>,
    sealing_key: vector<u8>,
    /// The sealing key before the last rotation, so requests sealed to it are still answered.
    previous_sealing_key: vector<u8>,
    /// False for debug nodes registered by the admin; true when registered by attestation.
    attested: bool,
    registered_at_ms: u64,
    /// The measurement the node's attestation matched (none for a debug node). The node is
    /// active only while the policy still accepts it.
    enclave: vector<Pcr>,
    /// The timestamp of the attestation document that registered it, or refreshed it last.
    attested_at_ms: u64,
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

public struct NodeAttested has copy, drop {
    cluster_id: ID,
    node: address,
    sealing_key: vector<u8>,
    pcrs: vector<Pcr>,
    document_timestamp_ms: u64,
}

public struct EnclaveAccepted has copy, drop {
    cluster_id: ID,
    pcrs: vector<Pcr>,
}

public struct AttestationNonceChanged has copy, drop {
    cluster_id: ID,
    required: bool,
}

public struct EnclaveWithdrawn has copy, drop {
    cluster_id: ID,
    pcrs: vector<Pcr>,
}

public struct AuditorsChanged has copy, drop {
    cluster_id: ID,
    auditors: vector<vector<u8>>,
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
    let enclaves = cluster.policy.enclaves;
    let require_nonce = cluster.policy.require_attestation_nonce;
    let auditors = cluster.policy.auditors;
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
    cluster.policy.enclaves = enclaves;
    cluster.policy.require_attestation_nonce = require_nonce;
    cluster.policy.auditors = auditors;
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

/// Replaces the auditors: X25519 public keys (32 bytes each, at most `MAX_AUDITORS`, no
/// duplicates) to which every session opened from now on is also sealed. Empty: no recording.
public fun set_auditors(cap: &ClusterAdminCap, cluster: &mut Cluster, auditors: vector<vector<u8>>) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    assert!(auditors.length() <= MAX_AUDITORS, EInvalidAuditors);
    auditors.length().do!(|i| {
        assert!(auditors[i].length() == KEY_LENGTH, EInvalidAuditors);
        i.do!(|j| assert!(auditors[j] != auditors[i], EInvalidAuditors));
    });
    cluster.policy.auditors = auditors;
    event::emit(AuditorsChanged { cluster_id: object::id(cluster), auditors });
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
                enclave: vector[],
                attested_at_ms: 0,
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

/// Admin: accepts the enclave image of these PCRs (`indices[i]` holds `values[i]`).
public fun add_enclave(cap: &ClusterAdminCap, cluster: &mut Cluster, indices: vector<u8>, values: vector<vector<u8>>) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    let measurement = new_measurement(indices, values);
    assert!(!cluster.policy.enclaves.contains(&measurement), EInvalidMeasurement);
    cluster.policy.enclaves.push_back(measurement);
    event::emit(EnclaveAccepted { cluster_id: object::id(cluster), pcrs: measurement.pcrs });
}

/// Admin: withdraws an enclave image. Nodes attested with it stop being active at once (they
/// stay registered, and become active again if it is accepted again or they re-attest with an
/// accepted image).
public fun remove_enclave(cap: &ClusterAdminCap, cluster: &mut Cluster, indices: vector<u8>, values: vector<vector<u8>>) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    let measurement = new_measurement(indices, values);
    let (found, at) = cluster.policy.enclaves.index_of(&measurement);
    assert!(found, EMeasurementNotFound);
    cluster.policy.enclaves.remove(at);
    event::emit(EnclaveWithdrawn { cluster_id: object::id(cluster), pcrs: measurement.pcrs });
}

/// Admin: whether an attestation document must carry the challenge (a nonce naming this
/// cluster) to register a node. Nodes already registered stay registered.
public fun set_attestation_nonce_required(cap: &ClusterAdminCap, cluster: &mut Cluster, required: bool) {
    cluster.assert_current();
    assert_admin(cap, cluster);
    cluster.policy.require_attestation_nonce = required;
    event::emit(AttestationNonceChanged { cluster_id: object::id(cluster), required });
}

/// Registers (or re-attests) the node whose Ed25519 key an enclave attested, from the document
/// `sui::nitro_attestation::load_nitro_attestation` verified in the same transaction. Anyone may
/// submit it: the node's address derives from the attested key, so only the enclave can answer
/// as that node. The sealing key is the document's `user_data` when that is 32 bytes (bound by
/// the attestation); otherwise the node has none until it publishes one itself
/// (`rotate_sealing_key`, signed by the attested key), and nothing can be sealed to it.
public fun register_attested_node(cluster: &mut Cluster, document: NitroAttestationDocument, clock: &Clock) {
    let pcrs = document.pcrs().map_ref!(|e| Pcr { index: e.index(), value: *e.value() });
    register(
        cluster,
        *document.public_key(),
        *document.timestamp(),
        pcrs,
        *document.user_data(),
        *document.nonce(),
        clock,
    );
}

/// What `register_attested_node` does with a verified document's fields.
fun register(
    cluster: &mut Cluster,
    public_key: Option<vector<u8>>,
    stamp: u64,
    pcrs: vector<Pcr>,
    user_data: Option<vector<u8>>,
    nonce: Option<vector<u8>>,
    clock: &Clock,
) {
    cluster.assert_current();
    assert!(public_key.is_some() && public_key.borrow().length() == KEY_LENGTH, EAttestationKey);
    let signing_key = public_key.destroy_some();
    let now = clock.timestamp_ms();
    assert!(stamp <= now + MAX_CLOCK_SKEW_MS && now <= stamp + MAX_ATTESTATION_AGE_MS, EStaleAttestation);
    assert!(nonce.is_some() || !cluster.policy.require_attestation_nonce, EAttestationNonceMissing);
    assert!(nonce.is_none() || nonce.borrow() == &object::id(cluster).to_bytes(), EAttestationForOtherCluster);
    let accepted = cluster.policy.enclaves.find_index!(|m| matches(m, &pcrs));
    assert!(accepted.is_some(), EUnknownEnclave);
    let enclave = cluster.policy.enclaves[accepted.destroy_some()].pcrs;
    let sealing_key = if (user_data.is_some() && user_data.borrow().length() == KEY_LENGTH) {
        user_data.destroy_some()
    } else {
        vector[]
    };
    let node = ed25519_address(&signing_key);
    let cluster_id = object::id(cluster);
    if (cluster.nodes.contains(&node)) {
        let info = &mut cluster.nodes[&node];
        assert!(info.attested, ENodeAlreadyRegistered);
        info.enclave = enclave;
        info.attested_at_ms = stamp;
        if (!sealing_key.is_empty() && sealing_key != info.sealing_key) {
            info.previous_sealing_key = info.sealing_key;
            info.sealing_key = sealing_key;
        };
    } else {
        cluster
            .nodes
            .insert(
                node,
                NodeInfo {
                    signing_key,
                    sealing_key,
                    previous_sealing_key: vector[],
                    attested: true,
                    registered_at_ms: now,
                    enclave,
                    attested_at_ms: stamp,
                },
            );
        event::emit(NodeRegistered { cluster_id, node, signing_key, sealing_key, attested: true });
    };
    event::emit(NodeAttested { cluster_id, node, sealing_key, pcrs: enclave, document_timestamp_ms: stamp });
}

/// `register_attested_node` on a document's fields as given, for the checks no recorded
/// document can reach (a nonce, a sealing key in `user_data`): the verification of the
/// document itself is the framework's, tested with the recorded ones.
#[test_only]
public fun register_fields_for_testing(
    cluster: &mut Cluster,
    public_key: Option<vector<u8>>,
    stamp: u64,
    indices: vector<u8>,
    values: vector<vector<u8>>,
    user_data: Option<vector<u8>>,
    nonce: Option<vector<u8>>,
    clock: &Clock,
) {
    let mut pcrs = vector[];
    indices.length().do!(|i| pcrs.push_back(Pcr { index: indices[i], value: values[i] }));
    register(cluster, public_key, stamp, pcrs, user_data, nonce, clock);
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

/// A node may answer when registered and either attested with a measurement the policy still
/// accepts, or a debug node while the policy allows them.
public fun is_active_node(cluster: &Cluster, node: address): bool {
    cluster.nodes.contains(&node) && {
        let info = &cluster.nodes[&node];
        if (info.attested) {
            cluster.policy.enclaves.any!(|m| m.pcrs == info.enclave)
        } else {
            cluster.policy.allow_debug_nodes
        }
    }
}

/// Whether the node was registered by attestation, and the timestamp of its last document.
public fun attestation(cluster: &Cluster, node: address): (bool, u64) {
    let info = &cluster.nodes[&node];
    (info.attested, info.attested_at_ms)
}

public fun enclaves(policy: &Policy): vector<Measurement> { policy.enclaves }

public fun require_attestation_nonce(policy: &Policy): bool { policy.require_attestation_nonce }

public fun auditors(policy: &Policy): vector<vector<u8>> { policy.auditors }

public fun measurement_pcrs(measurement: &Measurement): vector<Pcr> { measurement.pcrs }

/// Whether `key` is the node's current or previous sealing key (an attested node without one
/// accepts none, the empty key included).
public fun accepts_sealing_key(cluster: &Cluster, node: address, key: &vector<u8>): bool {
    !key.is_empty() && cluster.nodes.contains(&node) && {
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
        enclaves: vector[],
        require_attestation_nonce: true,
        auditors: vector[],
    }
}

/// A measurement from parallel vectors, in the order given (the order is part of it).
fun new_measurement(indices: vector<u8>, values: vector<vector<u8>>): Measurement {
    assert!(indices.length() == values.length() && indices.length() <= 32, EInvalidMeasurement);
    assert!(indices.contains(&0) && indices.contains(&1) && indices.contains(&2), EInvalidMeasurement);
    let mut pcrs = vector[];
    indices.length().do!(|i| {
        let index = indices[i];
        assert!(index <= 31 && !pcrs.any!(|p: &Pcr| p.index == index), EInvalidMeasurement);
        assert!(values[i].length() == PCR_LENGTH, EInvalidMeasurement);
        pcrs.push_back(Pcr { index, value: values[i] });
    });
    Measurement { pcrs }
}

/// Whether every PCR of `measurement` is among the document's, with the same value.
fun matches(measurement: &Measurement, found: &vector<Pcr>): bool {
    measurement.pcrs.all!(|want| found.any!(|got| got.index == want.index && got.value == want.value))
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
