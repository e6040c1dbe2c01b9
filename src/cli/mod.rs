//! Command-line front ends of both binaries: argument definitions and dispatch.
//!
//! This module owns parsing (clap) and turning a parsed command into calls on the library.
//! It must not hold domain logic: each command delegates to the module that owns the
//! concern. [`plugin`] is `kubectl-sui`, [`node`] is `nautilus`.

mod admin;
mod audit;
mod chain_ops;
mod contract;
pub mod devnet;
pub mod node;
pub mod plugin;
mod proxy;
mod session;
mod up;

use std::io::Write;

/// Errors the command layer reports to the user.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A local operation failed (files, the terminal, a child process).
    #[error("{0}")]
    Io(&'static str, #[source] std::io::Error),
    /// Writing to standard output failed.
    #[error("writing output")]
    Output(#[source] std::io::Error),
    /// Encoding output as JSON failed.
    #[error("encoding output as JSON")]
    Json(#[source] serde_json::Error),
    /// A contract mirror operation failed.
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    /// The devnet failed.
    #[error(transparent)]
    Devnet(#[from] crate::devnet::DevnetError),
    /// The async runtime or a signal handler could not be set up.
    #[error("starting the runtime")]
    Runtime(#[source] std::io::Error),
    /// The node failed.
    #[error(transparent)]
    Node(#[from] crate::node::NodeError),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// A configuration file is invalid.
    #[error("configuration {path}: {message}")]
    InvalidConfig {
        /// The file (or "flags").
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No home directory to put default paths under.
    #[error("no home directory found; pass the path explicitly (e.g. --data-dir)")]
    NoHomeDirectory,
    /// A failure explained in one line that names the next step.
    #[error("{0}")]
    Message(String),
    /// Configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A key could not be stored or read.
    #[error(transparent)]
    Key(#[from] crate::credential::KeyError),
    /// The kubeconfig could not be used.
    #[error(transparent)]
    Kubeconfig(#[from] crate::credential::KubeconfigError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
    /// The proxy failed.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// A login, credential or logout failed.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// Compiling or publishing the Move package failed.
    #[error(transparent)]
    Publish(#[from] crate::contract::publish::PublishError),
    /// Building the local control plane failed.
    #[error(transparent)]
    Build(#[from] crate::controlplane::build::BuildError),
    /// The Move sources differ from the Rust mirror.
    #[error("the Move sources in {path} differ from this build's contract mirror in {count} place(s)")]
    MirrorDrift {
        /// The sources checked.
        path: String,
        /// Number of differences.
        count: usize,
    },
}

/// Output formats shared by commands that print data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// JSON for scripts.
    Json,
    /// YAML for scripts.
    Yaml,
}

/// A stop signal that turns true on SIGINT or SIGTERM, for services run in the foreground.
fn stop_on_signal() -> Result<tokio::sync::watch::Receiver<bool>, CliError> {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(CliError::Runtime)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = stop_tx.send(true);
    });
    Ok(stop)
}

/// Writes command output to stdout. A reader that went away (`| head`) is not an error: the
/// process ends quietly with status 0, as `ls | head` does.
fn write_out(bytes: &[u8]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other.map_err(CliError::Output),
    }
}
