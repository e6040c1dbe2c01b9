//! BCS layouts of the contract's events, as clients read them from checkpoints.
//!
//! Field order is the Move declaration order; [`super::mirror`] checks it against the sources.

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::objects::{MoveType, move_type};

/// `cluster::ClusterMigrated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMigrated {
    /// Cluster object id.
    pub cluster_id: Address,
    /// Its version before.
    pub from: u64,
    /// Its version now.
    pub to: u64,
}

/// `cluster::ClusterCreated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterCreated {
    /// The new cluster.
    pub cluster_id: Address,
    /// Its name.
    pub name: String,
    /// Who received the admin capability.
    pub admin: Address,
}

/// `cluster::PolicyChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChanged {
    /// The cluster.
    pub cluster_id: Address,
    /// See [`super::objects::Policy`].
    pub min_write_stake: u64,
    /// See [`super::objects::Policy`].
    pub token_lifetime_ms: u64,
    /// See [`super::objects::Policy`].
    pub unstake_lock_ms: u64,
    /// See [`super::objects::Policy`].
    pub allow_debug_nodes: bool,
    /// See [`super::objects::Policy`].
    pub self_service_role: u8,
    /// See [`super::objects::Policy`].
    pub slashing_enabled: bool,
}

/// `cluster::NodeRegistered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRegistered {
    /// The cluster.
    pub cluster_id: Address,
    /// The node's address.
    pub node: Address,
    /// Ed25519 public key.
    pub signing_key: Vec<u8>,
    /// X25519 public key.
    pub sealing_key: Vec<u8>,
    /// Whether attested.
    pub attested: bool,
}

/// `cluster::NodeAttested`: a node registered, or refreshed, by an attestation document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAttested {
    /// The cluster.
    pub cluster_id: Address,
    /// The node's address (of its attested Ed25519 key).
    pub node: Address,
    /// Its sealing key from the document's `user_data` (empty when none).
    pub sealing_key: Vec<u8>,
    /// The measurement it matched.
    pub pcrs: Vec<super::objects::Pcr>,
    /// The document's timestamp.
    pub document_timestamp_ms: u64,
}

/// `cluster::EnclaveAccepted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnclaveAccepted {
    /// The cluster.
    pub cluster_id: Address,
    /// The measurement now accepted.
    pub pcrs: Vec<super::objects::Pcr>,
}

/// `cluster::AttestationNonceChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationNonceChanged {
    /// The cluster.
    pub cluster_id: Address,
    /// Whether a document must now carry the challenge.
    pub required: bool,
}

/// `cluster::EnclaveWithdrawn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnclaveWithdrawn {
    /// The cluster.
    pub cluster_id: Address,
    /// The measurement no longer accepted.
    pub pcrs: Vec<super::objects::Pcr>,
}

/// `cluster::NodeRemoved`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRemoved {
    /// The cluster.
    pub cluster_id: Address,
    /// The node's address.
    pub node: Address,
}

/// `cluster::ProtectedNamespacesChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedNamespacesChanged {
    /// The cluster.
    pub cluster_id: Address,
    /// The namespaces now protected.
    pub namespaces: Vec<String>,
}

/// `cluster::AuditorsChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditorsChanged {
    /// The cluster.
    pub cluster_id: Address,
    /// The auditors' X25519 keys now.
    pub auditors: Vec<Vec<u8>>,
}

/// `cluster::SealingKeyRotated`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealingKeyRotated {
    /// The cluster.
    pub cluster_id: Address,
    /// The node's address.
    pub node: Address,
    /// The new X25519 public key.
    pub sealing_key: Vec<u8>,
}

/// `seal_token::TokenIssued`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenIssued {
    /// The new token.
    pub token_id: Address,
    /// Its cluster.
    pub cluster_id: Address,
    /// Its owner.
    pub owner: Address,
    /// Stake (MIST).
    pub stake: u64,
    /// Role code.
    pub role: u8,
    /// Expiry.
    pub expires_at_ms: u64,
}

/// `seal_token::TokenRenewed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRenewed {
    /// The token.
    pub token_id: Address,
    /// New expiry.
    pub expires_at_ms: u64,
}

/// `seal_token::StakeAdded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StakeAdded {
    /// The token.
    pub token_id: Address,
    /// Stake after the addition.
    pub stake: u64,
}

/// `seal_token::TokenPermissionsChanged`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPermissionsChanged {
    /// The token.
    pub token_id: Address,
    /// New role code.
    pub role: u8,
}

/// `seal_token::TokenRevoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRevoked {
    /// The token.
    pub token_id: Address,
    /// Its cluster.
    pub cluster_id: Address,
}

/// `seal_token::TokenSlashed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSlashed {
    /// The token.
    pub token_id: Address,
    /// Amount taken.
    pub amount: u64,
}

/// `seal_token::TokenUnstaked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUnstaked {
    /// The deleted token.
    pub token_id: Address,
    /// Who got the stake back.
    pub owner: Address,
    /// Amount returned.
    pub amount: u64,
}

