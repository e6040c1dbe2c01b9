//! Errors of the node.

/// What stops the node, or one request.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// A key file is unusable.
    #[error("key file {file} is unusable: {message}")]
    Key {
        /// The file.
        file: &'static str,
        /// Why.
        message: String,
    },
    /// The configuration is incomplete or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// The chain failed.
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
    /// The execution journal failed.
    #[error("execution journal")]
    Journal(#[from] crate::journal::JournalError),
    /// The Kubernetes client could not be set up.
    #[error("Kubernetes client: {0}")]
    Kube(String),
    /// The node is not registered on the cluster.
    #[error(
        "node {address} is not registered on cluster {cluster} with this data directory's keys; the cluster admin registers it with its admin capability: kubectl_sui::cluster::register_debug_node(cap, {cluster}, {address}, signing key 0x{signing_key}, sealing key 0x{sealing_key}, 0x6)"
    )]
    NotRegistered {
        /// The node's address.
        address: String,
        /// The cluster.
        cluster: String,
        /// Hex of the Ed25519 public key.
        signing_key: String,
        /// Hex of the X25519 public key.
        sealing_key: String,
    },
    /// The metrics listener could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
