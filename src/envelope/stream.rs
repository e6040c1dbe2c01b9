//! Frames of a streamed response: what the node seals as the API server writes, and the order
//! the proxy releases them in. A session (exec, attach, port-forward) carries WebSocket
//! messages both ways: each message is cut into [`Frame::Message`] pieces and put back
//! together by [`MessageAssembly`], so the channel byte of the Kubernetes stream protocols
//! stays at the head of its message, whatever the message's size.

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
    /// A piece of one WebSocket message of a session; the pieces of a message are
    /// consecutive frames, and the last is marked.
    Message {
        /// A binary message (the Kubernetes stream protocols), or text.
        binary: bool,
        /// The piece.
        data: Vec<u8>,
        /// Whether this piece ends the message.
        last: bool,
        /// When its sender had the message (ms since the Unix epoch, the sender's clock): what
        /// a replay of the session paces itself by.
        at_ms: u64,
    },
    /// One side closed the session's WebSocket, with its close code and reason.
    Close {
        /// WebSocket close code (1000: normal).
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// The first frame of a session: the API server's response headers, and the key every
    /// later frame of the session (both ways) is sealed with. Sealed to the requester and to
    /// each of the cluster's auditors.
    Open {
        /// The headers kubectl needs (the chosen subprotocol).
        headers: Vec<(String, String)>,
        /// The session's key.
        key: [u8; super::KEY_LENGTH],
    },
}

/// How a stream's frames after the first are sealed: to the reply key (a watch, a followed
/// log), or with the session's key (exec, attach, port-forward).
#[derive(Debug, Clone)]
pub enum FrameSeal {
    /// Each frame sealed on its own to the requester's reply key.
    Reply(PublicKey),
    /// Each frame sealed with the session's key.
    Session(super::SessionKey),
}

impl FrameSeal {
    /// Seals `frame` as frame `index` of `request`.
    pub fn seal(
        &self,
        frame: &Frame,
        cluster: Address,
        request: Address,
        index: u32,
    ) -> Result<Vec<u8>, EnvelopeError> {
        match self {
            FrameSeal::Reply(reply) => frame.seal(reply, cluster, request, index),
            FrameSeal::Session(key) => key.seal_frame(frame, cluster, request, index),
        }
    }
}

/// One whole WebSocket message of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Binary, or text.
    pub binary: bool,
    /// Its bytes.
    pub data: Vec<u8>,
    /// When its sender had it (ms since the Unix epoch).
    pub at_ms: u64,
}

impl Message {
    /// The frames that carry this message: pieces of at most [`FRAME_DATA_MAX`] bytes, the last
    /// marked (an empty message is one empty last piece).
    pub fn frames(&self) -> Vec<Frame> {
        let pieces: Vec<&[u8]> =
            if self.data.is_empty() { vec![&[]] } else { self.data.chunks(FRAME_DATA_MAX).collect() };
        let count = pieces.len();
        pieces
            .into_iter()
            .enumerate()
            .map(|(i, data)| Frame::Message {
                binary: self.binary,
                data: data.to_vec(),
                last: i + 1 == count,
                at_ms: self.at_ms,
            })
            .collect()
    }
}

/// Puts a session's message pieces back together, refusing a message larger than its bound.
#[derive(Debug)]
pub struct MessageAssembly {
    max: usize,
    partial: Option<Message>,
}

impl MessageAssembly {
    /// Assembles messages of at most `max` bytes.
    pub fn new(max: usize) -> MessageAssembly {
        MessageAssembly { max, partial: None }
    }

    /// Takes the next piece (the fields of a [`Frame::Message`]); returns the message it
    /// completes, if it does, stamped with its first piece's time.
    pub fn add(
        &mut self,
        binary: bool,
        data: Vec<u8>,
        last: bool,
        at_ms: u64,
    ) -> Result<Option<Message>, EnvelopeError> {
        let message = self.partial.get_or_insert_with(|| Message { binary, data: Vec::new(), at_ms });
        if message.data.len() + data.len() > self.max {
            return Err(EnvelopeError::TooLarge { limit: self.max });
        }
        message.data.extend_from_slice(&data);
        Ok(if last { self.partial.take() } else { None })
    }
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
    fn a_message_is_cut_into_pieces_and_put_back_whole() {
        let big =
            Message { binary: true, data: (0..FRAME_DATA_MAX * 2 + 7).map(|i| (i % 253) as u8).collect(), at_ms: 5 };
        let frames = big.frames();
        assert_eq!(frames.len(), 3);
        let mut assembly = MessageAssembly::new(1 << 20);
        let mut out = vec![];
        for frame in frames {
            let Frame::Message { binary, data, last, at_ms } = frame else { panic!("not a message piece") };
            assert!(data.len() <= FRAME_DATA_MAX);
            out.extend(assembly.add(binary, data, last, at_ms).unwrap());
        }
        assert_eq!(out, vec![big]);
        let empty = Message { binary: false, data: vec![], at_ms: 6 };
        let [Frame::Message { binary, data, last, at_ms }] = &empty.frames()[..] else { panic!("one piece") };
        assert_eq!(assembly.add(*binary, data.clone(), *last, *at_ms).unwrap(), Some(empty));
    }

    #[test]
    fn a_message_past_its_bound_is_refused() {
        let mut assembly = MessageAssembly::new(10);
        assert_eq!(assembly.add(true, vec![0; 6], false, 0).unwrap(), None);
        assert!(assembly.add(true, vec![0; 6], true, 0).is_err());
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
