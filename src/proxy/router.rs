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
                route(&mut routed.lock().expect("router lock"), requester, checkpoint);
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
        let receiver = {
            let mut table = self.pending.lock().expect("router lock");
            let pending = &mut table.pending;
            let entry = pending.entry(request).or_default();
            if let Some(outcome) = entry.outcome.take() {
                pending.remove(&request);
                return Some(outcome);
            }
            let (tx, rx) = oneshot::channel();
            entry.waiter = Some(tx);
            entry.since.get_or_insert_with(Instant::now);
            rx
        };
        receiver.await.ok()
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

fn route(table: &mut Table, requester: Address, checkpoint: CheckpointEvents) {
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
                pending.entry(submitted.request_id).or_default().since.get_or_insert_with(Instant::now);
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
    let now = Instant::now();
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
