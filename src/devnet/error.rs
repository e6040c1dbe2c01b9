//! Errors of the embedded devnet.

/// What can go wrong running the devnet.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// A listener could not be bound.
    #[error("binding {addr}{}", held_by.as_ref().map(|h| format!(": the port is taken by {h}; stop it, or give this devnet another address")).unwrap_or_default())]
    Bind {
        /// The address.
        addr: String,
        /// The process listening there already, when it can be told.
        held_by: Option<String>,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The ledger journal failed.
    #[error("ledger journal")]
    Journal(#[from] crate::journal::JournalError),
    /// The gRPC server failed.
    #[error("serving gRPC")]
    Serve(#[source] tonic::transport::Error),
}
