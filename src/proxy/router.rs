//! One checkpoint subscription per proxy, demultiplexed by request id: every waiting request
//! gets its sealed response from the same stream instead of each following the chain.
//!
//! A response can complete before its submitter asks for it (the submit call returns after
//! the node may already have answered), so the router adopts every request this requester
//! submits as soon as its `RequestSubmitted` event passes, which precedes the response in
//! checkpoint order, and keeps completed responses until claimed or stale.
//!
//! A request the node answers with a stream (`StreamOpened`) is handed out as a
//! [`StreamStart`]: its status and a channel that receives its sealed frames and its end in
//! chain order, until `StreamEnded`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sui_sdk_types::Address;
use tokio::sync::{mpsc, oneshot};

use crate::chain::ChainClient;
use crate::chain::follow::{CheckpointEvents, follow};
use crate::contract::events::{
    RequestSubmitted, ResponseChunk, ResponseStored, StreamEnded, StreamFrame, StreamOpened, decode,
};
use crate::envelope::{EnvelopeError, Reassembly, Sealed};

/// Unclaimed responses are dropped after this long.
const STALE_AFTER: Duration = Duration::from_secs(600);

type Outcome = Result<Sealed, EnvelopeError>;

/// What the node answered a request with.
#[derive(Debug)]
pub enum Routed {
    /// One sealed response.
    Response(Outcome),
    /// A stream.
    Stream(StreamStart),
}

/// An open stream: the API server's status, and the frames and end as they pass on chain.
#[derive(Debug)]
pub struct StreamStart {
    /// HTTP status the node opened it with.
    pub status: u16,
    /// Frames, then the end.
    pub events: mpsc::UnboundedReceiver<StreamEvent>,
}

/// What passes on chain for an open stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// Sealed frame `index`.
    Frame(u32, Vec<u8>),
    /// The stream ended (`StreamEnded`).
    Ended {
        /// `EndReason` code.
        reason: u8,
        /// Who ended it.
        ended_by: Address,
        /// Frames it carried.
        frames: u32,
    },
}

#[derive(Default)]
struct Pending {
    reassembly: Option<Reassembly>,
    early: Vec<ResponseChunk>,
    outcome: Option<Routed>,
    waiter: Option<oneshot::Sender<Routed>>,
    since: Option<Instant>,
}

#[derive(Default)]
struct Table {
    pending: HashMap<Address, Pending>,
    streams: HashMap<Address, mpsc::UnboundedSender<StreamEvent>>,
}

impl Table {
    /// `request`'s outcome if it is already here, or a receiver that gets it.
    fn claim(&mut self, request: Address, now: Instant) -> Result<Routed, oneshot::Receiver<Routed>> {
        let entry = self.pending.entry(request).or_default();
        if let Some(outcome) = entry.outcome.take() {
            self.pending.remove(&request);
            return Ok(outcome);
        }
        let (tx, rx) = oneshot::channel();
        entry.waiter = Some(tx);
        entry.since.get_or_insert(now);
        Err(rx)
    }
}

/// Routes responses to the requests of one requester.
pub struct ResponseRouter {
    pending: Arc<Mutex<Table>>,
    /// Counts the events of the cluster (its policy, its enclave images, its nodes and their
    /// keys) that have passed: what the proxy read of the cluster is stale once it moves.
    cluster_changes: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ResponseRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseRouter").finish_non_exhaustive()
    }
}

impl Drop for ResponseRouter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResponseRouter {
    /// Follows the chain from its latest checkpoint, routing responses to `requester`'s
    /// requests, and counting the events of `cluster`.
    pub async fn start(
        mut client: ChainClient,
        requester: Address,
        cluster: Address,
    ) -> Result<ResponseRouter, crate::chain::ChainError> {
        let start = client.latest_checkpoint().await?;
        let pending: Arc<Mutex<Table>> = Arc::default();
        let cluster_changes: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let (tx, mut rx) = mpsc::channel::<CheckpointEvents>(64);
        let package = client.package();
        let (routed, changes) = (pending.clone(), cluster_changes.clone());
        let task = tokio::spawn(async move {
            let follower = tokio::spawn(follow(client, package, start, tx));
            while let Some(checkpoint) = rx.recv().await {
                let changed = checkpoint.events.iter().filter(|e| is_cluster_event(e, cluster)).count() as u64;
                if changed > 0 {
                    changes.fetch_add(changed, std::sync::atomic::Ordering::SeqCst);
                }
                route(&mut routed.lock().expect("router lock"), requester, checkpoint, Instant::now());
            }
            follower.abort();
        });
        Ok(ResponseRouter { pending, cluster_changes, task })
    }

