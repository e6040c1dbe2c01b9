//! Errors of the local control plane.

use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong starting or using the local control plane.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    /// A binary is missing from the binary directory.
    #[error("{path} not found; build the control plane with `kubectl sui control-plane build`")]
    MissingBinary {
        /// The expected binary.
        path: PathBuf,
    },
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// Generating a certificate or key failed.
    #[error("generating the {what}")]
    Certificate {
        /// Which certificate or key.
        what: &'static str,
        /// The rcgen error.
        #[source]
        source: rcgen::Error,
    },
    /// No free loopback port could be reserved.
    #[error("reserving a loopback port")]
    Port(#[source] std::io::Error),
    /// A component could not be started.
    #[error("starting {component} ({binary})")]
    Spawn {
        /// Component name.
        component: &'static str,
        /// Its binary.
        binary: PathBuf,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },
    /// A component exited while it should be running.
    #[error("{component} exited ({status}); last lines of {log}:\n{tail}")]
    Exited {
        /// Component name.
        component: &'static str,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its log file.
        log: PathBuf,
        /// The end of its log.
        tail: String,
    },
    /// A component did not become ready in time.
    #[error("{what} not ready after {waited:?}; last lines of {log}:\n{tail}")]
    NotReady {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// The most relevant log file.
        log: PathBuf,
        /// The end of that log.
        tail: String,
    },
    /// A kubectl command failed.
    #[error("kubectl {args} failed: {stderr}")]
    Kubectl {
        /// The arguments.
        args: String,
        /// What kubectl printed on stderr.
        stderr: String,
    },
}
