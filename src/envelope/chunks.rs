//! Reassembly of a sealed body from chunk events, which may arrive in any order.

use std::collections::BTreeMap;

use super::error::EnvelopeError;
use super::{Sealed, digest};

/// The chunks of one sealed body, collected until complete.
#[derive(Debug, Clone)]
pub struct Reassembly {
    count: u32,
    len: u64,
    digest: [u8; 32],
    chunks: BTreeMap<u32, Vec<u8>>,
    buffered: u64,
}

impl Reassembly {
    /// Expects `count` chunks of `len` bytes in all with `digest`.
    pub fn new(count: u32, len: u64, digest: [u8; 32]) -> Reassembly {
        Reassembly { count, len, digest, chunks: BTreeMap::new(), buffered: 0 }
    }

    /// Adds chunk `index`.
    pub fn add(&mut self, index: u32, data: Vec<u8>) -> Result<(), EnvelopeError> {
        if index >= self.count {
            return Err(EnvelopeError::ChunkOutOfRange { index, count: self.count });
        }
        if self.chunks.contains_key(&index) {
            return Err(EnvelopeError::DuplicateChunk { index });
        }
        self.buffered += data.len() as u64;
        self.chunks.insert(index, data);
        Ok(())
    }

    /// Bytes held so far.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// Chunks held so far.
    pub fn received(&self) -> u32 {
        self.chunks.len() as u32
    }

    /// Whether every chunk has arrived.
    pub fn is_complete(&self) -> bool {
        self.chunks.len() as u32 == self.count
    }

    /// The sealed body, checked against the announced length and digest.
    pub fn finish(self) -> Result<Sealed, EnvelopeError> {
        if !self.is_complete() {
            return Err(EnvelopeError::MissingChunks {
                missing: self.count - self.chunks.len() as u32,
                count: self.count,
            });
        }
        let bytes: Vec<u8> = self.chunks.into_values().flatten().collect();
        if bytes.len() as u64 != self.len {
            return Err(EnvelopeError::LengthMismatch { announced: self.len, actual: bytes.len() as u64 });
        }
        if digest(&bytes) != self.digest {
            return Err(EnvelopeError::DigestMismatch);
        }
        Ok(Sealed(bytes))
    }
}
