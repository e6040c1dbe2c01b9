//! A recorded session (exec, attach, port-forward) read back by one of the cluster's auditors.
//!
//! Every frame of a session is on chain: the node's as `StreamFrame` events of its
//! transactions, the requester's input as `SessionInput` events of the requester's (the
//! contract lets nobody else emit either). The first frame carries the session's key, sealed
//! to the requester and to each auditor the policy named when the session opened
//! (`envelope::SessionKey`); with it, an auditor opens every frame both ways and replays the
//! session in order, paced by the times its senders stamped on each message.
//!
//! [`Tape`] collects one session's frames from checkpoints (public data, no key); [`Tape::open`]
//! turns them, with an auditor's key, into a [`Recording`]. Pure: no I/O, no clock.

use std::collections::BTreeMap;

use serde::Serialize;
use sui_sdk_types::Address;

use crate::chain::follow::CheckpointEvents;
use crate::contract::EndReason;
use crate::contract::events::{RequestSubmitted, SessionInput, StreamEnded, StreamFrame, decode};
use crate::envelope::{Binding, EnvelopeError, Frame, MessageAssembly, Sealed, SecretKey, SessionKey};

/// The largest message a replay puts back together (a session carries at most this much per
/// message: the node's and the proxy's bound).
const MESSAGE_MAX: usize = 16 << 20;

