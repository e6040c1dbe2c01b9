//! Sessions (exec, attach, port-forward): a WebSocket to the API server, relayed message for
//! message with the requester through the chain.
//!
//! This module owns what happens once the API server switched a session's connection: the
//! requester's sealed input frames (`request::SessionInput`, routed here by request id) are
//! opened with the key the session was sealed to, bound to their index, released in order,
//! put back into messages and written to the API server; what the API server sends is cut
//! into frames and sent with `request::stream` like a watch's, one transaction in flight, what
//! arrives meanwhile sharing the next. It never reads the messages: the API server and kubectl
//! speak the Kubernetes stream protocols to each other, the exit status included.
//!
//! Ends, each on chain with its reason (through [`super::stream::Pump`]): the API server
//! closes the socket (`completed`), the token is revoked or expires (`token`), the session
//! outlives `session-max-secs`, sits idle past `session-idle-secs`, or carries more than
//! `stream-max-bytes` either way, or the requester's input is malformed or floods the node
//! (`limit`), the node fails or stops (`node`), or the requester hangs up.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use sui_sdk_types::Address;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::kube::{SESSION_MESSAGE_MAX, SessionSocket};
use super::requests::Processor;
use super::stream::{FRAMES_PER_TRANSACTION, Pump};
use crate::contract::EndReason;
use crate::contract::events::SessionInput;
use crate::envelope::{Frame, FrameOrder, Message, MessageAssembly, SecretKey};

/// Input frames waiting for one session; past this the requester floods the node and the
/// session ends (`limit`).
pub const INPUT_QUEUE: usize = 1024;

/// How often a session checks its token and its time limits.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// One sealed input frame: its index and bytes.
pub type InputFrame = (u32, Vec<u8>);

/// A session's sealed input frames, as they pass on chain.
pub type Inputs = mpsc::Receiver<InputFrame>;

/// Where the requesters' input frames go: one queue per open session.
#[derive(Debug, Default)]
pub struct InputRoutes {
    routes: Mutex<HashMap<Address, mpsc::Sender<InputFrame>>>,
}

impl InputRoutes {
    /// Opens `request`'s queue, before its session opens on chain (its first input may be in
    /// the very next checkpoint).
    pub fn open(&self, request: Address) -> Inputs {
        let (tx, rx) = mpsc::channel(INPUT_QUEUE);
        self.routes.lock().expect("lock").insert(request, tx);
        rx
    }

    /// Hands an input frame to its session; frames of requests that are not open sessions
    /// here are dropped (the contract only lets the requester send them, at their own cost).
    /// A session whose queue is full loses its queue, and ends.
    pub fn deliver(&self, input: SessionInput) {
        let mut routes = self.routes.lock().expect("lock");
        if let Some(route) = routes.get(&input.request_id)
            && route.try_send((input.index, input.data)).is_err()
        {
            routes.remove(&input.request_id);
        }
    }

    /// Forgets `request`'s queue.
    pub fn close(&self, request: &Address) {
        self.routes.lock().expect("lock").remove(request);
    }
}

