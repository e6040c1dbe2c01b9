//! BCS layouts of the contract's objects, as clients read them from `GetObject`.
//!
//! Field order is the Move declaration order; [`super::mirror`] checks it against the sources.

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

/// A Move type of the package: its module and struct name.
pub trait MoveType {
    /// The Move module declaring it.
    const MODULE: &'static str;
    /// The struct name.
    const NAME: &'static str;

    /// Its struct tag under `package`.
    fn struct_tag(package: Address) -> sui_sdk_types::StructTag {
        sui_sdk_types::StructTag::new(
            package,
            sui_sdk_types::Identifier::from_static(Self::MODULE),
            sui_sdk_types::Identifier::from_static(Self::NAME),
            vec![],
        )
    }
}

macro_rules! move_type {
    ($module:literal, $($ty:ident),+) => {
        $(impl MoveType for $ty {
            const MODULE: &'static str = $module;
            const NAME: &'static str = stringify!($ty);
        })+
    };
}
pub(crate) use move_type;

/// `sui::balance::Balance<T>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// Amount in the coin's smallest unit (MIST for SUI).
    pub value: u64,
}

/// One entry of a `sui::vec_map::VecMap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
}

/// `sui::vec_map::VecMap<K, V>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VecMap<K, V> {
    /// Entries in insertion order.
    pub contents: Vec<Entry<K, V>>,
}

/// `access::Rule`: verbs × API groups × resources × namespaces, or verbs × non-resource URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// Bit `1 << verb code` per allowed verb.
    pub verbs: u16,
    /// API groups (`""` = core, `"*"` = any).
    pub groups: Vec<String>,
    /// Resources (`"*"` = any).
    pub resources: Vec<String>,
    /// Namespaces (`"*"` = any namespace but a protected one, `""` = cluster scope).
    pub namespaces: Vec<String>,
    /// Non-resource URLs (exact, or a prefix ending in `*`); empty for resource rules.
    pub non_resource_urls: Vec<String>,
}

/// `cluster::Policy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Stake (MIST) needed for writes.
    pub min_write_stake: u64,
    /// Token validity after issue or renewal.
    pub token_lifetime_ms: u64,
    /// Lock period of a stake.
    pub unstake_lock_ms: u64,
    /// Whether unattested nodes may answer.
    pub allow_debug_nodes: bool,
    /// Highest role a staker obtains without the admin.
    pub self_service_role: u8,
    /// Whether the admin may slash.
    pub slashing_enabled: bool,
    /// Namespaces reached only by rules naming them.
    pub protected_namespaces: Vec<String>,
    /// Enclave images whose nodes may register by attestation.
    pub enclaves: Vec<Measurement>,
    /// Whether an attestation document must carry the challenge (the cluster's id) in its
    /// nonce. True for a new cluster.
    pub require_attestation_nonce: bool,
    /// X25519 keys of the cluster's auditors: every session's key is also sealed to them.
    pub auditors: Vec<Vec<u8>>,
}

/// `cluster::Measurement`: the PCRs of one accepted enclave image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measurement {
    /// Its PCRs, in the order the admin gave them.
    pub pcrs: Vec<Pcr>,
}

/// `cluster::Pcr`: one platform configuration register value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pcr {
    /// Its index (0..=31).
    pub index: u8,
    /// Its value (SHA-384, 48 bytes).
    pub value: Vec<u8>,
}

/// `cluster::NodeInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Ed25519 public key.
    pub signing_key: Vec<u8>,
    /// X25519 public key request bodies are sealed to.
    pub sealing_key: Vec<u8>,
    /// The sealing key before the last rotation (empty if none).
    pub previous_sealing_key: Vec<u8>,
    /// Whether the node is attested.
    pub attested: bool,
    /// Registration time.
    pub registered_at_ms: u64,
    /// The measurement its attestation matched (empty for a debug node).
    pub enclave: Vec<Pcr>,
    /// The timestamp of its last attestation document (0 for a debug node).
    pub attested_at_ms: u64,
}

/// `cluster::Cluster` (shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Object id.
    pub id: Address,
    /// Human name.
    pub name: String,
    /// Its policy.
    pub policy: Policy,
    /// Registered nodes by address.
    pub nodes: VecMap<Address, NodeInfo>,
    /// The package version that may use it (`cluster::VERSION`, [`crate::contract::CONTRACT_VERSION`]).
    pub version: u64,
}

impl Cluster {
    /// The registered node `address`, if any.
    pub fn node(&self, address: &Address) -> Option<&NodeInfo> {
        self.nodes.contents.iter().find(|e| &e.key == address).map(|e| &e.value)
    }

    /// Whether `address` may answer (`cluster::is_active_node`): registered, and attested with a
    /// measurement the policy still accepts, or a debug node while the policy allows them.
    pub fn is_active_node(&self, address: &Address) -> bool {
        self.node(address).is_some_and(|info| match info.attested {
            true => self.policy.enclaves.iter().any(|m| m.pcrs == info.enclave),
            false => self.policy.allow_debug_nodes,
        })
    }
}

/// `cluster::ClusterAdminCap` (owned by the admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterAdminCap {
    /// Object id.
    pub id: Address,
    /// The cluster it administers.
    pub cluster_id: Address,
}

/// `seal_token::SealToken` (shared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealToken {
    /// Object id.
    pub id: Address,
    /// The cluster it is valid for.
    pub cluster_id: Address,
    /// The only address that may use it.
    pub owner: Address,
    /// The stake.
    pub stake: Balance,
    /// Role code.
    pub role: u8,
    /// Its permission rules.
    pub rules: Vec<Rule>,
    /// When the stake may be withdrawn: the lock from its last change.
    pub unlocks_at_ms: u64,
    /// Expiry.
    pub expires_at_ms: u64,
    /// Whether the admin revoked it.
    pub revoked: bool,
}

/// `request::Request` (shared, deleted once answered).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Object id, which is the request id.
    pub id: Address,
    /// Cluster.
    pub cluster_id: Address,
    /// Who sent it.
    pub requester: Address,
    /// The node addressed.
    pub node: Address,
    /// Announced body chunks.
    pub chunk_count: u32,
    /// Body chunks received.
    pub chunks_received: u32,
    /// Whether a response is recorded.
    pub answered: bool,
    /// Announced response chunks.
    pub response_chunk_count: u32,
    /// Response chunks sent.
    pub response_chunks_sent: u32,
    /// Whether the node started running it (a write): no cancel from then on.
    pub started: bool,
    /// Whether the node answered with a stream.
    pub streaming: bool,
    /// Stream frames sent so far.
    pub frames_sent: u32,
}

move_type!("access", Rule);
move_type!("cluster", Policy, Measurement, Pcr, NodeInfo, Cluster, ClusterAdminCap);
move_type!("seal_token", SealToken);
move_type!("request", Request);
