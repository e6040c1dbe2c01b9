//! The user's use cases: [`login`], [`credential`] and [`logout`], each with its inputs and its
//! outcome as types (in the manner of kubelogin's `usecases`).
//!
//! This module owns what those commands decide and write: which key and token serve a login,
//! when a token is reused, renewed or staked anew, the kubeconfig entry, the settings record,
//! the cached credential and starting or stopping the proxy. It must not parse flags, prompt,
//! or print: `cli::session` maps flags to these inputs and outcomes to text, and asks the user
//! between [`login::plan`] and [`login::complete`] (the faucet, the stake confirmation).

pub mod credential;
pub mod login;
pub mod logout;

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A failure explained in one line that names the next step.
    #[error("{0}")]
    Refused(String),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] crate::chain::ChainError),
    /// Configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// A key could not be stored or read.
    #[error(transparent)]
    Key(#[from] crate::credential::KeyError),
    /// The kubeconfig could not be used.
    #[error(transparent)]
    Kubeconfig(#[from] crate::credential::KubeconfigError),
    /// The proxy failed.
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyError),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// A contract call could not be built.
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
}

pub use crate::clock::now_ms;
