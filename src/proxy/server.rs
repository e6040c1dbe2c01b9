//! The HTTPS server kubectl talks to: checks that a request is for loopback and carries this
//! identity's bearer token, answers what the chain path cannot carry at once, serves
//! discovery from a cache of node-signed answers, and sends everything else through the
//! chain.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sui_sdk_types::Ed25519PublicKey;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::explain::{RequestContext, TokenFacts, attributes_refusal, explain, not_carried};
use super::metrics::ProxyMetrics;
use super::roundtrip::{OpenStream, Reply, RoundTrip, RoundTripError, StreamItem};
use crate::chain::ChainError;
use crate::contract::Abort;
use crate::credential::{BearerError, BearerToken};
use crate::envelope::{NotCarried, RequestEnvelope, RequestInfo, ResponseEnvelope};

/// Default largest request body the proxy carries: more than the API server's own 3 MiB.
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

/// Default requests the proxy has on chain at once, waiting for their answer: a node's
/// default `max-open-per-requester`, so kubectl's bursts wait here instead of drawing the
/// node's `429` with a 5 s `Retry-After`. Streams count only until they open.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 16;

/// How long non-resource answers (discovery) are reused; OpenAPI documents addressed by
/// content hash are immutable and kept for [`IMMUTABLE_TTL`].
const DISCOVERY_TTL: Duration = Duration::from_secs(600);
const IMMUTABLE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Request headers never put in an envelope: credentials, hop-by-hop headers, the WebSocket
/// handshake's own (the node makes its own; only the offered subprotocols travel), and
/// `accept-encoding` (the node's client negotiates its own compression).
const DROPPED_HEADERS: [&str; 14] = [
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "authorization",
    "host",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "content-length",
    "accept-encoding",
    "proxy-authorization",
];

/// How one proxy answers.
#[derive(Debug)]
pub struct Proxy {
    roundtrip: RoundTrip,
    bearers: Bearers,
    cluster_name: String,
    max_body: usize,
    settings_hint: String,
    /// Permits to have a request on chain ([`DEFAULT_MAX_IN_FLIGHT`]).
    in_flight: tokio::sync::Semaphore,
    discovery: Mutex<HashMap<(String, String), (Instant, ResponseEnvelope)>>,
    metrics: ProxyMetrics,
    /// Sessions refused over WebSocket, by target, for kubectl's SPDY retry of the same one:
    /// client-go falls back to SPDY after any failed upgrade, and the reason kubectl shows
    /// must be the refusal, not that SPDY is not carried.
    refused_sessions: Mutex<HashMap<String, (Instant, ResponseEnvelope)>>,
}

/// How long a session's refusal is kept for kubectl's SPDY retry.
const REFUSAL_KEPT: Duration = Duration::from_secs(30);

/// A response body: whole, or a stream's frames as they arrive.
type Body = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;
type Answer = Response<Body>;

/// Stream body chunks buffered between the chain and kubectl.
const STREAM_BUFFER: usize = 64;

impl Proxy {
    /// A proxy sending requests through `roundtrip`, at most `max_in_flight` at once,
    /// accepting bearer tokens its requester signed for its cluster and seal token;
    /// `settings_hint` names where to raise `max_body`.
    pub fn new(
        roundtrip: RoundTrip,
        cluster_name: String,
        (max_body, max_in_flight): (usize, usize),
        settings_hint: String,
    ) -> Proxy {
        let bearers = Bearers::new(roundtrip.requester_key(), (roundtrip.cluster(), roundtrip.token_id()));
        Proxy {
            roundtrip,
            bearers,
            cluster_name,
            max_body,
            settings_hint,
            in_flight: tokio::sync::Semaphore::new(max_in_flight.max(1)),
            discovery: Mutex::default(),
            metrics: ProxyMetrics::new(),
            refused_sessions: Mutex::default(),
        }
    }

    /// Its metrics.
    pub fn metrics(&self) -> &ProxyMetrics {
        &self.metrics
    }