    /// How many events of the cluster have passed so far: compare two readings to know
    /// whether it changed in between.
    pub fn cluster_changes(&self) -> u64 {
        self.cluster_changes.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The sealed response to `request`, once complete, or its stream once opened; `None` if
    /// the router stopped.
    pub async fn wait(&self, request: Address) -> Option<Routed> {
        let claimed = self.pending.lock().expect("router lock").claim(request, Instant::now());
        match claimed {
            Ok(outcome) => Some(outcome),
            Err(receiver) => receiver.await.ok(),
        }
    }

    /// Stops waiting for `request` (its caller gave up).
    pub fn forget(&self, request: Address) {
        let mut table = self.pending.lock().expect("router lock");
        table.pending.remove(&request);
        table.streams.remove(&request);
    }
}

/// Whether `event` is one of `cluster.move`'s about `cluster` that can change which node the
/// proxy may seal to (every one of them starts with the cluster's id). A sealing-key rotation
/// is not: the previous key stays accepted, so the key the proxy holds keeps working, and it
/// moves to the new one at its next read of the cluster.
fn is_cluster_event(event: &sui_sdk_types::Event, cluster: Address) -> bool {
    event.type_.module().as_str() == "cluster"
        && event.type_.name().as_str()
            != <crate::contract::events::SealingKeyRotated as crate::contract::objects::MoveType>::NAME
        && event.contents.get(..32) == Some(cluster.as_bytes())
}

fn route(table: &mut Table, requester: Address, checkpoint: CheckpointEvents, now: Instant) {
    let Table { pending, streams } = table;
    for event in checkpoint.events {
        if let Some(frame) = decode::<StreamFrame>(&event) {
            if let Some(stream) = streams.get(&frame.request_id)
                && stream.send(StreamEvent::Frame(frame.index, frame.data)).is_err()
            {
                streams.remove(&frame.request_id);
            }
        } else if let Some(opened) = decode::<StreamOpened>(&event) {
            if let Some(p) = pending.get_mut(&opened.request_id) {
                let (tx, rx) = mpsc::unbounded_channel();
                streams.insert(opened.request_id, tx);
                let start = Routed::Stream(StreamStart { status: opened.status, events: rx });
                match p.waiter.take() {
                    Some(waiter) => {
                        let _ = waiter.send(start);
                        pending.remove(&opened.request_id);
                    }
                    None => p.outcome = Some(start),
                }
            }
        } else if let Some(ended) = decode::<StreamEnded>(&event) {
            if let Some(stream) = streams.remove(&ended.request_id) {
                let _ = stream.send(StreamEvent::Ended {
                    reason: ended.reason,
                    ended_by: ended.ended_by,
                    frames: ended.frames,
                });
            }
        } else if let Some(submitted) = decode::<RequestSubmitted>(&event) {
            if submitted.requester == requester {
                pending.entry(submitted.request_id).or_default().since.get_or_insert(now);
            }
        } else if let Some(stored) = decode::<ResponseStored>(&event) {
            if let Some(p) = pending.get_mut(&stored.request_id) {
                let digest = stored.body_digest.clone().try_into().unwrap_or([0; 32]);
                p.reassembly = Some(Reassembly::new(stored.chunk_count, stored.body_len, digest));
            }
        } else if let Some(chunk) = decode::<ResponseChunk>(&event)
            && let Some(p) = pending.get_mut(&chunk.request_id)
        {
            p.early.push(chunk);
        }
    }
    pending.retain(|_, p| {
        if p.outcome.is_none()
            && let Some(reassembly) = p.reassembly.as_mut()
        {
            let added = p.early.drain(..).try_for_each(|c| reassembly.add(c.index, c.data));
            let outcome = match added {
                Err(e) => Some(Err(e)),
                Ok(()) if reassembly.is_complete() => Some(p.reassembly.take().expect("set").finish()),
                Ok(()) => None,
            };
            if let Some(outcome) = outcome.map(Routed::Response) {
                match p.waiter.take() {
                    Some(waiter) => {
                        let _ = waiter.send(outcome);
                        return false;
                    }
                    None => p.outcome = Some(outcome),
                }
            }
        }
        p.since.is_none_or(|since| now.duration_since(since) < STALE_AFTER)
    });
}

#[cfg(test)]
mod tests {
    //! The router's rules on checkpoints made in the test: no chain, no sockets.

