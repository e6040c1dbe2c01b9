//! Errors of the contract mirror.

use std::path::PathBuf;

/// What can go wrong building a call or reading the Move sources.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// A builder passed a different number of arguments than the Move function takes.
    #[error("{module}::{function} takes {expected} arguments, {given} were given")]
    Arity {
        /// Move module.
        module: &'static str,
        /// Move function.
        function: &'static str,
        /// Parameters of the Move function, without the `TxContext`.
        expected: usize,
        /// Arguments the builder passed.
        given: usize,
    },
    /// An argument's kind (object or pure) does not fit the Move parameter type.
    #[error("argument {index} of {module}::{function} must be {expected} for `{param}`")]
    ArgumentKind {
        /// Move module.
        module: &'static str,
        /// Move function.
        function: &'static str,
        /// Position of the argument.
        index: usize,
        /// The Move parameter type.
        param: &'static str,
        /// What the parameter needs.
        expected: &'static str,
    },
    /// A pure argument could not be BCS-encoded.
    #[error("encoding argument of {module}::{function}")]
    Encode {
        /// Move module.
        module: &'static str,
        /// Move function.
        function: &'static str,
        /// The BCS error.
        #[source]
        source: bcs::Error,
    },
    /// A body chunk is larger than Sui's pure-argument limit.
    #[error("body chunk of {len} bytes exceeds Sui's {limit}-byte pure argument limit")]
    ChunkTooLarge {
        /// Chunk length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A Move source file could not be read.
    #[error("reading Move source {path}")]
    ReadSource {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Tracing a Rust type's BCS layout failed.
    #[error("tracing the BCS layout of {type_name}: {message}")]
    Trace {
        /// The Rust type.
        type_name: &'static str,
        /// What serde-reflection reported.
        message: String,
    },
}
