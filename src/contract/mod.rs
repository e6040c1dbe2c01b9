//! The Rust mirror of the Move package in `move/`: names, BCS layouts, call signatures and
//! abort codes.
//!
//! This module owns everything the Rust side must agree on with the contract: the object
//! and event types clients decode ([`objects`], [`events`]), the transaction builders for
//! every public call ([`calls`]), and the abort table that turns an abort into a sentence a
//! kubectl user understands ([`aborts`]). [`mirror`] reads the Move sources and reports any
//! drift, so the two cannot diverge unnoticed. It performs no I/O beyond that check and
//! knows nothing of gRPC, keys or Kubernetes clients.

pub mod aborts;
pub mod access;
pub mod calls;
pub mod error;
pub mod events;
pub mod mirror;
pub mod objects;
pub mod publish;
mod types;

pub use aborts::{ABORT_CODES, Abort, AbortCode, lookup_abort};
pub use calls::{CallArg, Contract, MoveFunction, ObjectArg};
pub use error::ContractError;

/// The package id the embedded devnet runs the contract under: a constant, so clients of any
/// devnet know it without asking (and `config` knows it without the devnet).
pub fn devnet_package_id() -> sui_sdk_types::Address {
    sui_sdk_types::Address::new(
        sui_sdk_types::hash::Hasher::digest(b"kubectl-sui devnet package kubectl_sui").into_inner(),
    )
}
pub use types::{EndReason, Role, Verb};

/// The Move modules of the package, in dependency order.
pub const MODULES: [&str; 4] = ["access", "cluster", "seal_token", "request"];

/// The Move package name, as in `move/Move.toml`.
pub const PACKAGE_NAME: &str = "kubectl_sui";

/// The contract version this build speaks (`cluster::VERSION` in `move/`; the mirror check
/// keeps them equal). A cluster object at another version refuses this package's calls.
pub const CONTRACT_VERSION: u64 = 1;

/// Most auditor keys a cluster's policy names (`cluster::MAX_AUDITORS`; the mirror check keeps
/// them equal).
pub const MAX_AUDITORS: usize = 8;

/// The Move constants Rust shares, as (module, name, value), checked by [`mirror::check`].
pub const MIRRORED_CONSTANTS: &[(&str, &str, u64)] = &[("cluster", "MAX_AUDITORS", MAX_AUDITORS as u64)];
