//! The local proxy: kubectl's HTTPS endpoint on loopback, which turns each Kubernetes call
//! into a contract call and the node's on-chain answer back into an HTTP response.
//!
//! This module owns the client side of the request path: the TLS identity kubeconfig trusts
//! ([`tls`]), the server and its refusals ([`server`], [`explain`]), the chain round trip
//! ([`RoundTrip`]) with its shared checkpoint subscription ([`router`]), interactive sessions
//! relayed between kubectl's WebSocket and the chain ([`session`]), its metrics
//! ([`metrics`]), and the background process kubectl's credential command starts
//! ([`daemon`]). It reads the login and key it is given but never writes configuration or
//! kubeconfig, and never sees a body in clear that it did not get from kubectl or open with
//! its own reply key.

pub mod daemon;
pub mod explain;
pub mod metrics;
mod roundtrip;
pub mod router;
pub mod server;
pub mod session;
pub mod tls;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sui_crypto::ed25519::Ed25519PrivateKey;
use tokio::sync::watch;

pub use roundtrip::{GaveUp, NodeTarget, OpenStream, Reply, RoundTrip, RoundTripError, SessionInput, StreamItem};
pub use server::{DEFAULT_MAX_BODY, DEFAULT_MAX_IN_FLIGHT, Proxy};

use crate::chain::ChainClient;
use crate::config::{ConfigError, Login, Paths};

/// How long the proxy waits for a node's answer by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the proxy could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// TLS material could not be made or used.
    #[error("proxy TLS: {0}")]
    Tls(String),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// The configured port is taken.
    #[error(
        "port {port} is in use; another proxy for this cluster may be running (`kubectl sui proxy --stop --cluster {context}`), or another program holds it"
    )]
    PortInUse {
        /// The port.
        port: u16,
        /// The context.
        context: String,
    },
    /// The chain did not answer when the proxy started.
    #[error("cannot reach the {network} chain at {url} ({failed}); {next}")]
    ChainUnreachable {
        /// The login's network.
        network: String,
        /// Its RPC URL.
        url: String,
        /// What failed (in the message, not a source: it says nothing more).
        failed: Box<crate::chain::ChainError>,
        /// What to do about it.
        next: &'static str,
    },
    /// The background proxy did not come up.
    #[error("the proxy did not start: {why}; see {log}:\n{tail}")]
    DidNotStart {
        /// Its log.
        log: PathBuf,
        /// What happened.
        why: String,
        /// The log's last lines.
        tail: String,
    },
    /// Configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The chain setup failed.
    #[error(transparent)]
    RoundTrip(#[from] RoundTripError),
}

/// What a proxy run needs beyond the login.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Largest request body carried.
    pub max_body: usize,
    /// How long to wait for a node.
    pub timeout: Duration,
    /// Requests on chain at once, waiting for their answer.
    pub max_in_flight: usize,
    /// Where to serve `/metrics` (loopback only), if anywhere.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Serves `login` until `stop` turns true: connects to the chain, listens on the login's
/// port, and writes the pid file once ready (removed on the way out).
pub async fn run(
    paths: &Paths,
    login: &Login,
    key: Ed25519PrivateKey,
    options: ProxyOptions,
    stop: watch::Receiver<bool>,
) -> Result<(), ProxyError> {
    let dir = paths.proxy_dir(&login.context);
    let tls = tls::ProxyTls::load_or_create(&dir)?.server_config()?;
    let listener =
        tokio::net::TcpListener::bind(("127.0.0.1", login.proxy_port)).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::AddrInUse => {
                ProxyError::PortInUse { port: login.proxy_port, context: login.context.clone() }
            }
            _ => crate::fs::FileError::new("listening for", login.server(), e).into(),
        })?;
    let client = ChainClient::new(&login.endpoints.rpc, login.package).map_err(RoundTripError::from)?;
    let roundtrip =
        RoundTrip::connect(client, key, login.cluster, login.token, options.timeout).await.map_err(|e| match e {
            RoundTripError::Chain(source) if source.is_unreachable() => ProxyError::ChainUnreachable {
                network: login.network.clone(),
                url: login.endpoints.rpc.clone(),
                failed: Box::new(source),
                next: if login.network == "devnet" {
                    "is the local stack running? `kubectl sui up` starts it (`kubectl sui status` shows what runs)"
                } else {
                    "check the connection, or the network's RPC URL that `kubectl sui status` shows"
                },
            },
            e => e.into(),
        })?;
    let node = roundtrip.node().await.map(|n| n.address.to_string()).unwrap_or_else(|e| e.to_string());
    let proxy = Arc::new(Proxy::new(
        roundtrip,
        login.cluster_name.clone(),
        (options.max_body, options.max_in_flight),
        paths.settings_file().display().to_string(),
    ));
    let metrics_file = daemon::metrics_file(paths, &login.context);
    let _ = std::fs::remove_file(&metrics_file);
    if let Some(addr) = options.metrics_addr {
        let (listener, bound) = metrics::bind(addr)
            .await
            .map_err(|e| crate::fs::FileError::new("serving metrics on", addr.to_string(), e))?;
        crate::fs::write_atomic(&metrics_file, bound.to_string().as_bytes(), 0o644)?;
        tracing::info!(%bound, "serving /metrics");
        tokio::spawn(proxy.metrics().clone().serve(listener, stop.clone()));
    }
    let pid_file = daemon::pid_file(paths, &login.context);
    crate::fs::write_atomic(&pid_file, std::process::id().to_string().as_bytes(), 0o644)?;
    tracing::info!(server = %login.server(), cluster = %login.cluster, %node, "proxy ready");
    server::serve(proxy, listener, tls, stop).await;
    let _ = std::fs::remove_file(pid_file);
    let _ = std::fs::remove_file(metrics_file);
    Ok(())
}