    /// Answers one request.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let started = Instant::now();
        let answer = self.clone().respond(request).await;
        self.metrics.requests.with_label_values(&[answer.status().as_str()]).inc();
        self.metrics.latency.observe(started.elapsed().as_secs_f64());
        answer
    }

    async fn respond(self: Arc<Self>, request: Request<Incoming>) -> Answer {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
        let info = RequestInfo::parse(parts.method.as_str(), &path);
        if let Some(refusal) = self.refuse_early(&parts.method, &parts.uri, &parts.headers, info.as_ref().ok()) {
            return to_http(refusal, &parts.method);
        }
        let info = match info {
            Ok(info) => info,
            Err(e) => return to_http(attributes_refusal(&e), &parts.method),
        };
        // From here on the request is the one the parser read: kubectl's string is not sent.
        let path = info.uri();
        let attributes = info.attributes();
        let announced = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if let Some(len) = announced.filter(|len| *len > self.max_body) {
            return to_http(self.too_large(Some(len)), &parts.method);
        }
        let body = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
                return to_http(self.too_large(None), &parts.method);
            }
            Err(e) => {
                return to_http(
                    ResponseEnvelope::status(400, "BadRequest", &format!("reading the request body: {e}")),
                    &parts.method,
                );
            }
        };
        let accept = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let cache_key = (path.clone(), accept);
        if attributes.is_non_resource() {
            if let Some(cached) = self.cached(&cache_key) {
                self.metrics.discovery.with_label_values(&["hit"]).inc();
                return to_http(cached, &parts.method);
            }
            self.metrics.discovery.with_label_values(&["miss"]).inc();
        }
        let headers = parts
            .headers
            .iter()
            .filter(|(name, _)| !DROPPED_HEADERS.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let envelope = RequestEnvelope { method: parts.method.as_str().to_string(), path: path.clone(), headers, body };
        let started = Instant::now();
        let session = info.is_session().then(|| {
            let key = super::session::websocket_key(&parts.headers).unwrap_or_default().to_string();
            (key, parts.extensions.remove::<hyper::upgrade::OnUpgrade>())
        });
        let exchanged = {
            let _permit = match self.in_flight.try_acquire() {
                Ok(permit) => permit,
                Err(_) => {
                    tracing::debug!(path, "every in-flight slot is taken (proxy.max_in_flight); waiting for one");
                    self.metrics.slot_waits.inc();
                    let _waiting = GaugeGuard::inc(&self.metrics.waiting);
                    self.in_flight.acquire().await.expect("the semaphore is never closed")
                }
            };
            let _on_chain = GaugeGuard::inc(&self.metrics.in_flight);
            self.roundtrip.exchange(&envelope, attributes.clone()).await
        };
        let answer = match exchanged {
            Ok(Reply::Stream(stream)) if stream.status == 101 && session.is_some() => {
                let (key, upgraded) = session.expect("a session");
                tracing::debug!(method = %parts.method, path, elapsed = ?started.elapsed(), "session opened");
                return self.clone().open_session(*stream, &key, upgraded, path).await;
            }
            Ok(Reply::Stream(stream)) => {
                tracing::debug!(method = %parts.method, path, status = stream.status, elapsed = ?started.elapsed(), "stream opened");
                return self.clone().stream_to_http(*stream);
            }
            Ok(Reply::Response(response)) => {
                if attributes.is_non_resource() && response.status == 200 {
                    self.remember(cache_key, response.clone());
                }
                response
            }
            Err(e) => {
                tracing::info!(error = %e, path, "request refused or failed");
                if matches!(e, RoundTripError::Timeout { .. }) {
                    self.metrics.refusals.with_label_values(&["timeout"]).inc();
                }
                let facts = self.facts_for(&e).await;
                let ctx = RequestContext {
                    attributes: &attributes,
                    token: self.roundtrip.token_id(),
                    cluster_name: &self.cluster_name,
                    facts,
                };
                explain(&e, &ctx)
            }
        };
        tracing::debug!(method = %parts.method, path, status = answer.status, elapsed = ?started.elapsed(), "answered");
        if session.is_some() {
            self.remember_refusal(path, &answer);
        }
        to_http(answer, &parts.method)
    }

    /// Keeps why session `path` was refused over WebSocket, for kubectl's SPDY retry of it.
    fn remember_refusal(&self, path: String, answer: &ResponseEnvelope) {
        let mut refused = self.refused_sessions.lock().expect("refusals lock");
        refused.retain(|_, (at, _)| at.elapsed() < REFUSAL_KEPT);
        refused.insert(path, (Instant::now(), answer.clone()));
    }

    /// Streams `stream` to kubectl as the API server would (chunked, each frame flushed as it
    /// arrives). When kubectl goes away the stream is hung up on chain; when the node ends a
    /// JSON watch early, kubectl gets the reason as a watch `ERROR` event with a `Status`.
    fn stream_to_http(self: Arc<Self>, mut stream: OpenStream) -> Answer {
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<hyper::body::Frame<Bytes>, std::convert::Infallible>>(STREAM_BUFFER);
        let json =
            stream.headers.iter().any(|(name, value)| name == "content-type" && value.starts_with("application/json"));
        let mut builder = Response::builder().status(StatusCode::from_u16(stream.status).unwrap_or(StatusCode::OK));
        for (name, value) in &stream.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = stream.request;
        let token = self.roundtrip.token_id();
        let open = GaugeGuard::inc(&self.metrics.streams_open);
        tokio::spawn(async move {
            let _open = open;
            let hung_up = loop {
                let item = tokio::select! {
                    _ = tx.closed() => break true,
                    item = stream.next() => item,
                };
                let chunk = match item {
                    Some(Ok(StreamItem::Data(bytes))) => Bytes::from(bytes),
                    // Session frames belong to an upgraded connection, never to a body.
                    Some(Ok(StreamItem::Message(_) | StreamItem::Closed { .. })) => continue,
                    Some(Ok(StreamItem::End { reason, frames })) => {
                        tracing::info!(%request, ?reason, frames, "stream ended");
                        if json && let Some(status) = super::explain::stream_end(reason, token, frames) {
                            let object: serde_json::Value = serde_json::from_slice(&status.body).unwrap_or_default();
                            let mut line = serde_json::to_vec(&serde_json::json!({"type": "ERROR", "object": object}))
                                .expect("JSON");
                            line.push(b'\n');
                            let _ = tx.send(Ok(hyper::body::Frame::data(Bytes::from(line)))).await;
                        }
                        break false;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(%request, error = %e, "stream frame refused; hanging up");
                        break true;
                    }
                    None => break false,
                };
                if tx.send(Ok(hyper::body::Frame::data(chunk))).await.is_err() {
                    break true;
                }
            };
            if hung_up {
                match self.roundtrip.hang_up(request).await {
                    Ok(()) => tracing::info!(%request, "kubectl went away; stream hung up on chain"),
                    Err(e) => tracing::warn!(%request, error = %e, "could not hang the stream up on chain"),
                }
            }
        });
        let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        builder
            .body(BodyExt::boxed(body))
            .unwrap_or_else(|_| Response::new(full(Bytes::from_static(b"bad response headers"))))
    }

    /// Answers kubectl's upgrade with `101` and relays the session `stream` on the upgraded
    /// connection; hangs it up on chain if it cannot be relayed.
    async fn open_session(
        self: Arc<Self>,
        stream: OpenStream,
        key: &str,
        upgraded: Option<hyper::upgrade::OnUpgrade>,
        path: String,
    ) -> Answer {
        let request = stream.request;
        let (upgraded, input) = match (upgraded, self.roundtrip.session_input(&stream).await) {
            (Some(upgraded), Ok(input)) => (upgraded, input),
            (_, result) => {
                let why = result.err().map(|e| e.to_string()).unwrap_or_else(|| "the connection cannot upgrade".into());
                tracing::warn!(%request, why, "session opened but cannot be relayed; hanging up");
                let _ = self.roundtrip.hang_up(request).await;
                let answer = ResponseEnvelope::status(
                    502,
                    "InternalError",
                    &format!("the session opened but cannot be relayed: {why}"),
                );
                self.remember_refusal(path, &answer);
                return to_http(answer, &http::Method::GET);
            }
        };
        let answer = super::session::switching(&stream, key, full(Bytes::new()));
        let open = GaugeGuard::inc(&self.metrics.sessions_open);
        tokio::spawn(async move {
            let _open = open;
            super::session::relay(&self.roundtrip, stream, input, upgraded).await
        });
        answer.unwrap_or_else(|_| Response::new(full(Bytes::from_static(b"bad response headers"))))
    }

    /// Refusals decided from the request line and headers alone.
    fn refuse_early(
        &self,
        method: &http::Method,
        uri: &http::Uri,
        headers: &HeaderMap,
        info: Option<&RequestInfo>,
    ) -> Option<ResponseEnvelope> {
        let host = uri
            .authority()
            .map(|a| a.host().to_string())
            .or_else(|| headers.get(header::HOST)?.to_str().ok().map(host_of))
            .unwrap_or_default();
        if !is_loopback_name(&host) {
            return Some(ResponseEnvelope::status(
                403,
                "Forbidden",
                &format!("host {host:?} is not a loopback name; this proxy answers only 127.0.0.1, ::1 and localhost"),
            ));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(BearerError::Missing)
            .and_then(|t| self.bearers.check(t.trim(), crate::clock::now_ms()));
        if let Err(e) = bearer {
            return Some(ResponseEnvelope::status(401, "Unauthorized", &e.to_string()));
        }
        let session = info.is_some_and(RequestInfo::is_session);
        let websocket = super::session::websocket_key(headers).is_some();
        if session && !websocket {
            let uri = info.map(RequestInfo::uri).unwrap_or_default();
            let refused = self.refused_sessions.lock().expect("refusals lock").remove(&uri);
            return Some(match refused {
                Some((at, answer)) if at.elapsed() < REFUSAL_KEPT => answer,
                _ => not_carried(NotCarried::SessionWithoutWebSocket),
            });
        }
        if (headers.contains_key(header::UPGRADE) && !session) || method == http::Method::CONNECT {
            return Some(not_carried(NotCarried::Upgrade));
        }
        info.and_then(RequestInfo::not_carried).map(not_carried)
    }

    fn too_large(&self, len: Option<usize>) -> ResponseEnvelope {
        self.metrics.refusals.with_label_values(&["too_large"]).inc();
        let size = len.map(|l| format!("of {l} bytes ")).unwrap_or_default();
        ResponseEnvelope::status(
            413,
            "RequestEntityTooLarge",
            &format!(
                "the request body {size}exceeds this proxy's limit of {} bytes; raise it with `max_body` under `proxy:` in {} and restart the proxy (`kubectl sui proxy --stop`)",
                self.max_body, self.settings_hint
            ),
        )
    }

    fn cached(&self, key: &(String, String)) -> Option<ResponseEnvelope> {
        let cache = self.discovery.lock().expect("discovery cache lock");
        let (at, response) = cache.get(key)?;
        let ttl = if key.0.starts_with("/openapi/") && key.0.contains("hash=") { IMMUTABLE_TTL } else { DISCOVERY_TTL };
        (at.elapsed() < ttl).then(|| response.clone())
    }

    fn remember(&self, key: (String, String), response: ResponseEnvelope) {
        self.discovery.lock().expect("discovery cache lock").insert(key, (Instant::now(), response));
    }

    /// Reads the token and policy after a refusal that is about them, to explain it.
    async fn facts_for(&self, error: &RoundTripError) -> Option<TokenFacts> {
        let RoundTripError::Chain(ChainError::Abort { abort: Some(abort), .. }) = error else { return None };
        if abort.kind != Abort::EInsufficientStake && abort.kind != Abort::ETokenExpired {
            return None;
        }
        let token = self.roundtrip.token().await.ok()?;
        let cluster: crate::contract::objects::Cluster =
            self.roundtrip.client().clone().move_object(self.roundtrip.cluster()).await.ok()?;
        Some(TokenFacts {
            stake: token.stake.value,
            min_write_stake: cluster.policy.min_write_stake,
            expires_at_ms: token.expires_at_ms,
        })
    }
}

