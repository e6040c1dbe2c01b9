//! Sessions (`kubectl exec`, `attach`, `cp`, `port-forward`): kubectl's WebSocket relayed
//! message for message through the chain.
//!
//! This module owns the proxy's side of a session the node opened: the `101` answer to
//! kubectl's upgrade, with the subprotocol the API server chose (as the node's first frame
//! reports it), then both directions at once. kubectl's messages are cut into frames and sent
//! as sealed input ([`RoundTrip::send_input`]), one transaction in flight, what kubectl writes
//! meanwhile sharing the next; the node's frames are put back into messages for kubectl. A
//! close from kubectl is a hang-up on chain; the node's end, recorded on chain, closes
//! kubectl's socket. It never reads what the messages mean: the Kubernetes stream protocols
//! (remote command v1-v5, port-forward over WebSocket) pass through whole, so what kubectl and
//! the API server agree on is what runs.

use std::pin::pin;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::{HeaderMap, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, handshake};

use super::roundtrip::{
    INPUT_FRAMES_PER_TRANSACTION, OpenStream, RoundTrip, RoundTripError, SESSION_MESSAGE_MAX, SessionInput, StreamItem,
};
use crate::clock::now_ms;
use crate::envelope::{FRAME_DATA_MAX, Frame, Message};

/// Input frames queued for the chain. kubectl's socket is read only while a whole message of
/// the largest size still fits, so a fast writer waits on TCP instead of filling memory.
const INPUT_QUEUE: usize = 256;
const FRAMES_PER_MESSAGE: usize = SESSION_MESSAGE_MAX / FRAME_DATA_MAX + 1;

/// Input transactions in flight at once (each holds one of the proxy's gas coins).
const INPUT_IN_FLIGHT: usize = 4;

/// How long the node's last frames may take to arrive once input can no longer be sent.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Whether `headers` ask for a WebSocket upgrade, with the key to answer it.
pub fn websocket_key(headers: &HeaderMap) -> Option<&str> {
    let upgrade = headers.get(header::UPGRADE)?.to_str().ok()?;
    upgrade.eq_ignore_ascii_case("websocket").then_some(())?;
    headers.get(header::SEC_WEBSOCKET_KEY)?.to_str().ok()
}

/// The `101 Switching Protocols` kubectl gets for `stream`, answering its WebSocket `key`
/// with the subprotocol the API server chose.
pub fn switching<B>(stream: &OpenStream, key: &str, body: B) -> Result<Response<B>, http::Error> {
    let mut builder = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, handshake::derive_accept_key(key.as_bytes()));
    if let Some((_, protocol)) = stream.headers.iter().find(|(name, _)| name == "sec-websocket-protocol") {
        builder = builder.header(header::SEC_WEBSOCKET_PROTOCOL, protocol.as_str());
    }
    builder.body(body)
}

/// How a session ended, seen from the proxy.
#[derive(Debug)]
enum Ending {
    /// The node ended it on chain.
    Node,
    /// kubectl closed its socket (or it broke): hang up on chain.
    Kubectl,
    /// The proxy could not go on (a frame that does not open, the chain unreachable).
    Failed(String),
}

