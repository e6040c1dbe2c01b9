//! Streams: a watch or a followed log, forwarded to the requester in sealed frames until it
//! ends.
//!
//! This module owns what happens after the API server answered a stream with 200: the slots
//! that bound how many streams run ([`Slots`]), the batching of what the API server writes into
//! frames ([`Batch`], pure), and the pump ([`Pump`]) that seals each frame to the request's
//! reply key bound to its index, sends them with `request::stream`, checks the token and the
//! limits between frames, and ends the stream on chain with its reason
//! (`request::end_stream`). A stream holds no execution permit while it runs; it holds one
//! [`Slot`]. It never runs anything but the read the contract approved and admission checked.
//!
//! Ends: the API server ends the body (`completed`), the token is revoked or expires
//! (`token`), a limit is reached (`limit`), the node fails a frame or restarts (`node`), or the
//! requester hangs up (`hang_up` on chain: the node sees `StreamEnded` and stops). A node that
//! restarts ends the streams its journal says were open: a watch cannot be resumed for the
//! client without its last resource version, and client-go re-watches after any end.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use http_body_util::BodyExt;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::error::NodeError;
use super::requests::Processor;
use crate::contract::events::RequestSubmitted;
use crate::contract::{EndReason, ObjectArg};
use crate::envelope::{FRAME_DATA_MAX, Frame, FrameSeal};

/// Frames per `request::stream` transaction: 7 × 16 KiB stays under Sui's 128 KiB limit.
pub const FRAMES_PER_TRANSACTION: usize = 7;
/// How often an idle stream checks its token and its duration.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The stream slots of a node: at most `max` streams at once, `per_requester` of one requester.
#[derive(Debug)]
pub struct Slots {
    global: Arc<Semaphore>,
    per_requester: Mutex<HashMap<Address, usize>>,
    max_per_requester: usize,
}

/// One running stream's place; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    requester: Address,
    slots: Arc<Slots>,
}

impl Slots {
    /// `max` streams in all, `per_requester` each.
    pub fn new(max: usize, per_requester: usize) -> Arc<Slots> {
        Arc::new(Slots {
            global: Arc::new(Semaphore::new(max)),
            per_requester: Mutex::default(),
            max_per_requester: per_requester,
        })
    }

    /// A slot for `requester`, or why there is none.
    pub fn take(self: &Arc<Self>, requester: Address) -> Result<Slot, &'static str> {
        let mut counts = self.per_requester.lock().expect("lock");
        let count = counts.entry(requester).or_default();
        if *count >= self.max_per_requester {
            return Err("max-streams-per-requester");
        }
        let permit = self.global.clone().try_acquire_owned().map_err(|_| "max-streams")?;
        *count += 1;
        Ok(Slot { _permit: permit, requester, slots: self.clone() })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.slots.per_requester.lock().expect("lock");
        if let Some(count) = counts.get_mut(&self.requester) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.requester);
            }
        }
    }
}

/// Stream bytes waiting to be sent, cut into frames of at most [`FRAME_DATA_MAX`] bytes.
#[derive(Debug, Default)]
pub struct Batch {
    bytes: Vec<u8>,
}

impl Batch {
    /// Appends what the API server wrote.
    pub fn push(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether a whole transaction's worth of frames waits.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= FRAME_DATA_MAX * FRAMES_PER_TRANSACTION
    }

    /// Takes at most one transaction's worth of frames, in order.
    pub fn take(&mut self) -> Vec<Vec<u8>> {
        let n = self.bytes.len().min(FRAME_DATA_MAX * FRAMES_PER_TRANSACTION);
        let taken: Vec<u8> = self.bytes.drain(..n).collect();
        taken.chunks(FRAME_DATA_MAX).map(<[u8]>::to_vec).collect()
    }
}

/// What a stream forwards: a response body (a watch, a followed log), or a session.
pub enum Source {
    /// The API server's response body.
    Body(kube::client::Body),
    /// An upgraded connection and the requester's input.
    Session(Box<super::session::Session>),
}

/// A stream the node opened on chain, to be pumped until it ends.
pub struct Pump {
    pub(super) submitted: RequestSubmitted,
    pub(super) request: ObjectArg,
    pub(super) source: Option<Source>,
    /// How its frames after the first are sealed.
    pub(super) seal: FrameSeal,
    pub(super) next_index: u32,
    pub(super) stop: Arc<Notify>,
    pub(super) slot: Slot,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump").field("request", &self.submitted.request_id).finish_non_exhaustive()
    }
}

