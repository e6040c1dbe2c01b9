//! Frames of a streamed response: what the node seals as the API server writes, and the order
//! the proxy releases them in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::{Binding, EnvelopeError, PublicKey, Sealed, SecretKey};

/// Most bytes of stream data one frame carries: sealed (zstd adds a few bytes to what it
/// cannot compress, HPKE 49), it stays within one pure argument (16 KiB).
pub const FRAME_DATA_MAX: usize = 15 * 1024;

/// What one frame carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// The first frame: the API server's response headers (lowercase names).
    Head {
        /// The headers kubectl needs.
        headers: Vec<(String, String)>,
    },
    /// Bytes of the body, as the API server wrote them.
    Data(Vec<u8>),
}

impl Frame {
    /// Seals the frame to `reply`, bound to frame `index` of `request` in `cluster`.
    pub fn seal(
        &self,
        reply: &PublicKey,
        cluster: Address,
        request: Address,
        index: u32,
    ) -> Result<Vec<u8>, EnvelopeError> {
        Ok(Sealed::seal(self, reply, &Binding::Frame { cluster, request, index })?.0)
    }

    /// Opens frame `index` of `request` with the reply key.
    pub fn open(
        data: &[u8],
        key: &SecretKey,
        cluster: Address,
        request: Address,
        index: u32,
    ) -> Result<Frame, EnvelopeError> {
        Sealed(data.to_vec()).open(key, &Binding::Frame { cluster, request, index }, FRAME_DATA_MAX + 1024)
    }
}

/// Releases frames in index order, whatever order they arrive in; a duplicate or a frame
/// too far ahead is an error (a node that numbers its frames wrong ends its stream).
#[derive(Debug, Default)]
pub struct FrameOrder {
    next: u32,
    early: BTreeMap<u32, Vec<u8>>,
}

/// Frames held waiting for a gap to close, at most.
const MAX_EARLY: usize = 1024;

impl FrameOrder {
    /// Takes frame `index` and returns every frame now releasable, in order.
    pub fn add(&mut self, index: u32, data: Vec<u8>) -> Result<Vec<(u32, Vec<u8>)>, EnvelopeError> {
        if index < self.next || self.early.contains_key(&index) {
            return Err(EnvelopeError::DuplicateChunk { index });
        }
        if self.early.len() >= MAX_EARLY {
            return Err(EnvelopeError::ChunkOutOfRange { index, count: self.next + MAX_EARLY as u32 });
        }
        self.early.insert(index, data);
        let mut ready = Vec::new();
        while let Some(data) = self.early.remove(&self.next) {
            ready.push((self.next, data));
            self.next += 1;
        }
        Ok(ready)
    }

    /// The index of the next frame to release: the count released so far.
    pub fn released(&self) -> u32 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: Address = Address::from_static("0xc1");
    const REQUEST: Address = Address::from_static("0x4e");

    #[test]
    fn a_frame_opens_only_at_its_own_index_and_request() {
        let key = SecretKey::generate();
        let frame = Frame::Data(b"{\"type\":\"ADDED\"}\n".to_vec());
        let sealed = frame.seal(&key.public_key(), CLUSTER, REQUEST, 3).unwrap();
        assert_eq!(Frame::open(&sealed, &key, CLUSTER, REQUEST, 3).unwrap(), frame);
        assert!(Frame::open(&sealed, &key, CLUSTER, REQUEST, 4).is_err(), "moved within its stream");
        assert!(Frame::open(&sealed, &key, CLUSTER, Address::from_static("0x4f"), 3).is_err(), "another stream");
        assert!(Frame::open(&sealed, &SecretKey::generate(), CLUSTER, REQUEST, 3).is_err(), "another key");
    }

    #[test]
    fn a_full_frame_of_incompressible_data_fits_one_pure_argument() {
        let key = SecretKey::generate();
        let mut noise = vec![0u8; FRAME_DATA_MAX];
        let mut x: u64 = 0x9e3779b97f4a7c15;
        for b in noise.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let sealed = Frame::Data(noise).seal(&key.public_key(), CLUSTER, REQUEST, 0).unwrap();
        assert!(sealed.len() <= crate::contract::calls::MAX_CHUNK_LEN, "{} bytes", sealed.len());
    }

    #[test]
    fn frames_are_released_in_order_once_each() {
        let mut order = FrameOrder::default();
        assert_eq!(order.add(1, b"b".to_vec()).unwrap(), vec![]);
        assert_eq!(order.add(0, b"a".to_vec()).unwrap(), vec![(0, b"a".to_vec()), (1, b"b".to_vec())]);
        assert!(order.add(1, b"b".to_vec()).is_err(), "a replayed frame");
        assert!(order.add(0, b"a".to_vec()).is_err(), "a replayed frame");
        assert_eq!(order.add(2, b"c".to_vec()).unwrap(), vec![(2, b"c".to_vec())]);
        assert_eq!(order.released(), 3);
    }

    #[test]
    fn a_node_cannot_make_the_proxy_hold_unbounded_gaps() {
        let mut order = FrameOrder::default();
        for i in 1..=MAX_EARLY as u32 {
            order.add(i, vec![]).unwrap();
        }
        assert!(order.add(MAX_EARLY as u32 + 1, vec![]).is_err());
    }
}
