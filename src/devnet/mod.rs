//! The embedded devnet: a local chain that speaks Sui's gRPC API (`sui.rpc.v2`, also as
//! gRPC-Web) and executes the contract natively, so the proxy and the node use one code path
//! for it and for a real Sui network.
//!
//! This module owns the ledger ([`state`]) and its journal records, execution
//! ([`execute`], [`natives`]), checkpoints and the feed ([`local_chain`], named so as not to shadow [`crate::chain`]), the gRPC services
//! ([`service`]) and the faucet. It knows nothing of Kubernetes, kubeconfig or keys other than
//! the faucet's. Its main type is [`Devnet`].

// Execution errors are sui-sdk-types' `ExecutionError` (128 bytes), returned on every abort
// path of the contract; boxing them would only add allocations to the failure paths.
#![allow(clippy::result_large_err)]

mod error;
pub mod execute;
mod in_process;
pub mod local_chain;
mod natives;
mod service;
mod session;
pub mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use sui_rpc::proto::sui::rpc::v2 as proto;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use error::DevnetError;
pub use in_process::InProcess;
pub use local_chain::{Chain, package_id};

/// Default gRPC and gRPC-Web address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9410";
/// Default faucet address. Both stay off the ports of a `sui start` localnet (9000, 9123).
pub const DEFAULT_FAUCET_LISTEN: &str = "127.0.0.1:9411";
/// Default average least time between checkpoints (they close on demand, when a transaction
/// commits, paced by a token bucket: see [`CHECKPOINT_BURST`]).
pub const DEFAULT_CHECKPOINT_INTERVAL: Duration = Duration::from_millis(2);
/// How long a clean shutdown waits for open streams.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// Largest gRPC message accepted or sent (tonic's default is 4 MiB).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// How to run a devnet.
#[derive(Debug, Clone)]
pub struct DevnetConfig {
    /// gRPC and gRPC-Web address (port 0 picks a free one).
    pub listen: SocketAddr,
    /// Faucet address (port 0 picks a free one).
    pub faucet_listen: SocketAddr,
    /// Where the ledger is kept.
    pub data_dir: PathBuf,
    /// The average least time between two checkpoints. A checkpoint closes as soon as a
    /// transaction commits (after `finality`); up to [`CHECKPOINT_BURST`] close back to back,
    /// past them one per interval, so transactions batch under load.
    pub checkpoint_interval: Duration,
    /// Time from a commit to the checkpoint that carries it: zero on the devnet, about 400 ms
    /// to behave like a public network.
    pub finality: Duration,
}

/// A running devnet.
#[derive(Debug)]
pub struct Devnet {
    chain: Arc<Chain>,
    grpc_addr: SocketAddr,
    faucet_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), DevnetError>>>,
}