impl Pump {
    /// Forwards the stream until it ends, ends it on chain, and forgets it.
    pub async fn run(mut self, p: &Processor) {
        let request = self.submitted.request_id;
        let reason = match self.source.take() {
            Some(Source::Body(mut body)) => self.pump(p, &mut body).await,
            Some(Source::Session(session)) => self.relay(p, *session).await,
            None => Some(EndReason::Node),
        };
        let reason_label = reason.map_or(EndReason::Client, |r| r).as_str();
        if let Some(reason) = reason
            && let Err(e) = p.end_stream(request, self.request, reason).await
        {
            tracing::error!(%request, error = %e, "could not end the stream on chain");
        }
        p.metrics.stream_ends.with_label_values(&[reason_label]).inc();
        p.metrics.streams_open.dec();
        p.stream_closed(request).await;
        drop(self.slot);
    }

    /// The end reason the node gives, or `None` when the requester hung up (or the stream is
    /// otherwise gone from the chain).
    async fn pump(&mut self, p: &Processor, body: &mut kube::client::Body) -> Option<EndReason> {
        let limits = p.limits();
        // 0: send as soon as something is read (what arrives meanwhile shares the next send).
        let immediate = limits.stream_flush_ms == 0;
        let flush_every = Duration::from_millis(limits.stream_flush_ms.max(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(limits.stream_max_secs);
        let mut batch = Batch::default();
        let mut flush_at: Option<tokio::time::Instant> = None;
        let mut sent: u64 = 0;
        let mut check = tokio::time::interval(CHECK_EVERY);
        let mut ended = false;
        let submitted = self.submitted.clone();
        loop {
            let flush_now = tokio::select! {
                biased;
                // The requester hung up, or the node is stopping (then it ends the stream).
                _ = self.stop.notified() => return p.is_stopping().then_some(EndReason::Node),
                _ = check.tick() => {
                    if let Some(reason) = Self::refusal(p, &submitted).await {
                        return Some(reason);
                    }
                    if tokio::time::Instant::now() >= deadline {
                        return self.flush_all(p, &mut batch, &mut sent, limits.stream_max_bytes).await.unwrap_or(Some(EndReason::Limit));
                    }
                    false
                }
                _ = tokio::time::sleep_until(flush_at.unwrap_or_else(tokio::time::Instant::now)), if flush_at.is_some() => true,
                frame = body.frame(), if !ended => match frame {
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            batch.push(&data);
                            flush_at.get_or_insert_with(|| tokio::time::Instant::now() + flush_every);
                        }
                        // What the API server wrote while the last frames were on their way
                        // goes in the same transaction: batching costs no waiting.
                        while !batch.is_full() {
                            match body.frame().now_or_never() {
                                Some(Some(Ok(frame))) => {
                                    if let Ok(data) = frame.into_data() {
                                        batch.push(&data);
                                    }
                                }
                                Some(None) => {
                                    ended = true;
                                    break;
                                }
                                Some(Some(Err(_))) | None => break,
                            }
                        }
                        ended || immediate || batch.is_full()
                    }
                    Some(Err(e)) => {
                        tracing::warn!(request = %self.submitted.request_id, error = %e, "reading the stream from the Kubernetes API failed");
                        p.metrics.errors.with_label_values(&["kubernetes_stream"]).inc();
                        let _ = self.flush_all(p, &mut batch, &mut sent, limits.stream_max_bytes).await;
                        return Some(EndReason::Node);
                    }
                    None => {
                        ended = true;
                        true
                    }
                },
            };
            if flush_now {
                if let Some(reason) = Self::refusal(p, &submitted).await {
                    return Some(reason);
                }
                if let Some(end) = self.flush_all(p, &mut batch, &mut sent, limits.stream_max_bytes).await {
                    return end;
                }
                flush_at = None;
                if ended {
                    return Some(EndReason::Completed);
                }
            }
        }
    }

    /// Why the token no longer lets this stream run, if it does not.
    pub(super) async fn refusal(p: &Processor, submitted: &RequestSubmitted) -> Option<EndReason> {
        let request = submitted.request_id;
        match p.token_allows(submitted).await {
            Ok(true) => None,
            Ok(false) => Some(EndReason::Token),
            // The chain is unreachable: keep going; the next check may read it.
            Err(e) => {
                tracing::debug!(%request, error = %e, "could not read the token");
                None
            }
        }
    }

