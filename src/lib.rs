//! kubectl-sui: Kubernetes access governed by a Sui Move contract.
//!
//! The library behind two thin binaries: `kubectl-sui` (the kubectl plugin: login,
//! credentials, the local proxy, audit) and `nautilus` (the node that executes requests it
//! reads from the chain). Modules are split by concern; see `docs/layout.md`.

pub mod audit;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod config;
pub mod contract;
pub mod controlplane;
pub mod credential;
pub mod devnet;
pub mod envelope;
pub mod fs;
pub mod journal;
pub mod node;
pub mod process;
pub mod proxy;
pub mod session;
#[cfg(test)]
mod testkit;