impl Devnet {
    /// Opens the ledger in the data directory (replaying it, or creating genesis), binds both
    /// listeners, and starts serving and forming checkpoints.
    pub async fn start(config: DevnetConfig) -> Result<Devnet, DevnetError> {
        let chain = Chain::open(&config.data_dir).await?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr).await.map_err(|source| DevnetError::Bind {
                addr: addr.to_string(),
                held_by: (source.kind() == std::io::ErrorKind::AddrInUse)
                    .then(|| crate::process::port_holder(addr.port()))
                    .flatten(),
                source,
            })
        };
        let grpc = bind(config.listen).await?;
        let faucet = bind(config.faucet_listen).await?;
        let grpc_addr = grpc.local_addr().map_err(|source| DevnetError::Bind {
            addr: config.listen.to_string(),
            held_by: None,
            source,
        })?;
        let faucet_addr = faucet.local_addr().map_err(|source| DevnetError::Bind {
            addr: config.faucet_listen.to_string(),
            held_by: None,
            source,
        })?;
        let (shutdown, stop) = watch::channel(false);

        let routes = routes(service::Services::new(chain.clone(), stop.clone()));
        let stop_grpc = stop.clone();
        let grpc_task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .accept_http1(true)
                .layer(tonic_web::GrpcWebLayer::new())
                .add_routes(routes)
                // Without TCP_NODELAY, small responses wait out delayed ACKs (~40 ms each).
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(grpc).with_nodelay(Some(true)),
                    stopped(stop_grpc),
                )
                .await
                .map_err(DevnetError::Serve)
        });

        let router = axum::Router::new()
            .route("/", axum::routing::get(info))
            .route("/v2/gas", axum::routing::post(faucet_request))
            .with_state(chain.clone());
        let stop_faucet = stop.clone();
        let faucet_task = tokio::spawn(async move {
            axum::serve(faucet, router).with_graceful_shutdown(stopped(stop_faucet)).await.map_err(|source| {
                DevnetError::from(crate::fs::FileError::new("serving the faucet on", faucet_addr.to_string(), source))
            })
        });

        let checkpoint_task =
            tokio::spawn(form_checkpoints(chain.clone(), stop, config.checkpoint_interval, config.finality));

        tracing::info!(grpc = %grpc_addr, faucet = %faucet_addr, data_dir = %config.data_dir.display(), "devnet started");
        Ok(Devnet { chain, grpc_addr, faucet_addr, shutdown, tasks: vec![grpc_task, faucet_task, checkpoint_task] })
    }

    /// The gRPC (and gRPC-Web) URL.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The faucet URL.
    pub fn faucet_url(&self) -> String {
        format!("http://{}", self.faucet_addr)
    }

    /// The chain, for in-process inspection (tests, benchmarks).
    pub fn chain(&self) -> &Arc<Chain> {
        &self.chain
    }

    /// Stops serving, seals pending transactions into a last checkpoint, and waits.
    /// Open streams (checkpoint subscriptions) get [`SHUTDOWN_GRACE`] to finish; then their
    /// connections are dropped, which their clients see as a lost stream.
    pub async fn shutdown(mut self) -> Result<(), DevnetError> {
        let _ = self.shutdown.send(true);
        for mut task in self.tasks.drain(..) {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(result) => result.expect("devnet task panicked")?,
                Err(_) => task.abort(),
            }
        }
        Ok(())
    }
}