    /// Sends everything waiting; `Some(reason)` when the stream must end instead.
    async fn flush_all(
        &mut self,
        p: &Processor,
        batch: &mut Batch,
        sent: &mut u64,
        max_bytes: u64,
    ) -> Option<Option<EndReason>> {
        while !batch.is_empty() {
            if *sent + batch.len() as u64 > max_bytes {
                return Some(Some(EndReason::Limit));
            }
            let pieces = batch.take();
            let bytes: usize = pieces.iter().map(Vec::len).sum();
            let mut frames = Vec::with_capacity(pieces.len());
            for piece in pieces {
                let sealed = self.seal.seal(
                    &Frame::Data(piece),
                    p.cluster,
                    self.submitted.request_id,
                    self.next_index + frames.len() as u32,
                );
                match sealed {
                    Ok(sealed) => frames.push(sealed),
                    Err(_) => return Some(Some(EndReason::Node)),
                }
            }
            let count = frames.len();
            match p.send_frames(self.submitted.request_id, self.request, frames).await {
                Ok(true) => {}
                Ok(false) => return Some(None),
                Err(e) => {
                    tracing::warn!(request = %self.submitted.request_id, error = %e, "sending stream frames failed");
                    return Some(Some(EndReason::Node));
                }
            }
            self.next_index += count as u32;
            *sent += bytes as u64;
            p.metrics.stream_frames.inc_by(count as u64);
            p.metrics.stream_bytes.inc_by(bytes as u64);
        }
        None
    }
}

impl Processor {
    /// Sends sealed frames of an open stream; `false` when the stream is gone from the chain
    /// (the requester hung up).
    pub(super) async fn send_frames(
        &self,
        request: Address,
        request_arg: ObjectArg,
        frames: Vec<Vec<u8>>,
    ) -> Result<bool, NodeError> {
        let mut tx = TransactionBuilder::new();
        self.contract
            .stream(&mut tx, request_arg, self.cluster_arg, frames)
            .map_err(|e| NodeError::Config(e.to_string()))?;
        match self.gas.execute(&mut self.client.clone(), &self.keys.signing, tx).await {
            Ok(executed) => {
                self.metrics.stream_gas.inc_by(executed.gas_paid());
                Ok(true)
            }
            Err(e) => match self.stream_on_chain(request).await? {
                None => Ok(false),
                Some(_) => Err(e.into()),
            },
        }
    }

    /// Ends a stream on chain for `reason`; a stream already gone is not an error.
    pub(super) async fn end_stream(
        &self,
        request: Address,
        request_arg: ObjectArg,
        reason: EndReason,
    ) -> Result<(), NodeError> {
        let mut tx = TransactionBuilder::new();
        self.contract.end_stream(&mut tx, request_arg, reason).map_err(|e| NodeError::Config(e.to_string()))?;
        match self.gas.execute(&mut self.client.clone(), &self.keys.signing, tx).await {
            Ok(executed) => {
                self.metrics.stream_gas.inc_by(executed.gas_paid());
                Ok(())
            }
            Err(e) => match self.stream_on_chain(request).await? {
                None => Ok(()),
                Some(_) => Err(e.into()),
            },
        }
    }

    /// The call argument of `request` while it is an open stream on chain.
    pub(super) async fn stream_on_chain(&self, request: Address) -> Result<Option<ObjectArg>, NodeError> {
        match self.client.clone().move_object_and_arg::<crate::contract::objects::Request>(request).await {
            Ok((r, arg)) if r.streaming => Ok(Some(arg)),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Ends the streams a previous life of this node left open (its journal says so): they
    /// cannot be resumed for their clients, so each is ended with `node`, once.
    pub async fn end_orphaned_streams(&self) {
        for request in self.orphaned_streams() {
            let result = match self.stream_on_chain(request).await {
                Ok(Some(arg)) => self.end_stream(request, arg, EndReason::Node).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    tracing::info!(%request, "ended a stream left open by the node's previous run");
                    self.metrics.stream_ends.with_label_values(&[EndReason::Node.as_str()]).inc();
                    self.stream_closed(request).await;
                }
                Err(e) => tracing::error!(%request, error = %e, "could not end a stream left open"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_cut_into_frames_that_each_fit_and_keep_the_order() {
        let mut batch = Batch::default();
        let data: Vec<u8> = (0..(FRAME_DATA_MAX * 9 + 5)).map(|i| (i % 251) as u8).collect();
        batch.push(&data);
        assert!(batch.is_full());
        let first = batch.take();
        assert_eq!(first.len(), FRAMES_PER_TRANSACTION);
        assert!(first.iter().all(|f| f.len() == FRAME_DATA_MAX));
        let rest = batch.take();
        assert_eq!(rest.len(), 3);
        assert!(batch.is_empty() && batch.take().is_empty());
        let joined: Vec<u8> = first.into_iter().chain(rest).flatten().collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn slots_bound_streams_in_all_and_per_requester_and_come_back() {
        let (a, b) = (Address::from_static("0xa"), Address::from_static("0xb"));
        let slots = Slots::new(3, 2);
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).unwrap_err(), "max-streams-per-requester");
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).unwrap_err(), "max-streams");
        drop(a1);
        let _a3 = slots.take(a).unwrap();
    }
}
