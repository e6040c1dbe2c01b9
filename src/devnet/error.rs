//! Errors of the embedded devnet.

use std::path::PathBuf;

/// What can go wrong running the devnet.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A file of the data directory could not be used.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A listener could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: String,
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