/// The gRPC services over `services`, each taking messages up to [`MAX_MESSAGE_SIZE`].
fn routes(services: service::Services) -> tonic::service::Routes {
    tonic::service::Routes::new(
        proto::ledger_service_server::LedgerServiceServer::new(services.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
    .add_service(
        proto::state_service_server::StateServiceServer::new(services.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
    .add_service(
        proto::transaction_execution_service_server::TransactionExecutionServiceServer::new(services.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
    .add_service(
        proto::subscription_service_server::SubscriptionServiceServer::new(services)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE),
    )
    .prepare()
}

/// Forms checkpoints on demand until `stop`: a commit wakes the loop; the checkpoint closes
/// after `finality`, carrying every transaction committed meanwhile. Checkpoints are paced by
/// a token bucket: on average at most one per `interval`, in bursts of up to
/// [`CHECKPOINT_BURST`], so a chain below that rate (one requester's round trips) never waits
/// and one under load batches its transactions. On stop it seals what is pending, so a clean
/// shutdown leaves nothing unchecked.
async fn form_checkpoints(
    chain: Arc<Chain>,
    mut stop: watch::Receiver<bool>,
    interval: Duration,
    finality: Duration,
) -> Result<(), DevnetError> {
    let mut pace = Pace::new(interval, tokio::time::Instant::now());
    loop {
        tokio::select! {
            _ = chain.committed() => {}
            _ = stop.changed() => {
                chain.checkpoint().await?;
                return Ok(());
            }
        }
        let now = tokio::time::Instant::now();
        let due = (now + finality).max(pace.next_allowed(now));
        // The timer rounds up to whole milliseconds: a due time already reached is not slept.
        if due > now {
            tokio::time::sleep_until(due).await;
        }
        // A wake-up for commits the last checkpoint already carried forms nothing, and
        // spends no token.
        if chain.checkpoint().await?.is_some() {
            pace.spend(tokio::time::Instant::now());
        }
    }
}

/// Checkpoints that may close back to back before the interval applies.
pub const CHECKPOINT_BURST: u32 = 4;

/// The checkpoint token bucket: [`CHECKPOINT_BURST`] tokens, one back per interval.
#[derive(Debug)]
struct Pace {
    interval: Duration,
    /// When the bucket is full again: tokens = BURST - (full_at - now) / interval.
    full_at: tokio::time::Instant,
}

impl Pace {
    fn new(interval: Duration, now: tokio::time::Instant) -> Pace {
        Pace { interval, full_at: now }
    }

    /// The earliest time a checkpoint may close: now while a token is left.
    fn next_allowed(&self, now: tokio::time::Instant) -> tokio::time::Instant {
        let window = self.interval * (CHECKPOINT_BURST - 1);
        self.full_at.checked_sub(window).map_or(now, |at| at.max(now))
    }

    /// Takes a token for a checkpoint closed at `now`.
    fn spend(&mut self, now: tokio::time::Instant) {
        self.full_at = self.full_at.max(now) + self.interval;
    }
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn info(State(chain): State<Arc<Chain>>) -> Json<serde_json::Value> {
    let chain_id = chain.ledger().chain_id().to_string();
    Json(json!({ "chainId": chain_id, "packageId": package_id().to_string() }))
}

#[derive(Deserialize)]
enum FaucetRequest {
    FixedAmountRequest { recipient: String },
}

async fn faucet_request(
    State(chain): State<Arc<Chain>>,
    Json(request): Json<FaucetRequest>,
) -> (StatusCode, Json<serde_json::Value>) {
    let FaucetRequest::FixedAmountRequest { recipient } = request;
    let failure = |status, message: String| (status, Json(json!({ "status": { "Failure": { "Internal": message } } })));
    let Ok(recipient) = recipient.parse() else {
        return failure(StatusCode::BAD_REQUEST, format!("invalid recipient address {recipient:?}"));
    };
    match chain.faucet(recipient, local_chain::FAUCET_AMOUNT).await {
        Ok((coin, digest)) => (
            StatusCode::OK,
            Json(json!({
                "status": "Success",
                "coins_sent": [{ "amount": local_chain::FAUCET_AMOUNT, "id": coin.to_string(), "transferTxDigest": digest.to_string() }],
            })),
        ),
        Err(e) => failure(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_below_the_rate_never_wait_and_a_burst_is_paced() {
        let start = tokio::time::Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace::new(ms(2), start);
        // A burst closes back to back, then one per interval.
        for _ in 0..CHECKPOINT_BURST {
            assert_eq!(pace.next_allowed(start), start);
            pace.spend(start);
        }
        assert_eq!(pace.next_allowed(start), start + ms(2));
        pace.spend(start + ms(2));
        assert_eq!(pace.next_allowed(start + ms(2)), start + ms(4));
        // Two checkpoints every 4.5 ms (one requester's round trips) stay under the rate.
        let mut pace = Pace::new(ms(2), start);
        let mut now = start;
        for _ in 0..1000 {
            for gap in [ms(3), Duration::from_micros(1500)] {
                now += gap;
                assert_eq!(pace.next_allowed(now), now, "a checkpoint below the rate waited");
                pace.spend(now);
            }
        }
        // Idle refills the whole burst, no more.
        let later = now + ms(100);
        for _ in 0..CHECKPOINT_BURST {
            assert_eq!(pace.next_allowed(later), later);
            pace.spend(later);
        }
        assert!(pace.next_allowed(later) > later);
    }
}