/// Why a session cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The chain holds no request with this id for the cluster.
    #[error(
        "no request {0} on chain for this cluster from the checkpoint reading started at; `kubectl sui audit -o json` lists them, with the checkpoint of each"
    )]
    NotFound(Address),
    /// The request is not a session, or never opened.
    #[error("request {request} is not a session that opened ({what}); only exec, attach and port-forward are recorded")]
    NotASession {
        /// The request.
        request: Address,
        /// What it is.
        what: String,
    },
    /// The key is none of the session's recipients.
    #[error(
        "this key cannot open session {0}: it was not among the cluster's auditors when the session opened (only the requester and the auditors named then can read it)"
    )]
    NotAnAuditor(Address),
    /// A frame does not open or does not fit: the record is damaged or was never whole.
    #[error("frame {index} ({direction}) of the session does not open: {source}")]
    Frame {
        /// Its direction.
        direction: Direction,
        /// Its index.
        index: u32,
        /// Why.
        source: EnvelopeError,
    },
}

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Direction {
    /// The requester (kubectl, through its proxy).
    Input,
    /// The node (what the API server sent).
    Output,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// One session's frames as they passed on chain, unopened.
#[derive(Debug)]
pub struct Tape {
    cluster: Address,
    request: Address,
    submitted: Option<RequestSubmitted>,
    output: BTreeMap<u32, Vec<u8>>,
    input: BTreeMap<u32, Vec<u8>>,
    ended: Option<StreamEnded>,
}

impl Tape {
    /// The tape of session `request` of `cluster`, empty.
    pub fn new(cluster: Address, request: Address) -> Tape {
        Tape { cluster, request, submitted: None, output: BTreeMap::new(), input: BTreeMap::new(), ended: None }
    }

    /// Takes in a checkpoint's events (the first of each frame index counts: the contract
    /// numbers them, so there is no second).
    pub fn feed(&mut self, checkpoint: &CheckpointEvents) {
        for event in &checkpoint.events {
            if let Some(s) = decode::<RequestSubmitted>(event) {
                if s.request_id == self.request && s.cluster_id == self.cluster {
                    self.submitted = Some(s);
                }
            } else if let Some(f) = decode::<StreamFrame>(event) {
                if f.request_id == self.request {
                    self.output.entry(f.index).or_insert(f.data);
                }
            } else if let Some(i) = decode::<SessionInput>(event) {
                if i.request_id == self.request {
                    self.input.entry(i.index).or_insert(i.data);
                }
            } else if let Some(e) = decode::<StreamEnded>(event)
                && e.request_id == self.request
            {
                self.ended = Some(e);
            }
        }
    }

    /// Whether the session has ended on chain (nothing more will come).
    pub fn ended(&self) -> bool {
        self.ended.is_some()
    }

    /// Opens the tape with `auditor`'s key.
    pub fn open(&self, auditor: &SecretKey) -> Result<Recording, ReplayError> {
        let submitted = self.submitted.as_ref().ok_or(ReplayError::NotFound(self.request))?;
        let what = format!(
            "{} {}",
            crate::contract::Verb::from_code(submitted.verb).map_or("?", |v| v.as_str()),
            submitted.resource
        );
        let first = self
            .output
            .get(&0)
            .ok_or_else(|| ReplayError::NotASession { request: self.request, what: what.clone() })?;
        let binding = Binding::Frame { cluster: self.cluster, request: self.request, index: 0 };
        let (headers, key) = match Sealed(first.clone()).open::<Frame>(auditor, &binding, 64 * 1024) {
            Ok(Frame::Open { headers, key }) => (headers, SessionKey::from_bytes(key)),
            Ok(_) => return Err(ReplayError::NotASession { request: self.request, what }),
            Err(EnvelopeError::Open) => return Err(ReplayError::NotAnAuditor(self.request)),
            Err(source) => return Err(ReplayError::Frame { direction: Direction::Output, index: 0, source }),
        };
        let protocol = headers
            .iter()
            .find(|(name, _)| name == "sec-websocket-protocol")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let channels = protocol.ends_with(".channel.k8s.io");
        let mut events = Vec::new();
        for (direction, frames) in [(Direction::Output, &self.output), (Direction::Input, &self.input)] {
            let mut assembly = MessageAssembly::new(MESSAGE_MAX);
            let first = if direction == Direction::Output { 1 } else { 0 };
            for (expected, (&index, data)) in (first..).zip(frames.range(first..)) {
                if index != expected {
                    // A gap: the frames after it were never released to the other side either.
                    break;
                }
                let fail = |source| ReplayError::Frame { direction, index, source };
                let frame = match direction {
                    Direction::Output => key.open_frame(data, self.cluster, self.request, index),
                    Direction::Input => key.open_input(data, self.cluster, self.request, index),
                }
                .map_err(fail)?;
                match frame {
                    Frame::Message { binary, data, last, at_ms } => {
                        if let Some(message) = assembly.add(binary, data, last, at_ms).map_err(fail)? {
                            events.push(Recorded::message(direction, message.at_ms, message.data, channels));
                        }
                    }
                    Frame::Close { code, reason } => events.push(Recorded {
                        at_ms: events.last().map_or(0, |e: &Recorded| e.at_ms),
                        direction,
                        channel: None,
                        data: Vec::new(),
                        close: Some((code, reason)),
                    }),
                    Frame::Data(_) | Frame::Head { .. } | Frame::Open { .. } => {}
                }
            }
        }
        // In time order; a direction keeps its own order where clocks tie.
        events.sort_by_key(|e| e.at_ms);
        Ok(Recording {
            request: self.request,
            requester: submitted.requester,
            what: format!("{what} {}/{}", submitted.namespace, submitted.name),
            protocol,
            submitted_ms: submitted.timestamp_ms,
            events,
            ended: self.ended.as_ref().map(|e| {
                EndReason::from_code(e.reason).map_or_else(|| format!("reason {}", e.reason), |r| r.to_string())
            }),
        })
    }
}

/// Session `request` of `cluster` as the chain holds it, read from the first checkpoint to
/// the latest (every checkpoint: a session's frames may be anywhere after its request).
pub async fn read_tape(
    mut client: crate::chain::ChainClient,
    cluster: Address,
    request: Address,
    from: u64,
) -> Result<Tape, crate::chain::ChainError> {
    let package = client.package();
    let latest = client.latest_checkpoint().await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let follower = tokio::spawn(crate::chain::follow::follow_with(
        client,
        package,
        from,
        crate::chain::follow::Detail::Events,
        tx,
    ));
    let mut tape = Tape::new(cluster, request);
    while let Some(checkpoint) = rx.recv().await {
        tape.feed(&checkpoint);
        if checkpoint.sequence >= latest || tape.ended() {
            break;
        }
    }
    follower.abort();
    Ok(tape)
}

/// A session, opened: what went each way, when.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recording {
    /// The session's request id.
    pub request: Address,
    /// Who opened it.
    pub requester: Address,
    /// What it was approved as (verb, subresource, namespace/name).
    pub what: String,
    /// The subprotocol the API server chose (`v5.channel.k8s.io`, ...).
    pub protocol: String,
    /// Chain time of the request (ms since the epoch).
    pub submitted_ms: u64,
    /// Its messages, both ways, in time order.
    pub events: Vec<Recorded>,
    /// Why it ended (`completed`, `token`, `limit`, `node`, `client`); none while open.
    pub ended: Option<String>,
}