/// An open session: the API server's socket and the requester's input.
pub struct Session {
    /// The WebSocket to the API server.
    pub socket: SessionSocket,
    /// The requester's sealed input frames.
    pub inputs: Inputs,
    /// The key the session's request, and so its input, was sealed to.
    pub key: SecretKey,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

/// Why the session loop stopped.
enum Stop {
    /// End on chain with this reason.
    End(EndReason),
    /// The requester hung up: nothing to put on chain.
    HungUp,
}

impl Pump {
    /// Relays `session` until it ends; `None` when the requester hung up.
    pub(super) async fn relay(&mut self, p: &Processor, session: Session) -> Option<EndReason> {
        let Session { socket, mut inputs, key } = session;
        let request = self.submitted.request_id;
        let limits = p.limits();
        let started = tokio::time::Instant::now();
        let deadline = started + Duration::from_secs(limits.session_max_secs);
        let idle_limit = Duration::from_secs(limits.session_idle_secs);
        let mut last_activity = started;
        let (mut to_server, mut from_server) = socket.split();
        let mut order = FrameOrder::default();
        let mut assembly = MessageAssembly::new(SESSION_MESSAGE_MAX);
        let mut carried: u64 = 0;
        let mut check = tokio::time::interval(CHECK_EVERY);
        let stop = loop {
            tokio::select! {
                biased;
                _ = self.stop.notified() => {
                    break if p.is_stopping() { Stop::End(EndReason::Node) } else { Stop::HungUp };
                }
                _ = check.tick() => {
                    if let Some(reason) = Self::refusal(p, &self.submitted).await {
                        break Stop::End(reason);
                    }
                    let now = tokio::time::Instant::now();
                    if now >= deadline || now.duration_since(last_activity) >= idle_limit {
                        tracing::info!(%request, "session ended at its time limit");
                        break Stop::End(EndReason::Limit);
                    }
                }
                input = inputs.recv() => {
                    let Some((index, data)) = input else {
                        tracing::warn!(%request, "the requester's input flooded the node; ending the session");
                        break Stop::End(EndReason::Limit);
                    };
                    last_activity = tokio::time::Instant::now();
                    carried += data.len() as u64;
                    if carried > limits.stream_max_bytes {
                        break Stop::End(EndReason::Limit);
                    }
                    match self.take_input(p, &key, &mut order, &mut assembly, index, data) {
                        Ok(messages) => {
                            for message in messages {
                                if to_server.send(message).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(why) => {
                            tracing::warn!(%request, why, "session input refused; ending the session");
                            p.metrics.errors.with_label_values(&["session_input"]).inc();
                            break Stop::End(EndReason::Limit);
                        }
                    }
                }
                message = from_server.next() => {
                    last_activity = tokio::time::Instant::now();
                    let mut frames = Vec::new();
                    let mut ended = push_message(message, &mut frames);
                    // What the API server sent while the last frames were on their way goes in
                    // the same transaction.
                    while !ended && frames.len() < FRAMES_PER_TRANSACTION {
                        match from_server.next().now_or_never() {
                            Some(message) => ended = push_message(message, &mut frames),
                            None => break,
                        }
                    }
                    let bytes: u64 = frames.iter().map(frame_len).sum();
                    carried += bytes;
                    if carried > limits.stream_max_bytes {
                        break Stop::End(EndReason::Limit);
                    }
                    match self.send(p, frames, bytes).await {
                        Some(stop) => break stop,
                        None if ended => break Stop::End(EndReason::Completed),
                        None => {}
                    }
                }
            }
        };
        // The requester learns why the socket closed before the end lands.
        if let Stop::End(reason) = &stop
            && *reason != EndReason::Completed
        {
            let close = Frame::Close { code: 1000, reason: format!("session ended: {}", reason.as_str()) };
            let _ = self.send(p, vec![close], 0).await;
        }
        let _ = to_server.close().await;
        match stop {
            Stop::End(reason) => Some(reason),
            Stop::HungUp => None,
        }
    }

    /// Opens input frame `index`, releases what is now in order, and returns the whole
    /// messages it completes; why not, when the input is not what the requester may send.
    fn take_input(
        &self,
        p: &Processor,
        key: &SecretKey,
        order: &mut FrameOrder,
        assembly: &mut MessageAssembly,
        index: u32,
        data: Vec<u8>,
    ) -> Result<Vec<WsMessage>, String> {
        let request = self.submitted.request_id;
        let mut messages = Vec::new();
        for (index, data) in order.add(index, data).map_err(|e| e.to_string())? {
            match Frame::open_input(&data, key, p.cluster, request, index).map_err(|e| e.to_string())? {
                Frame::Message { binary, data, last } => {
                    if let Some(Message { binary, data }) =
                        assembly.add(binary, data, last).map_err(|e| e.to_string())?
                    {
                        messages.push(if binary {
                            WsMessage::Binary(data.into())
                        } else {
                            WsMessage::Text(String::from_utf8(data).map_err(|_| "a text message is not UTF-8")?.into())
                        });
                    }
                }
                Frame::Close { .. } => messages.push(WsMessage::Close(None)),
                Frame::Head { .. } | Frame::Data(_) => return Err(format!("input frame {index} is not a message")),
            }
        }
        Ok(messages)
    }

    /// Seals and sends `frames` as the stream's next, a transaction's worth at a time; a stop
    /// when the session must end.
    async fn send(&mut self, p: &Processor, frames: Vec<Frame>, bytes: u64) -> Option<Stop> {
        let request = self.submitted.request_id;
        for batch in frames.chunks(FRAMES_PER_TRANSACTION) {
            let mut sealed = Vec::with_capacity(batch.len());
            for (i, frame) in batch.iter().enumerate() {
                match frame.seal(&self.reply, p.cluster, request, self.next_index + i as u32) {
                    Ok(data) => sealed.push(data),
                    Err(_) => return Some(Stop::End(EndReason::Node)),
                }
            }
            let count = sealed.len();
            match p.send_frames(request, self.request, sealed).await {
                Ok(true) => {}
                Ok(false) => return Some(Stop::HungUp),
                Err(e) => {
                    tracing::warn!(%request, error = %e, "sending session frames failed");
                    return Some(Stop::End(EndReason::Node));
                }
            }
            self.next_index += count as u32;
            p.metrics.stream_frames.inc_by(count as u64);
        }
        p.metrics.stream_bytes.inc_by(bytes);
        None
    }
}

/// Adds what one message from the API server becomes to `frames`; whether the socket ended.
fn push_message(
    message: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
    frames: &mut Vec<Frame>,
) -> bool {
    match message {
        Some(Ok(WsMessage::Binary(data))) => frames.extend(Message { binary: true, data: data.to_vec() }.frames()),
        Some(Ok(WsMessage::Text(text))) => {
            frames.extend(Message { binary: false, data: text.as_bytes().to_vec() }.frames())
        }
        Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => {}
        Some(Ok(WsMessage::Close(close))) => {
            let (code, reason) =
                close.map(|c| (u16::from(c.code), c.reason.to_string())).unwrap_or((1000, String::new()));
            frames.push(Frame::Close { code, reason });
            return true;
        }
        Some(Err(e)) => {
            frames.push(Frame::Close { code: 1011, reason: format!("the API server's socket failed: {e}") });
            return true;
        }
        None => {
            frames.push(Frame::Close { code: 1000, reason: String::new() });
            return true;
        }
    }
    false
}

fn frame_len(frame: &Frame) -> u64 {
    match frame {
        Frame::Message { data, .. } | Frame::Data(data) => data.len() as u64,
        _ => 0,
    }
}
