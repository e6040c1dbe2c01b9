//! `/healthz`, `/readyz` and Prometheus `/metrics`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::StatusCode;
use prometheus::{Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

use super::error::NodeError;

/// The node's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by verb and HTTP status.
    pub requests: IntCounterVec,
    /// Time from seeing a complete request to its response landing, by verb.
    pub latency: HistogramVec,
    /// Time the Kubernetes API took, by verb.
    pub kube_latency: HistogramVec,
    /// Errors, by kind.
    pub errors: IntCounterVec,
    /// Transactions that carried answers (several answers can share one).
    pub answer_transactions: prometheus::IntCounter,
    /// Last checkpoint processed.
    pub checkpoint: IntGauge,
    /// Seconds between the last processed checkpoint's timestamp and now.
    pub lag: Gauge,
    /// Requests refused without being run, by cause.
    pub refusals: IntCounterVec,
    /// Sealed bytes buffered for requests still arriving.
    pub buffered_bytes: IntGauge,
    /// Requests arriving, waiting or running.
    pub open_requests: IntGauge,
    /// Gas coins in the pool, free or in use.
    pub gas_coins: IntGauge,
    /// Streams (watches, followed logs) open now.
    pub streams_open: IntGauge,
    /// Stream frames put on chain.
    pub stream_frames: prometheus::IntCounter,
    /// Stream bytes (as the API server wrote them) put on chain.
    pub stream_bytes: prometheus::IntCounter,
    /// Streams ended, by reason (`completed`, `token`, `limit`, `node`, `client`).
    pub stream_ends: IntCounterVec,
    /// Gas the node paid for stream frames and ends, in MIST.
    pub stream_gas: prometheus::IntCounter,
    ready: Arc<AtomicBool>,
    /// Why the node cannot answer now, when it cannot.
    unready: Arc<std::sync::Mutex<Option<String>>>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("nautilus".into()), None).expect("registry");
        let requests =
            IntCounterVec::new(Opts::new("requests_total", "Requests answered"), &["verb", "code"]).expect("metric");
        let buckets = vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let latency = HistogramVec::new(
            HistogramOpts::new("request_seconds", "From a complete request seen on chain to its response on chain")
                .buckets(buckets.clone()),
            &["verb"],
        )
        .expect("metric");
        let kube_latency =
            HistogramVec::new(HistogramOpts::new("kube_seconds", "Kubernetes API time").buckets(buckets), &["verb"])
                .expect("metric");
        let errors = IntCounterVec::new(Opts::new("errors_total", "Errors by kind"), &["kind"]).expect("metric");
        let answer_transactions =
            prometheus::IntCounter::new("answer_transactions_total", "Transactions that carried answers")
                .expect("metric");
        let checkpoint = IntGauge::new("checkpoint", "Last checkpoint processed").expect("metric");
        let lag = Gauge::new("chain_lag_seconds", "Age of the last processed checkpoint").expect("metric");
        let refusals = IntCounterVec::new(Opts::new("refusals_total", "Requests refused unrun, by cause"), &["cause"])
            .expect("metric");
        let buffered_bytes =
            IntGauge::new("buffered_bytes", "Sealed bytes of requests still arriving").expect("metric");
        let open_requests = IntGauge::new("open_requests", "Requests arriving, waiting or running").expect("metric");
        let gas_coins = IntGauge::new("gas_coins", "Gas coins in the pool").expect("metric");
        let streams_open = IntGauge::new("streams_open", "Streams open now").expect("metric");
        let stream_gas = prometheus::IntCounter::new("stream_gas_mist_total", "Gas paid for stream frames and ends")
            .expect("metric");
        let stream_frames =
            prometheus::IntCounter::new("stream_frames_total", "Stream frames put on chain").expect("metric");
        let stream_bytes =
            prometheus::IntCounter::new("stream_bytes_total", "Stream bytes put on chain").expect("metric");
        let stream_ends = IntCounterVec::new(Opts::new("stream_ends_total", "Streams ended, by reason"), &["reason"])
            .expect("metric");
        for m in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(kube_latency.clone()),
            Box::new(errors.clone()),
            Box::new(answer_transactions.clone()),
            Box::new(checkpoint.clone()),
            Box::new(lag.clone()),
            Box::new(refusals.clone()),
            Box::new(buffered_bytes.clone()),
            Box::new(open_requests.clone()),
            Box::new(gas_coins.clone()),
            Box::new(streams_open.clone()),
            Box::new(stream_frames.clone()),
            Box::new(stream_bytes.clone()),
            Box::new(stream_ends.clone()),
            Box::new(stream_gas.clone()),
        ] {
            registry.register(m).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            kube_latency,
            errors,
            answer_transactions,
            checkpoint,
            lag,
            refusals,
            buffered_bytes,
            open_requests,
            gas_coins,
            streams_open,
            stream_frames,
            stream_bytes,
            stream_ends,
            stream_gas,
            ready: Arc::default(),
            unready: Arc::default(),
        }
    }

    /// Marks the node ready (following the chain).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Says why the node cannot answer (`None`: it can again); `/readyz` reports it.
    pub fn set_unready(&self, reason: Option<String>) {
        *self.unready.lock().expect("lock") = reason;
    }

    /// Serves the endpoints on `addr` until the task is dropped; returns the bound address.
    pub async fn serve(self, addr: SocketAddr) -> Result<SocketAddr, NodeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| NodeError::Bind { addr: addr.to_string(), source })?;
        let bound = listener.local_addr().map_err(|source| NodeError::Bind { addr: addr.to_string(), source })?;
        let router = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            .route("/readyz", axum::routing::get(readyz))
            .route("/metrics", axum::routing::get(metrics))
            .with_state(self);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "metrics server stopped");
            }
        });
        Ok(bound)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

async fn readyz(State(m): State<Metrics>) -> (StatusCode, String) {
    if let Some(reason) = m.unready.lock().expect("lock").clone() {
        return (StatusCode::SERVICE_UNAVAILABLE, reason);
    }
    if m.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not following the chain yet".into())
    }
}

async fn metrics(State(m): State<Metrics>) -> String {
    let mut out = Vec::new();
    TextEncoder::new().encode(&m.registry.gather(), &mut out).expect("text encoding");
    String::from_utf8(out).expect("UTF-8")
}