/// One message of a session, or one side's close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    /// When its sender had it (ms since the epoch, the sender's clock).
    pub at_ms: u64,
    /// Who sent it.
    pub direction: Direction,
    /// The remote-command channel (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize), for the
    /// `channel.k8s.io` protocols; none for port-forward and closes.
    pub channel: Option<u8>,
    /// Its bytes (after the channel byte).
    #[serde(serialize_with = "lossy")]
    pub data: Vec<u8>,
    /// A close: its code and reason.
    pub close: Option<(u16, String)>,
}

impl Recorded {
    fn message(direction: Direction, at_ms: u64, data: Vec<u8>, channels: bool) -> Recorded {
        let (channel, data) = match data.split_first() {
            Some((&channel, rest)) if channels => (Some(channel), rest.to_vec()),
            _ => (None, data),
        };
        Recorded { at_ms, direction, channel, data, close: None }
    }

    /// The channel's name, as the remote-command protocols number them.
    pub fn channel_name(&self) -> &'static str {
        match (self.close.is_some(), self.channel) {
            (true, _) => "close",
            (false, Some(0)) => "stdin",
            (false, Some(1)) => "stdout",
            (false, Some(2)) => "stderr",
            (false, Some(3)) => "error",
            (false, Some(4)) => "resize",
            (false, Some(255)) => "close-channel",
            (false, Some(_)) => "channel?",
            (false, None) => "data",
        }
    }
}