/// The bearer tokens a proxy accepts: signed by its identity for its cluster and seal token.
/// kubectl sends the same token for up to an hour, so the last one that verified is kept and
/// its signature is not checked again on every request (only its expiry).
#[derive(Debug)]
struct Bearers {
    identity: Ed25519PublicKey,
    scope: (sui_sdk_types::Address, sui_sdk_types::Address),
    last: Mutex<Option<(String, u64)>>,
}

impl Bearers {
    fn new(identity: Ed25519PublicKey, scope: (sui_sdk_types::Address, sui_sdk_types::Address)) -> Bearers {
        Bearers { identity, scope, last: Mutex::default() }
    }

    /// Verifies `token` at `now_ms` ([`BearerToken::verify`]), unless it is, byte for byte,
    /// the last one that verified, and unexpired.
    fn check(&self, token: &str, now_ms: u64) -> Result<(), BearerError> {
        if let Some((known, expires_ms)) = self.last.lock().expect("bearer lock").as_ref()
            && known == token
        {
            return if now_ms < *expires_ms { Ok(()) } else { Err(BearerError::Expired) };
        }
        let bearer = BearerToken::verify(token, &self.identity, self.scope, now_ms)?;
        *self.last.lock().expect("bearer lock") = Some((token.to_string(), bearer.expires_ms));
        Ok(())
    }
}

