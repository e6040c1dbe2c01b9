//! The proxy's Prometheus metrics, and the loopback endpoint that serves them when
//! `--metrics-addr` (or `proxy.metrics_addr`) asks for one. Each of the proxy's limits has its
//! metric here: `max_in_flight` (requests on chain and waiting for a slot), `max_body`
//! (refusals `too_large`) and `timeout` (refusals `timeout`).
//!
//! It counts and times requests; it never records a path, a body or a token.

use std::net::SocketAddr;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

/// The proxy's metrics, prefixed `kubectl_sui_proxy_`.
#[derive(Debug, Clone)]
pub struct ProxyMetrics {
    registry: Registry,
    /// Answers to kubectl, by HTTP status (a stream or session counts once, when it opens).
    pub requests: IntCounterVec,
    /// Time from kubectl's request to the proxy's answer (to the opening, for a stream).
    pub latency: Histogram,
    /// Requests on chain now, waiting for their answer (at most `max_in_flight`).
    pub in_flight: IntGauge,
    /// Requests waiting in the proxy for an in-flight slot now.
    pub waiting: IntGauge,
    /// Requests that found every in-flight slot taken and waited.
    pub slot_waits: IntCounter,
    /// Requests refused by a limit of the proxy, by limit (`too_large`, `timeout`).
    pub refusals: IntCounterVec,
    /// Discovery and OpenAPI answers, by whether the proxy's cache had them (`hit`, `miss`).
    pub discovery: IntCounterVec,
    /// Watches and followed logs open now.
    pub streams_open: IntGauge,
    /// exec, attach and port-forward sessions open now.
    pub sessions_open: IntGauge,
}

impl ProxyMetrics {
    /// Registers every metric.
    pub fn new() -> ProxyMetrics {
        let registry = Registry::new_custom(Some("kubectl_sui_proxy".into()), None).expect("registry");
        let requests = IntCounterVec::new(Opts::new("requests_total", "Answers to kubectl, by HTTP status"), &["code"])
            .expect("metric");
        let buckets = vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        let latency = Histogram::with_opts(
            HistogramOpts::new("request_seconds", "Time from kubectl's request to the answer").buckets(buckets),
        )
        .expect("metric");
        let in_flight = IntGauge::new("in_flight", "Requests on chain now, waiting for their answer").expect("metric");
        let waiting =
            IntGauge::new("waiting", "Requests waiting for an in-flight slot (max_in_flight)").expect("metric");
        let slot_waits =
            IntCounter::new("slot_waits_total", "Requests that found every in-flight slot taken").expect("metric");
        let refusals =
            IntCounterVec::new(Opts::new("refusals_total", "Requests refused by a limit of the proxy"), &["limit"])
                .expect("metric");
        let discovery =
            IntCounterVec::new(Opts::new("discovery_total", "Discovery answers, by cache result"), &["cache"])
                .expect("metric");
        let streams_open = IntGauge::new("streams_open", "Watches and followed logs open").expect("metric");
        let sessions_open =
            IntGauge::new("sessions_open", "exec, attach and port-forward sessions open").expect("metric");
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(waiting.clone()),
            Box::new(slot_waits.clone()),
            Box::new(refusals.clone()),
            Box::new(discovery.clone()),
            Box::new(streams_open.clone()),
            Box::new(sessions_open.clone()),
        ] {
            registry.register(metric).expect("unique metric names");
        }
        ProxyMetrics {
            registry,
            requests,
            latency,
            in_flight,
            waiting,
            slot_waits,
            refusals,
            discovery,
            streams_open,
            sessions_open,
        }
    }

    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).expect("text encoding")
    }

    /// Serves `/metrics` on `listener` until `stop` turns true.
    pub async fn serve(self, listener: tokio::net::TcpListener, mut stop: tokio::sync::watch::Receiver<bool>) {
        let router = axum::Router::new()
            .route(
                "/metrics",
                axum::routing::get(
                    |axum::extract::State(m): axum::extract::State<ProxyMetrics>| async move { m.render() },
                ),
            )
            .with_state(self);
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, router).with_graceful_shutdown(stopped).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    }
}

impl Default for ProxyMetrics {
    fn default() -> Self {
        ProxyMetrics::new()
    }
}

/// Binds the metrics endpoint: `addr` must be a loopback address (the counts tell what a
/// user does, when and how much).
pub async fn bind(addr: SocketAddr) -> Result<(tokio::net::TcpListener, SocketAddr), std::io::Error> {
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the proxy serves its metrics on loopback only, not {addr}; use 127.0.0.1:PORT"),
        ));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    Ok((listener, bound))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_has_its_metric_and_nothing_names_a_path() {
        let m = ProxyMetrics::new();
        m.requests.with_label_values(&["200"]).inc();
        m.refusals.with_label_values(&["too_large"]).inc();
        m.discovery.with_label_values(&["hit"]).inc();
        m.slot_waits.inc();
        let text = m.render();
        for name in [
            "kubectl_sui_proxy_requests_total{code=\"200\"} 1",
            "kubectl_sui_proxy_refusals_total{limit=\"too_large\"} 1",
            "kubectl_sui_proxy_discovery_total{cache=\"hit\"} 1",
            "kubectl_sui_proxy_slot_waits_total 1",
            "kubectl_sui_proxy_in_flight 0",
            "kubectl_sui_proxy_waiting 0",
            "kubectl_sui_proxy_streams_open 0",
            "kubectl_sui_proxy_sessions_open 0",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }

    #[tokio::test]
    async fn the_endpoint_is_loopback_only() {
        let refused = bind("0.0.0.0:0".parse().unwrap()).await.unwrap_err();
        assert!(refused.to_string().contains("loopback only"), "{refused}");
        let (listener, bound) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert!(bound.ip().is_loopback() && bound.port() != 0);
        drop(listener);
    }
}
