//! Errors of the chain client.

use sui_sdk_types::Digest;

use crate::contract::AbortCode;

/// What can go wrong talking to the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The endpoint URL is unusable.
    #[error("cannot use chain endpoint {url}: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A gRPC call failed.
    #[error("{method} failed: {}: {}", status.code(), status.message())]
    Rpc {
        /// The RPC method.
        method: &'static str,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// A response lacked a field the client asked for.
    #[error("the chain's response has no {what}")]
    Missing {
        /// What was missing.
        what: &'static str,
    },
    /// A response could not be decoded.
    #[error("decoding {what}: {message}")]
    Decode {
        /// What.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// The transaction could not be built.
    #[error("building the transaction: {0}")]
    Build(String),
    /// The transaction could not be signed.
    #[error("signing the transaction: {0}")]
    Sign(String),
    /// The contract aborted.
    #[error("transaction {digest} aborted in {module} with code {code}{}", abort.map(|a| format!(" ({}): {}", a.name, a.meaning)).unwrap_or_default())]
    Abort {
        /// The module that aborted.
        module: String,
        /// The abort code.
        code: u64,
        /// The abort's entry in the table, when the contract defines it.
        abort: Option<&'static AbortCode>,
        /// The transaction.
        digest: Digest,
    },
    /// The signer owns no coin to pay gas with.
    #[error("{owner} owns no SUI to pay gas; fund it (on the devnet: `kubectl sui login` uses the faucet)")]
    NoGas {
        /// The address.
        owner: sui_sdk_types::Address,
    },
    /// Every gas coin stayed in use for as long as a transaction waits.
    #[error("all gas coins of {owner} stayed in use for {waited:?}; too many transactions at once, retry")]
    GasBusy {
        /// The address.
        owner: sui_sdk_types::Address,
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// `0x2::nitro_attestation::load_nitro_attestation` refused a document: 1 it does not
    /// parse, 2 its signature or certificate chain does not verify at the chain's time.
    #[error("transaction {digest}: the chain refused the attestation document: {}", match code { 1 => "it does not parse as a Nitro attestation document", 2 => "its signature or certificate chain does not verify at the chain's time (expired, tampered, or not from AWS Nitro)", _ => "attestation is not supported on this network" })]
    Attestation {
        /// The framework's abort code.
        code: u64,
        /// The transaction.
        digest: Digest,
    },
    /// The transaction executed but no checkpoint carried it in time.
    #[error(
        "the transaction executed but no checkpoint included it within {waited:?}; check the network's health, then run the command again"
    )]
    Unsettled {
        /// How long it waited.
        waited: std::time::Duration,
    },
    /// The transaction failed otherwise.
    #[error("transaction {digest} failed: {error}")]
    Failed {
        /// The execution error.
        error: String,
        /// The transaction.
        digest: Digest,
    },
}

impl ChainError {
    /// A failed RPC.
    pub fn rpc(method: &'static str, status: tonic::Status) -> ChainError {
        ChainError::Rpc { method, status: Box::new(status) }
    }

    /// The gRPC code of a failed RPC.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ChainError::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }

    /// The object asked for is not on chain (deleted, or never was): what callers outside
    /// `chain` ask, without knowing the RPC's codes.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(tonic::Code::NotFound)
    }

    /// The object is not usable as an input (deleted between its read and the transaction).
    pub fn is_gone(&self) -> bool {
        matches!(self.code(), Some(tonic::Code::NotFound | tonic::Code::FailedPrecondition))
    }

    /// The chain could not be reached, or did not answer in time.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.code(), Some(tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown))
    }
}
