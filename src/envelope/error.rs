//! Errors of the envelope.

/// Why an envelope could not be sealed, opened or reassembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A key is not a valid X25519 key.
    #[error("invalid X25519 key")]
    InvalidKey,
    /// The message could not be encoded or compressed.
    #[error("encoding the envelope: {0}")]
    Encode(String),
    /// Sealing failed.
    #[error("sealing the envelope failed")]
    Seal,
    /// The sealed bytes are shorter than a header.
    #[error("sealed envelope is truncated")]
    Truncated,
    /// The version byte is one this build does not know.
    #[error("sealed envelope has version {0}; this build reads versions 1 to 3 (upgrade kubectl-sui or the node)")]
    UnsupportedVersion(u8),
    /// Authentication failed: the ciphertext was altered, sealed to another key, or belongs
    /// to another request or cluster.
    #[error("sealed envelope does not open: altered, sealed to another key, or replayed from another request")]
    Open,
    /// The compressed payload is corrupt.
    #[error("decompressing the envelope: {0}")]
    Decompress(String),
    /// The message is larger than allowed.
    #[error("envelope exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The message could not be decoded.
    #[error("decoding the envelope: {0}")]
    Decode(String),
    /// A chunk index was seen twice.
    #[error("chunk {index} received twice")]
    DuplicateChunk {
        /// The index.
        index: u32,
    },
    /// A chunk index beyond the announced count.
    #[error("chunk {index} is beyond the announced {count} chunks")]
    ChunkOutOfRange {
        /// The index.
        index: u32,
        /// The announced count.
        count: u32,
    },
    /// Chunks are missing.
    #[error("{missing} of {count} chunks are missing")]
    MissingChunks {
        /// How many are missing.
        missing: u32,
        /// The announced count.
        count: u32,
    },
    /// The reassembled bytes do not have the announced length.
    #[error("reassembled {actual} bytes, {announced} were announced")]
    LengthMismatch {
        /// Announced length.
        announced: u64,
        /// Actual length.
        actual: u64,
    },
    /// The reassembled bytes do not have the announced digest (reordered or altered chunks).
    #[error("reassembled body does not match its announced digest (chunks altered or reordered)")]
    DigestMismatch,
}