/// Relays the session `stream` between kubectl's upgraded connection and the chain until
/// either side ends it; every end is on chain.
pub async fn relay(
    roundtrip: &RoundTrip,
    mut stream: OpenStream,
    input: SessionInput,
    upgraded: hyper::upgrade::OnUpgrade,
) {
    let request = stream.request;
    let socket = match upgraded.await {
        Ok(socket) => socket,
        Err(e) => {
            tracing::warn!(%request, error = %e, "kubectl's connection did not upgrade; hanging up");
            hang_up(roundtrip, request).await;
            return;
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(SESSION_MESSAGE_MAX))
        .max_frame_size(Some(SESSION_MESSAGE_MAX));
    let socket = WebSocketStream::from_raw_socket(TokioIo::new(socket), Role::Server, Some(config)).await;
    let (mut to_kubectl, mut from_kubectl) = socket.split();
    let (queue, mut queued) = mpsc::channel::<Frame>(INPUT_QUEUE);
    let mut uplink = pin!(send_input(roundtrip, input, &mut queued));
    let (mut reading, mut uplink_running, mut closed_kubectl) = (true, true, false);
    let mut drain_until: Option<tokio::time::Instant> = None;
    let ending = loop {
        tokio::select! {
            sent = &mut uplink, if uplink_running => {
                uplink_running = false;
                reading = false;
                if let Err(e) = sent {
                    tracing::info!(%request, error = %e, "session input could not be sent; waiting for the node's end");
                    drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
                }
            }
            _ = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)), if drain_until.is_some() => {
                break Ending::Failed("the node's end of the session did not arrive".into());
            }
            message = from_kubectl.next(), if reading && queue.capacity() >= FRAMES_PER_MESSAGE => {
                let message = match message {
                    Some(Ok(WsMessage::Binary(data))) => Message { binary: true, data: data.to_vec(), at_ms: now_ms() },
                    Some(Ok(WsMessage::Text(text))) => {
                        Message { binary: false, data: text.as_bytes().to_vec(), at_ms: now_ms() }
                    }
                    Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_))) => continue,
                    // kubectl answering the API server's close: the node's end is on its way.
                    Some(Ok(WsMessage::Close(_)) | Err(_)) | None if closed_kubectl => {
                        reading = false;
                        drain_until.get_or_insert(tokio::time::Instant::now() + DRAIN_GRACE);
                        continue;
                    }
                    Some(Ok(WsMessage::Close(_))) | None => break Ending::Kubectl,
                    Some(Err(e)) => {
                        tracing::debug!(%request, error = %e, "kubectl's socket failed");
                        break Ending::Kubectl;
                    }
                };
                tracing::trace!(%request, len = message.data.len(), "kubectl → chain");
                for frame in message.frames() {
                    if queue.try_send(frame).is_err() {
                        break;
                    }
                }
            }
            item = stream.next() => match item {
                Some(Ok(StreamItem::Message(message))) => {
                    tracing::trace!(%request, len = message.data.len(), "chain → kubectl");
                    let message = if message.binary {
                        WsMessage::Binary(message.data.into())
                    } else {
                        WsMessage::Text(String::from_utf8_lossy(&message.data).into_owned().into())
                    };
                    if to_kubectl.send(message).await.is_err() {
                        break Ending::Kubectl;
                    }
                }
                Some(Ok(StreamItem::Closed { code, reason })) => {
                    closed_kubectl = true;
                    let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
                    let _ = to_kubectl.send(WsMessage::Close(Some(frame))).await;
                }
                Some(Ok(StreamItem::Data(_))) => {}
                Some(Ok(StreamItem::End { reason, frames })) => {
                    tracing::info!(%request, ?reason, frames, "session ended on chain");
                    break Ending::Node;
                }
                Some(Err(e)) => break Ending::Failed(e.to_string()),
                None => break Ending::Failed("the proxy stopped following the chain".into()),
            },
        }
    };
    match &ending {
        Ending::Node => {}
        Ending::Kubectl => {
            tracing::info!(%request, "kubectl closed the session; hanging up on chain");
            hang_up(roundtrip, request).await;
        }
        Ending::Failed(why) => {
            tracing::warn!(%request, why, "session failed; hanging up on chain");
            hang_up(roundtrip, request).await;
        }
    }
    if !closed_kubectl {
        let (code, reason) = match ending {
            Ending::Failed(why) => (CloseCode::Error, why),
            _ => (CloseCode::Normal, String::new()),
        };
        let _ = to_kubectl.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
    }
    let _ = to_kubectl.close().await;
}

/// Sends what is queued, each transaction carrying everything queued since the last (up to
/// [`INPUT_FRAMES_PER_TRANSACTION`]), with up to [`INPUT_IN_FLIGHT`] transactions in flight:
/// a keystroke goes at once, and a large upload does not wait for each transaction's effects
/// (a finality each on a public network) before sending the next. Returns once the queue
/// closes and everything sent has landed, or with the first failure.
async fn send_input(
    roundtrip: &RoundTrip,
    mut input: SessionInput,
    queued: &mut mpsc::Receiver<Frame>,
) -> Result<(), RoundTripError> {
    let mut in_flight = futures::stream::FuturesUnordered::new();
    let mut open = true;
    while open || !in_flight.is_empty() {
        tokio::select! {
            frame = queued.recv(), if open && in_flight.len() < INPUT_IN_FLIGHT => {
                let Some(first) = frame else {
                    open = false;
                    continue;
                };
                let mut batch = vec![first];
                while batch.len() < INPUT_FRAMES_PER_TRANSACTION {
                    match queued.try_recv() {
                        Ok(frame) => batch.push(frame),
                        Err(_) => break,
                    }
                }
                let (target, first_index) = (input.clone(), input.reserve(batch.len()));
                in_flight.push(async move { roundtrip.send_input(&target, first_index, &batch).await });
            }
            Some(sent) = in_flight.next(), if !in_flight.is_empty() => sent?,
        }
    }
    Ok(())
}

async fn hang_up(roundtrip: &RoundTrip, request: sui_sdk_types::Address) {
    // Already ended by the node is success too: its end is the one on record.
    if let Err(e) = roundtrip.hang_up(request).await {
        tracing::warn!(%request, error = %e, "could not hang the session up on chain");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_websocket_upgrade_with_a_key_is_a_session_handshake() {
        let mut headers = HeaderMap::new();
        assert_eq!(websocket_key(&headers), None);
        headers.insert(header::UPGRADE, "SPDY/3.1".parse().unwrap());
        headers.insert(header::SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
        assert_eq!(websocket_key(&headers), None, "kubectl's SPDY fallback");
        headers.insert(header::UPGRADE, "WebSocket".parse().unwrap());
        assert_eq!(websocket_key(&headers), Some("dGhlIHNhbXBsZSBub25jZQ=="));
        // RFC 6455's own example: the accept key kubectl checks.
        assert_eq!(handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