    use super::*;
    use crate::contract::objects::MoveType;
    use crate::envelope::digest;

    const PACKAGE: Address = Address::new([0xaa; 32]);
    const ME: Address = Address::new([1; 32]);
    const OTHER: Address = Address::new([2; 32]);
    const CLUSTER: Address = Address::new([3; 32]);
    const NODE: Address = Address::new([4; 32]);

    fn event<T: MoveType + serde::Serialize>(value: &T) -> sui_sdk_types::Event {
        crate::contract::events::encode(PACKAGE, NODE, value)
    }

    fn checkpoint(events: Vec<sui_sdk_types::Event>) -> CheckpointEvents {
        CheckpointEvents { sequence: 1, timestamp_ms: 0, events, transactions: vec![] }
    }

    fn request(n: u8) -> Address {
        Address::new([0x10 + n; 32])
    }

    fn submitted(request: Address, requester: Address) -> sui_sdk_types::Event {
        event(&RequestSubmitted {
            request_id: request,
            cluster_id: CLUSTER,
            token_id: Address::ZERO,
            requester,
            node: NODE,
            verb: 1,
            group: String::new(),
            resource: "pods".into(),
            namespace: "default".into(),
            name: String::new(),
            body_len: 0,
            body_digest: vec![],
            chunk_count: 0,
            sealing_key: vec![],
            reply_key: vec![],
            timestamp_ms: 0,
        })
    }

    /// `ResponseStored` for `body`, and its chunks of `size` bytes.
    fn answer(request: Address, body: &[u8], size: usize) -> (sui_sdk_types::Event, Vec<sui_sdk_types::Event>) {
        let chunks: Vec<_> = body.chunks(size).collect();
        let stored = event(&ResponseStored {
            request_id: request,
            cluster_id: CLUSTER,
            node: NODE,
            status: 200,
            body_len: body.len() as u64,
            body_digest: digest(body).to_vec(),
            chunk_count: chunks.len() as u32,
            timestamp_ms: 0,
        });
        let chunks = chunks
            .iter()
            .enumerate()
            .map(|(i, c)| event(&ResponseChunk { request_id: request, index: i as u32, data: c.to_vec() }))
            .collect();
        (stored, chunks)
    }

