//! Sessions (exec, attach, port-forward): a WebSocket to the API server, relayed message for
//! message with the requester through the chain.
//!
//! This module owns what happens once the API server switched a session's connection: the
//! requester's sealed input frames (`request::SessionInput`, routed here by request id) are
//! opened with the session's key (which the node drew when the session opened and sealed to
//! the requester and the cluster's auditors: `envelope::SessionKey`), bound to their index,
//! released in order,
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
use crate::clock::now_ms;
use crate::contract::EndReason;
use crate::contract::events::SessionInput;
use crate::envelope::{Frame, FrameOrder, Message, MessageAssembly, SessionKey};

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
    /// The subprotocol the API server chose.
    pub protocol: String,
    /// The requester's sealed input frames.
    pub inputs: Inputs,
    /// The session's key: its input is sealed with it.
    pub key: SessionKey,
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
    /// End on chain at a limit (`limit`): which one, in words for the requester.
    Limit(String),
    /// The requester hung up: nothing to put on chain.
    HungUp,
}

impl Pump {
    /// Relays `session` until it ends; `None` when the requester hung up.
    pub(super) async fn relay(&mut self, p: &Processor, session: Session) -> Option<EndReason> {
        let Session { socket, protocol, mut inputs, key } = session;
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
                    if now >= deadline {
                        tracing::info!(%request, "session ended at session-max-secs");
                        break Stop::Limit(format!("the session ran for the node's session-max-secs ({} s); the node ended it", limits.session_max_secs));
                    }
                    if now.duration_since(last_activity) >= idle_limit {
                        tracing::info!(%request, "session ended at session-idle-secs");
                        break Stop::Limit(format!("the session carried nothing either way for the node's session-idle-secs ({} s); the node ended it", limits.session_idle_secs));
                    }
                }
                input = inputs.recv() => {
                    tracing::trace!(%request, frame = input.as_ref().map(|i| i.0), "session input");
                    let Some((index, data)) = input else {
                        tracing::warn!(%request, "the requester's input flooded the node; ending the session");
                        break Stop::Limit(format!("the session's input outran the node (more than {INPUT_QUEUE} frames waiting); the node ended it"));
                    };
                    last_activity = tokio::time::Instant::now();
                    match self.take_input(p, &key, &mut order, &mut assembly, index, data) {
                        Ok(messages) => {
                            // What reaches the API server counts, not the sealed frames: those
                            // are compressed, so a run of one byte would pass the limit 200 times over.
                            carried += messages.iter().map(|m| m.len() as u64).sum::<u64>();
                            if carried > limits.stream_max_bytes {
                                break Stop::Limit(too_many_bytes(limits.stream_max_bytes));
                            }
                            for message in messages {
                                if to_server.send(message).await.is_err() {
                                    break;
                                }
                            }
                        }
                        Err(why) => {
                            tracing::warn!(%request, why, "session input refused; ending the session");
                            p.metrics.errors.with_label_values(&["session_input"]).inc();
                            break Stop::Limit(format!("the node refused the session's input ({why}); it ended the session"));
                        }
                    }
                }
                message = from_server.next() => {
                    tracing::trace!(%request, ?message, "from the API server");
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
                        break Stop::Limit(too_many_bytes(limits.stream_max_bytes));
                    }
                    match self.send(p, frames, bytes).await {
                        Some(stop) => break stop,
                        None if ended => break Stop::End(EndReason::Completed),
                        None => {}
                    }
                }
            }
        };
        // The requester learns why the socket closed before the end lands: kubectl prints a
        // remote-command protocol's error channel, and reads a close's reason otherwise.
        let ending = match &stop {
            Stop::End(EndReason::Completed) | Stop::HungUp => None,
            Stop::End(reason) => Some((*reason, ended_because(*reason, &self.submitted))),
            Stop::Limit(why) => Some((EndReason::Limit, why.clone())),
        };
        if let Some((reason, why)) = ending {
            let mut frames = Vec::new();
            if let Some(status) = error_channel_status(&protocol, reason, &why) {
                frames.extend(status.frames());
            }
            frames.push(Frame::Close { code: 1000, reason: why.chars().take(120).collect() });
            let _ = self.send(p, frames, 0).await;
        }
        // The connection is dropped, not closed with a WebSocket close: kube-apiserver 1.33 keeps
        // running an attach (and its connection to the kubelet) after a client's close frame,
        // and ends it when the connection goes (as when kubectl is killed).
        drop((to_server, from_server));
        match stop {
            Stop::End(reason) => Some(reason),
            Stop::Limit(_) => Some(EndReason::Limit),
            Stop::HungUp => None,
        }
    }

    /// Opens input frame `index`, releases what is now in order, and returns the whole
    /// messages it completes; why not, when the input is not what the requester may send.
    fn take_input(
        &self,
        p: &Processor,
        key: &SessionKey,
        order: &mut FrameOrder,
        assembly: &mut MessageAssembly,
        index: u32,
        data: Vec<u8>,
    ) -> Result<Vec<WsMessage>, String> {
        let request = self.submitted.request_id;
        let mut messages = Vec::new();
        for (index, data) in order.add(index, data).map_err(|e| e.to_string())? {
            match key.open_input(&data, p.cluster, request, index).map_err(|e| e.to_string())? {
                Frame::Message { binary, data, last, at_ms } => {
                    if let Some(Message { binary, data, .. }) =
                        assembly.add(binary, data, last, at_ms).map_err(|e| e.to_string())?
                    {
                        messages.push(if binary {
                            WsMessage::Binary(data.into())
                        } else {
                            WsMessage::Text(String::from_utf8(data).map_err(|_| "a text message is not UTF-8")?.into())
                        });
                    }
                }
                Frame::Close { .. } => messages.push(WsMessage::Close(None)),
                Frame::Head { .. } | Frame::Open { .. } | Frame::Data(_) => {
                    return Err(format!("input frame {index} is not a message"));
                }
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
                match self.seal.seal(frame, p.cluster, request, self.next_index + i as u32) {
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

/// The words for a session that carried more than `stream-max-bytes`.
fn too_many_bytes(max: u64) -> String {
    format!("the session carried more than the node's stream-max-bytes ({max} bytes); the node ended it")
}

/// Why the node ended a session, in words for the requester.
fn ended_because(reason: EndReason, submitted: &crate::contract::events::RequestSubmitted) -> String {
    match reason {
        EndReason::Token => format!(
            "seal token {} was revoked or expired, or no longer allows this session; the node ended it",
            submitted.token_id
        ),
        EndReason::Limit => "the session reached a limit of the node; it ended it".to_string(),
        EndReason::Node => "the node failed or is stopping; it ended the session".to_string(),
        EndReason::Completed | EndReason::Client => "the session ended".to_string(),
    }
}

/// The remote-command protocols' error-channel message (channel 3, a `Status`) that tells
/// kubectl why the session ended, for the protocols that have one (v4 and v5).
fn error_channel_status(protocol: &str, reason: EndReason, why: &str) -> Option<Message> {
    if protocol != "v4.channel.k8s.io" && protocol != "v5.channel.k8s.io" {
        return None;
    }
    let (code, status_reason) = match reason {
        EndReason::Token => (403, "Forbidden"),
        EndReason::Limit => (408, "Timeout"),
        _ => (500, "InternalError"),
    };
    let status = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": why, "reason": status_reason, "code": code,
    });
    let mut data = vec![3u8];
    data.extend(serde_json::to_vec(&status).expect("JSON"));
    Some(Message { binary: true, data, at_ms: now_ms() })
}

/// Adds what one message from the API server becomes to `frames`; whether the socket ended.
fn push_message(
    message: Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>,
    frames: &mut Vec<Frame>,
) -> bool {
    match message {
        Some(Ok(WsMessage::Binary(data))) => {
            frames.extend(Message { binary: true, data: data.to_vec(), at_ms: now_ms() }.frames())
        }
        Some(Ok(WsMessage::Text(text))) => {
            frames.extend(Message { binary: false, data: text.as_bytes().to_vec(), at_ms: now_ms() }.frames())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn input(request: Address, index: u32) -> SessionInput {
        SessionInput { request_id: request, index, data: vec![index as u8] }
    }

    #[tokio::test]
    async fn input_reaches_only_its_open_session_and_a_flood_closes_the_queue() {
        let (a, b) = (Address::from_static("0xa"), Address::from_static("0xb"));
        let routes = InputRoutes::default();
        let mut queue = routes.open(a);
        routes.deliver(input(a, 0));
        routes.deliver(input(b, 0));
        assert_eq!(queue.recv().await, Some((0, vec![0])));
        assert!(queue.try_recv().is_err(), "another request's input is not this session's");
        for i in 0..=INPUT_QUEUE as u32 {
            routes.deliver(input(a, i));
        }
        let mut drained = 0;
        while queue.recv().await.is_some() {
            drained += 1;
        }
        assert_eq!(drained, INPUT_QUEUE, "the queue holds its bound, then closes: the session ends");
        routes.deliver(input(a, 0));
        let mut reopened = routes.open(a);
        routes.close(&a);
        assert_eq!(reopened.recv().await, None);
    }

    #[test]
    fn kubectl_is_told_why_on_the_remote_command_error_channel_only() {
        let submitted = crate::contract::events::RequestSubmitted {
            request_id: Address::from_static("0x1"),
            cluster_id: Address::from_static("0x2"),
            token_id: Address::from_static("0x70"),
            requester: Address::from_static("0x3"),
            node: Address::from_static("0x4"),
            verb: 3,
            group: String::new(),
            resource: "pods/exec".into(),
            namespace: "default".into(),
            name: "p".into(),
            body_len: 0,
            body_digest: vec![0; 32],
            chunk_count: 0,
            sealing_key: vec![0; 32],
            reply_key: vec![0; 32],
            timestamp_ms: 0,
        };
        let why = ended_because(EndReason::Token, &submitted);
        assert!(why.contains(&submitted.token_id.to_string()), "{why}");
        for protocol in ["v5.channel.k8s.io", "v4.channel.k8s.io"] {
            let message = error_channel_status(protocol, EndReason::Token, &why).unwrap();
            assert!(message.binary && message.data[0] == 3, "the error channel");
            let status: serde_json::Value = serde_json::from_slice(&message.data[1..]).unwrap();
            assert_eq!((status["code"].as_u64(), status["reason"].as_str()), (Some(403), Some("Forbidden")));
            assert_eq!(status["message"], why);
        }
        assert!(error_channel_status("SPDY/3.1+portforward.k8s.io", EndReason::Token, &why).is_none());
        assert!(error_channel_status("channel.k8s.io", EndReason::Limit, &why).is_none());
    }
}