/// `request::RequestSubmitted`: the public audit record of one kubectl call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestSubmitted {
    /// Request id (the `Request` object id).
    pub request_id: Address,
    /// Cluster.
    pub cluster_id: Address,
    /// Token used.
    pub token_id: Address,
    /// Who sent it.
    pub requester: Address,
    /// Node addressed.
    pub node: Address,
    /// Verb code.
    pub verb: u8,
    /// API group.
    pub group: String,
    /// Resource (with subresource, e.g. `pods/log`).
    pub resource: String,
    /// Namespace (`""` for cluster scope).
    pub namespace: String,
    /// Object name (`""` for collections).
    pub name: String,
    /// Length of the sealed body.
    pub body_len: u64,
    /// Digest of the sealed body.
    pub body_digest: Vec<u8>,
    /// Body chunks announced.
    pub chunk_count: u32,
    /// Node X25519 key the body is sealed to.
    pub sealing_key: Vec<u8>,
    /// Requester X25519 key the response is to be sealed to.
    pub reply_key: Vec<u8>,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// `request::RequestChunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestChunk {
    /// Request id.
    pub request_id: Address,
    /// Position, from 0.
    pub index: u32,
    /// Sealed bytes.
    pub data: Vec<u8>,
}

/// `request::ResponseStored`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseStored {
    /// Request id.
    pub request_id: Address,
    /// Cluster.
    pub cluster_id: Address,
    /// Node that answered.
    pub node: Address,
    /// HTTP status of the Kubernetes API's answer.
    pub status: u16,
    /// Length of the sealed body.
    pub body_len: u64,
    /// Digest of the sealed body.
    pub body_digest: Vec<u8>,
    /// Response chunks announced.
    pub chunk_count: u32,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// `request::ResponseChunk`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseChunk {
    /// Request id.
    pub request_id: Address,
    /// Position, from 0.
    pub index: u32,
    /// Sealed bytes.
    pub data: Vec<u8>,
}

/// `request::RequestStarted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestStarted {
    /// Request id.
    pub request_id: Address,
    /// The node running it.
    pub node: Address,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// `request::StreamOpened`: a node answered with a stream (a watch, a followed log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOpened {
    /// Request id.
    pub request_id: Address,
    /// Cluster.
    pub cluster_id: Address,
    /// Node streaming.
    pub node: Address,
    /// HTTP status of the Kubernetes API's answer.
    pub status: u16,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// `request::StreamFrame`: one sealed frame of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamFrame {
    /// Request id.
    pub request_id: Address,
    /// Position, from 0.
    pub index: u32,
    /// Sealed bytes.
    pub data: Vec<u8>,
}

/// `request::StreamEnded`: a stream's end, final on chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnded {
    /// Request id.
    pub request_id: Address,
    /// Cluster.
    pub cluster_id: Address,
    /// Who ended it: the node, or the requester hanging up.
    pub ended_by: Address,
    /// Why ([`super::EndReason`] code).
    pub reason: u8,
    /// Frames it carried.
    pub frames: u32,
    /// Chain time.
    pub timestamp_ms: u64,
}

/// `request::SessionInput`: one sealed input frame of a session, from its requester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInput {
    /// Request id.
    pub request_id: Address,
    /// Position, from 0.
    pub index: u32,
    /// Sealed bytes.
    pub data: Vec<u8>,
}

/// `request::RequestCancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCancelled {
    /// Request id.
    pub request_id: Address,
    /// Who cancelled it.
    pub requester: Address,
    /// Chain time.
    pub timestamp_ms: u64,
}

move_type!(
    "cluster",
    ClusterMigrated,
    ClusterCreated,
    PolicyChanged,
    ProtectedNamespacesChanged,
    NodeRegistered,
    NodeAttested,
    EnclaveAccepted,
    EnclaveWithdrawn,
    AttestationNonceChanged,
    AuditorsChanged,
    NodeRemoved,
    SealingKeyRotated
);
move_type!(
    "seal_token",
    TokenIssued,
    TokenRenewed,
    StakeAdded,
    TokenPermissionsChanged,
    TokenRevoked,
    TokenSlashed,
    TokenUnstaked
);
move_type!(
    "request",
    RequestSubmitted,
    RequestChunk,
    ResponseStored,
    ResponseChunk,
    RequestStarted,
    StreamOpened,
    StreamFrame,
    StreamEnded,
    SessionInput,
    RequestCancelled
);

/// The event as the package's `T`, when its type is `T` (module and name, as a parsed
/// `StructTag`) and its contents decode; `None` for any other event. Callers get events
/// already filtered to the package (`chain::follow`).
pub fn decode<T: MoveType + serde::de::DeserializeOwned>(event: &sui_sdk_types::Event) -> Option<T> {
    let is_t = event.type_.module().as_str() == T::MODULE && event.type_.name().as_str() == T::NAME;
    is_t.then(|| bcs::from_bytes(&event.contents).ok()).flatten()
}

/// `value` as the chain carries it: an event of `package`'s module, sent by `sender`. For tests
/// of the code that decodes events.
#[cfg(test)]
pub(crate) fn encode<T: MoveType + Serialize>(package: Address, sender: Address, value: &T) -> sui_sdk_types::Event {
    sui_sdk_types::Event {
        package_id: package,
        module: sui_sdk_types::Identifier::from_static(T::MODULE),
        sender,
        type_: T::struct_tag(package),
        contents: bcs::to_bytes(value).expect("events encode"),
    }
}