fn lossy<S: serde::Serializer>(data: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&String::from_utf8_lossy(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::events::encode;
    use crate::envelope::{Message, PublicKey};

    const CLUSTER: Address = Address::from_static("0xc1");
    const REQUEST: Address = Address::from_static("0x4e");

    const PACKAGE: Address = Address::from_static("0xaa");
    const NODE: Address = Address::from_static("0x40de");

    fn submitted() -> RequestSubmitted {
        RequestSubmitted {
            request_id: REQUEST,
            cluster_id: CLUSTER,
            requester: Address::from_static("0xa11ce"),
            node: NODE,
            token_id: Address::from_static("0x70"),
            verb: crate::contract::Verb::Create.code(),
            group: String::new(),
            resource: "pods/exec".into(),
            namespace: "default".into(),
            name: "p".into(),
            sealing_key: vec![0; 32],
            reply_key: vec![0; 32],
            body_digest: vec![0; 32],
            body_len: 0,
            chunk_count: 0,
            timestamp_ms: 1,
        }
    }

    fn event<T: crate::contract::objects::MoveType + serde::Serialize>(value: &T) -> sui_sdk_types::Event {
        encode(PACKAGE, NODE, value)
    }

    /// A session recorded for `recipients`: `ls` typed, its output, the node's close.
    fn tape(recipients: &[PublicKey]) -> Tape {
        let key = SessionKey::generate();
        let open = Frame::Open {
            headers: vec![("sec-websocket-protocol".into(), "v5.channel.k8s.io".into())],
            key: key.to_bytes(),
        };
        let binding = Binding::Frame { cluster: CLUSTER, request: REQUEST, index: 0 };
        let first = Sealed::seal_to_all(&open, recipients, &binding).unwrap().0;
        let typed = Message { binary: true, data: b"\x00ls\n".to_vec(), at_ms: 100 }.frames();
        let shown = Message { binary: true, data: b"\x01a b\n".to_vec(), at_ms: 150 }.frames();
        let mut events = vec![event(&submitted()), event(&StreamFrame { request_id: REQUEST, index: 0, data: first })];
        for (i, frame) in typed.iter().enumerate() {
            let data = key.seal_input(frame, CLUSTER, REQUEST, i as u32).unwrap();
            events.push(event(&SessionInput { request_id: REQUEST, index: i as u32, data }));
        }
        let close = Frame::Close { code: 1000, reason: String::new() };
        for (i, frame) in shown.iter().chain([&close]).enumerate() {
            let data = key.seal_frame(frame, CLUSTER, REQUEST, 1 + i as u32).unwrap();
            events.push(event(&StreamFrame { request_id: REQUEST, index: 1 + i as u32, data }));
        }
        let mut tape = Tape::new(CLUSTER, REQUEST);
        tape.feed(&CheckpointEvents { sequence: 1, timestamp_ms: 1, events, transactions: vec![] });
        tape
    }

    #[test]
    fn an_auditor_replays_both_directions_in_time_order() {
        let (requester, auditor) = (SecretKey::generate(), SecretKey::generate());
        let tape = tape(&[requester.public_key(), auditor.public_key()]);
        let recording = tape.open(&auditor).unwrap();
        assert_eq!(recording.protocol, "v5.channel.k8s.io");
        let shown: Vec<(Direction, &str, &[u8])> =
            recording.events.iter().map(|e| (e.direction, e.channel_name(), e.data.as_slice())).collect();
        assert_eq!(
            shown,
            vec![
                (Direction::Input, "stdin", &b"ls\n"[..]),
                (Direction::Output, "stdout", &b"a b\n"[..]),
                (Direction::Output, "close", &b""[..]),
            ]
        );
        assert_eq!(recording.events[0].at_ms, 100);
        assert_eq!(recording.events[1].at_ms, 150);
    }

    #[test]
    fn an_altered_frame_is_reported_not_replayed() {
        let auditor = SecretKey::generate();
        let mut tape = tape(&[SecretKey::generate().public_key(), auditor.public_key()]);
        let frame = tape.input.get_mut(&0).unwrap();
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert!(matches!(
            tape.open(&auditor),
            Err(ReplayError::Frame { direction: Direction::Input, index: 0, source: EnvelopeError::Open })
        ));
    }

    #[test]
    fn a_watch_is_no_session_to_replay() {
        let requester = SecretKey::generate();
        let head = Frame::Head { headers: vec![("content-type".into(), "application/json".into())] };
        let first = head.seal(&requester.public_key(), CLUSTER, REQUEST, 0).unwrap();
        let mut tape = Tape::new(CLUSTER, REQUEST);
        let events = vec![event(&submitted()), event(&StreamFrame { request_id: REQUEST, index: 0, data: first })];
        tape.feed(&CheckpointEvents { sequence: 1, timestamp_ms: 1, events, transactions: vec![] });
        assert!(matches!(tape.open(&requester), Err(ReplayError::NotASession { .. })));
    }

    #[test]
    fn a_key_that_was_not_an_auditor_reads_nothing() {
        let (requester, auditor) = (SecretKey::generate(), SecretKey::generate());
        let tape = tape(&[requester.public_key(), auditor.public_key()]);
        assert!(matches!(tape.open(&SecretKey::generate()), Err(ReplayError::NotAnAuditor(_))));
        assert!(matches!(Tape::new(CLUSTER, REQUEST).open(&auditor), Err(ReplayError::NotFound(_))));
    }
}
