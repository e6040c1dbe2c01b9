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
    /// A faucet refused, or could not be reached.
    #[error("the faucet at {url} refused: {message}")]
    Faucet {
        /// The faucet's URL.
        url: String,
        /// Why.
        message: String,
    },
    /// A gRPC call failed.
    #[error("{method} failed: {code}: {message}")]
    Rpc {
        /// The RPC method.
        method: &'static str,
        /// What kind of failure.
        code: RpcCode,
        /// The server's (or the transport's) message.
        message: String,
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
    #[error("transaction {digest} failed: {error:?}")]
    Failed {
        /// The execution error, as the chain reported it.
        error: Box<sui_sdk_types::ExecutionError>,
        /// The transaction.
        digest: Digest,
    },
}

/// The kinds of RPC failure callers tell apart; the rest are [`RpcCode::Other`] with the gRPC
/// code's name. (`tonic` types stay inside `chain`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RpcCode {
    /// The object or checkpoint asked for is not there.
    NotFound,
    /// An input is not usable as it is (e.g. an object deleted since it was read).
    FailedPrecondition,
    /// The endpoint could not be reached.
    Unavailable,
    /// No answer in time.
    DeadlineExceeded,
    /// The transport failed without saying how.
    Unknown,
    /// The request is malformed or over a limit.
    InvalidArgument,
    /// The endpoint does not serve this call.
    Unimplemented,
    /// Any other gRPC code.
    Other(String),
}

impl RpcCode {
    fn of(code: tonic::Code) -> RpcCode {
        match code {
            tonic::Code::NotFound => RpcCode::NotFound,
            tonic::Code::FailedPrecondition => RpcCode::FailedPrecondition,
            tonic::Code::Unavailable => RpcCode::Unavailable,
            tonic::Code::DeadlineExceeded => RpcCode::DeadlineExceeded,
            tonic::Code::Unknown => RpcCode::Unknown,
            tonic::Code::InvalidArgument => RpcCode::InvalidArgument,
            tonic::Code::Unimplemented => RpcCode::Unimplemented,
            other => RpcCode::Other(other.description().to_string()),
        }
    }
}

impl std::fmt::Display for RpcCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            RpcCode::NotFound => "not found",
            RpcCode::FailedPrecondition => "failed precondition",
            RpcCode::Unavailable => "unavailable",
            RpcCode::DeadlineExceeded => "deadline exceeded",
            RpcCode::Unknown => "unknown error",
            RpcCode::InvalidArgument => "invalid argument",
            RpcCode::Unimplemented => "not implemented",
            RpcCode::Other(name) => name,
        };
        f.write_str(name)
    }
}

impl ChainError {
    /// A failed RPC.
    pub(crate) fn rpc(method: &'static str, status: tonic::Status) -> ChainError {
        ChainError::Rpc { method, code: RpcCode::of(status.code()), message: status.message().to_string() }
    }

    /// The code of a failed RPC.
    pub fn code(&self) -> Option<&RpcCode> {
        match self {
            ChainError::Rpc { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The object asked for is not on chain (deleted, or never was): what callers outside
    /// `chain` ask, without knowing the RPC's codes.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(&RpcCode::NotFound)
    }

    /// The object is not usable as an input (deleted between its read and the transaction).
    pub fn is_gone(&self) -> bool {
        matches!(self.code(), Some(RpcCode::NotFound | RpcCode::FailedPrecondition))
    }

    /// The transaction failed because its gas coin could not pay for it (the coin ran low,
    /// whatever else the owner holds).
    pub fn is_insufficient_gas(&self) -> bool {
        use sui_sdk_types::ExecutionError as E;
        matches!(self, ChainError::Failed { error, .. } if matches!(**error, E::InsufficientGas | E::InsufficientCoinBalance))
    }

    /// The chain could not be reached, or did not answer in time.
    pub fn is_unreachable(&self) -> bool {
        matches!(self.code(), Some(RpcCode::Unavailable | RpcCode::DeadlineExceeded | RpcCode::Unknown))
    }
}
