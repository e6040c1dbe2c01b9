//! One checkpoint subscription per proxy, demultiplexed by request id: every waiting request
//! gets its sealed response from the same stream instead of each following the chain.
//!
//! A response can complete before its submitter asks for it (the submit call returns after
//! the node may already have answered), so the router adopts every request this requester
//! submits as soon as its `RequestSubmitted` event passes, which precedes the response in
//! checkpoint order, and keeps completed responses until claimed or stale.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sui_sdk_types::Address;
use tokio::sync::{mpsc, oneshot};

use crate::chain::ChainClient;
use crate::chain::follow::{CheckpointEvents, follow};
use crate::contract::events::{RequestSubmitted, ResponseChunk, ResponseStored, decode};
use crate::envelope::{EnvelopeError, Reassembly, Sealed};

/// Unclaimed responses are dropped after this long.
const STALE_AFTER: Duration = Duration::from_secs(600);

type Outcome = Result<Sealed, EnvelopeError>;

#[derive(Default)]
struct Pending {
    reassembly: Option<Reassembly>,
    early: Vec<ResponseChunk>,
    outcome: Option<Outcome>,
    waiter: Option<oneshot::Sender<Outcome>>,
    since: Option<Instant>,
}

/// Routes responses to the requests of one requester.
pub struct ResponseRouter {
    pending: Arc<Mutex<HashMap<Address, Pending>>>,
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
    /// requests.
    pub async fn start(
        mut client: ChainClient,
        requester: Address,
    ) -> Result<ResponseRouter, crate::chain::ChainError> {
        let start = client.latest_checkpoint().await?;
        let pending: Arc<Mutex<HashMap<Address, Pending>>> = Arc::default();
        let (tx, mut rx) = mpsc::channel::<CheckpointEvents>(64);
        let package = client.package();
        let routed = pending.clone();
        let task = tokio::spawn(async move {
            let follower = tokio::spawn(follow(client, package, start, tx));
            while let Some(checkpoint) = rx.recv().await {
                route(&mut routed.lock().expect("router lock"), requester, checkpoint);
            }
            follower.abort();
        });
        Ok(ResponseRouter { pending, task })
    }

    /// The sealed response to `request`, once complete; `None` if the router stopped.
    pub async fn wait(&self, request: Address) -> Option<Outcome> {
        let receiver = {
            let mut pending = self.pending.lock().expect("router lock");
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
        self.pending.lock().expect("router lock").remove(&request);
    }
}

fn route(pending: &mut HashMap<Address, Pending>, requester: Address, checkpoint: CheckpointEvents) {
    for event in checkpoint.events {
        if let Some(submitted) = decode::<RequestSubmitted>(&event) {
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
            if let Some(outcome) = outcome {
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