/// One more in a gauge for as long as it lives.
struct GaugeGuard(prometheus::IntGauge);

impl GaugeGuard {
    fn inc(gauge: &prometheus::IntGauge) -> GaugeGuard {
        gauge.inc();
        GaugeGuard(gauge.clone())
    }
}

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn host_of(authority: &str) -> String {
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or("").to_string(),
        None => authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority).to_string(),
    }
}

fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn to_http(answer: ResponseEnvelope, method: &http::Method) -> Answer {
    let mut builder =
        Response::builder().status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in &answer.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let body = if method == http::Method::HEAD { Bytes::new() } else { Bytes::from(answer.body) };
    builder.body(full(body)).unwrap_or_else(|_| Response::new(full(Bytes::from_static(b"bad response headers"))))
}

fn full(bytes: Bytes) -> Body {
    BodyExt::boxed(Full::new(bytes))
}

/// Serves `proxy` on `listener` with `tls` until `stop` turns true.
pub async fn serve(
    proxy: Arc<Proxy>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.wait_for(|s| *s) => return,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, std::convert::Infallible>(proxy.handle(request).await) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sui_crypto::ed25519::Ed25519PrivateKey;
    use sui_sdk_types::Address;

    #[test]
    fn a_bearer_token_is_verified_once_and_still_expires_and_a_forgery_never_rides_on_it() {
        let key = Ed25519PrivateKey::generate(rand_core::OsRng);
        let other = Ed25519PrivateKey::generate(rand_core::OsRng);
        let scope = (Address::from([1; 32]), Address::from([2; 32]));
        let bearers = Bearers::new(key.public_key(), scope);
        let token = |signer: &Ed25519PrivateKey, expires_ms| {
            BearerToken {
                address: key.public_key().derive_address(),
                cluster: scope.0,
                seal_token: scope.1,
                expires_ms,
            }
            .sign(signer)
        };
        let good = token(&key, 2_000);
        assert_eq!(bearers.check(&good, 1_000), Ok(()));
        assert_eq!(bearers.check(&good, 1_999), Ok(()));
        // Kept, but not past its expiry.
        assert_eq!(bearers.check(&good, 2_000), Err(BearerError::Expired));
        // The same claims signed by another key, or the good signature on longer claims: each
        // is verified in full, whatever was accepted before.
        assert_eq!(bearers.check(&token(&other, 2_000), 1_000), Err(BearerError::BadSignature));
        let (_, signature) = good.rsplit_once('.').unwrap();
        let (claims, _) = token(&key, 9_000).rsplit_once('.').map(|(c, s)| (c.to_string(), s.to_string())).unwrap();
        assert_eq!(bearers.check(&format!("{claims}.{signature}"), 1_000), Err(BearerError::BadSignature));
        assert_eq!(bearers.check(&format!("{good} "), 1_000), Err(BearerError::Malformed));
        // A fresh token replaces the kept one.
        let renewed = token(&key, 5_000);
        assert_eq!(bearers.check(&renewed, 2_500), Ok(()));
        assert_eq!(bearers.check(&good, 2_500), Err(BearerError::Expired));
    }

    #[test]
    fn only_loopback_names_pass() {
        for ok in ["127.0.0.1", "localhost", "LOCALHOST", "::1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for bad in ["evil.example", "10.0.0.1", "", "localhost.evil.example"] {
            assert!(!is_loopback_name(bad), "{bad}");
        }
        assert_eq!(host_of("127.0.0.1:6443"), "127.0.0.1");
        assert_eq!(host_of("[::1]:6443"), "::1");
        assert_eq!(host_of("localhost"), "localhost");
    }
}