    fn response(outcome: Result<Routed, oneshot::Receiver<Routed>>) -> Outcome {
        match outcome {
            Ok(Routed::Response(r)) => r,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    #[test]
    fn a_response_in_chunks_across_checkpoints_reaches_its_waiter_whatever_their_order() {
        let (mut table, now) = (Table::default(), Instant::now());
        let mut waiting = table.claim(request(1), now).unwrap_err();
        let (stored, mut chunks) = answer(request(1), b"0123456789", 4);
        // A chunk before its announcement, then the announcement with another, then the last.
        let last = chunks.pop().unwrap();
        route(&mut table, ME, checkpoint(vec![chunks[1].clone()]), now);
        route(&mut table, ME, checkpoint(vec![stored, chunks[0].clone()]), now);
        assert!(waiting.try_recv().is_err(), "not complete yet");
        route(&mut table, ME, checkpoint(vec![last]), now);
        match waiting.try_recv().unwrap() {
            Routed::Response(Ok(sealed)) => assert_eq!(sealed.0, b"0123456789"),
            other => panic!("{other:?}"),
        }
        assert!(table.pending.is_empty(), "delivered and forgotten");
    }

    #[test]
    fn an_answer_before_its_caller_asks_is_kept_for_this_requester_only() {
        let (mut table, now) = (Table::default(), Instant::now());
        let (mine, theirs) = (answer(request(1), b"mine", 16), answer(request(2), b"theirs", 16));
        let events = vec![
            submitted(request(1), ME),
            submitted(request(2), OTHER),
            mine.0,
            mine.1[0].clone(),
            theirs.0,
            theirs.1[0].clone(),
        ];
        route(&mut table, ME, checkpoint(events), now);
        assert_eq!(response(table.claim(request(1), now)).unwrap().0, b"mine");
        assert!(!table.pending.contains_key(&request(2)), "another requester's answer is not held");
    }

    #[test]
    fn a_body_that_does_not_match_its_announcement_is_an_error_not_a_response() {
        let (mut table, now) = (Table::default(), Instant::now());
        let (stored, _) = answer(request(1), b"the real answer", 64);
        let forged = event(&ResponseChunk { request_id: request(1), index: 0, data: b"something else!".to_vec() });
        route(&mut table, ME, checkpoint(vec![submitted(request(1), ME), stored, forged]), now);
        assert_eq!(response(table.claim(request(1), now)), Err(EnvelopeError::DigestMismatch));
        let (stored, chunks) = answer(request(3), b"ab", 1);
        let beyond = event(&ResponseChunk { request_id: request(3), index: 7, data: b"x".to_vec() });
        route(&mut table, ME, checkpoint(vec![submitted(request(3), ME), stored, chunks[0].clone(), beyond]), now);
        assert!(matches!(response(table.claim(request(3), now)), Err(EnvelopeError::ChunkOutOfRange { index: 7, .. })));
    }

    #[test]
    fn a_stream_hands_out_its_frames_in_chain_order_then_its_end() {
        let (mut table, now) = (Table::default(), Instant::now());
        let mut waiting = table.claim(request(1), now).unwrap_err();
        let opened = event(&StreamOpened {
            request_id: request(1),
            cluster_id: CLUSTER,
            node: NODE,
            status: 200,
            timestamp_ms: 0,
        });
        let frame = |i: u32| event(&StreamFrame { request_id: request(1), index: i, data: vec![i as u8] });
        let ended = event(&StreamEnded {
            request_id: request(1),
            cluster_id: CLUSTER,
            ended_by: NODE,
            reason: 0,
            frames: 2,
            timestamp_ms: 0,
        });
        route(&mut table, ME, checkpoint(vec![opened, frame(0)]), now);
        route(&mut table, ME, checkpoint(vec![frame(1), ended]), now);
        let Ok(Routed::Stream(mut start)) = waiting.try_recv() else { panic!("not a stream") };
        assert_eq!(start.status, 200);
        assert_eq!(start.events.try_recv().unwrap(), StreamEvent::Frame(0, vec![0]));
        assert_eq!(start.events.try_recv().unwrap(), StreamEvent::Frame(1, vec![1]));
        assert_eq!(start.events.try_recv().unwrap(), StreamEvent::Ended { reason: 0, ended_by: NODE, frames: 2 });
        assert!(table.streams.is_empty(), "an ended stream is forgotten");
    }

    #[test]
    fn an_unclaimed_answer_is_dropped_once_stale() {
        let (mut table, now) = (Table::default(), Instant::now());
        route(&mut table, ME, checkpoint(vec![submitted(request(1), ME)]), now);
        route(&mut table, ME, checkpoint(vec![]), now + STALE_AFTER / 2);
        assert!(table.pending.contains_key(&request(1)));
        route(&mut table, ME, checkpoint(vec![]), now + STALE_AFTER);
        assert!(table.pending.is_empty());
    }

    #[test]
    fn the_cluster_changes_that_count_are_this_clusters_other_than_a_key_rotation() {
        use crate::contract::events::{NodeRemoved, SealingKeyRotated};
        let removed = |cluster| event(&NodeRemoved { cluster_id: cluster, node: NODE });
        assert!(is_cluster_event(&removed(CLUSTER), CLUSTER));
        assert!(!is_cluster_event(&removed(OTHER), CLUSTER));
        let rotated = event(&SealingKeyRotated { cluster_id: CLUSTER, node: NODE, sealing_key: vec![1; 32] });
        assert!(!is_cluster_event(&rotated, CLUSTER));
        assert!(!is_cluster_event(&submitted(request(1), ME), CLUSTER), "not a cluster event");
    }
}
