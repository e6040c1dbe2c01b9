//! The Nautilus node: follows the chain, executes the requests addressed to it on the
//! cluster's Kubernetes API as the requester, and answers on chain with sealed responses.
//!
//! This module owns the node's keys ([`keys`]), its checkpoint cursor and the follower
//! ([`follow`]), the pure intake that bounds and reassembles what arrives ([`intake`]), request
//! handling with its exactly-once journal ([`requests`]), the Kubernetes client ([`kube`]), the
//! cluster's RBAC kept in step with the chain ([`rbac`]) and its health and metrics endpoints
//! ([`health`]). It has no inbound API for users: the chain is its only input. Its main type is
//! [`NodeConfig`] (with [`NodeLimits`]), run with [`run`], which makes the chain and Kubernetes
//! clients, or with [`run_with`] over clients the caller made (the unit tests' seam: the
//! in-process devnet and an API server in the process); either only wires these together.

pub mod admission;
pub mod attest;
mod error;
pub mod health;
pub mod intake;
pub mod keys;
pub mod kube;
pub mod rbac;
pub mod requests;
pub mod session;
pub mod stream;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use sui_sdk_types::Address;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::chain::follow::{self, CheckpointEvents};
pub use error::NodeError;
use intake::Intake;
use requests::{Entry, Processor};

use crate::chain::ChainClient;
use crate::contract::events::{
    AuditorsChanged, ProtectedNamespacesChanged, RequestCancelled, RequestChunk, RequestSubmitted, ResponseStored,
    SessionInput, StreamEnded, TokenPermissionsChanged, TokenRevoked, TokenSlashed, TokenUnstaked, decode,
};
use crate::contract::objects::Cluster;
use crate::journal::Journal;

/// File of the checkpoint cursor in the data directory.
pub const CURSOR_FILE: &str = "cursor";
/// File of the execution journal in the data directory.
pub const JOURNAL_FILE: &str = "executions.journal";
/// Default number of requests executed at once.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Default largest request body (decompressed), in bytes.
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

/// How to run a node (the config file's shape; flags override it).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NodeConfig {
    /// Sui gRPC endpoint.
    pub chain_url: String,
    /// The contract package.
    pub package: Address,
    /// The cluster object this node serves.
    pub cluster: Address,
    /// Keys, cursor and execution journal.
    pub data_dir: PathBuf,
    /// Kubeconfig of the cluster; in-cluster configuration when absent.
    pub kubeconfig: Option<PathBuf>,
    /// Requests executed at once.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Address of /healthz, /readyz and /metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// Largest request body accepted, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// Make a new sealing key at start and publish it; the previous one keeps opening
    /// requests sealed to it.
    #[serde(default)]
    pub rotate_sealing_key: bool,
    /// Where to start following when the data directory has no cursor [default: the
    /// chain's tip]. A cursor, when present, wins.
    #[serde(default)]
    pub from_checkpoint: Option<u64>,
    /// Limits on what one request and all of them together may cost the node (the
    /// `limits:` map of the config file).
    #[serde(default)]
    pub limits: NodeLimits,
}

/// What a request may cost the node (`docs/operations.md` lists them with their metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", default, deny_unknown_fields)]
pub struct NodeLimits {
    /// Deadline of one Kubernetes call, in seconds.
    pub kube_timeout_secs: u64,
    /// Largest Kubernetes response the node reads, in bytes.
    pub max_response: usize,
    /// Requests one requester may have open at the node.
    pub max_open_per_requester: usize,
    /// Sealed bytes buffered for requests still arriving, all together.
    pub max_buffered_bytes: u64,
    /// Seconds (chain time) a request may take to finish its upload.
    pub upload_ttl_secs: u64,
    /// Streams (watches, followed logs) open at once, all requesters together.
    pub max_streams: usize,
    /// Streams one requester may have open at once.
    pub max_streams_per_requester: usize,
    /// Longest a stream runs, in seconds, before the node ends it (`limit`).
    pub stream_max_secs: u64,
    /// Most bytes one stream carries before the node ends it (`limit`).
    pub stream_max_bytes: u64,
    /// Longest the node holds stream data before sending it as a frame, in milliseconds (0:
    /// at once; what arrives during a send shares the next).
    pub stream_flush_ms: u64,
    /// Longest a session (exec, attach, port-forward) runs, in seconds (`limit`).
    pub session_max_secs: u64,
    /// Longest a session goes without a message either way, in seconds (`limit`).
    pub session_idle_secs: u64,
}

/// Default [`NodeLimits::kube_timeout_secs`].
pub const DEFAULT_KUBE_TIMEOUT_SECS: u64 = 60;
/// Default [`NodeLimits::max_response`]: 64 MiB.
pub const DEFAULT_MAX_RESPONSE: usize = 64 * 1024 * 1024;
/// Default [`NodeLimits::max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 64;
/// Default [`NodeLimits::max_streams_per_requester`].
pub const DEFAULT_MAX_STREAMS_PER_REQUESTER: usize = 8;
/// Default [`NodeLimits::stream_max_secs`]: 30 minutes (client-go's watches ask for 5 to 10).
pub const DEFAULT_STREAM_MAX_SECS: u64 = 1800;
/// Default [`NodeLimits::stream_max_bytes`]: 64 MiB.
pub const DEFAULT_STREAM_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Default [`NodeLimits::stream_flush_ms`]: 0, each read is sent at once, and what the API
/// server writes while a send is on its way shares the next one.
pub const DEFAULT_STREAM_FLUSH_MS: u64 = 0;
/// Default [`NodeLimits::session_max_secs`]: 4 hours, the kubelet's own streaming limit.
pub const DEFAULT_SESSION_MAX_SECS: u64 = 4 * 3600;
/// Default [`NodeLimits::session_idle_secs`]: 15 minutes.
pub const DEFAULT_SESSION_IDLE_SECS: u64 = 900;

impl Default for NodeLimits {
    fn default() -> NodeLimits {
        NodeLimits {
            kube_timeout_secs: DEFAULT_KUBE_TIMEOUT_SECS,
            max_response: DEFAULT_MAX_RESPONSE,
            max_open_per_requester: intake::DEFAULT_MAX_OPEN_PER_REQUESTER,
            max_buffered_bytes: intake::DEFAULT_MAX_BUFFERED_BYTES,
            upload_ttl_secs: intake::DEFAULT_UPLOAD_TTL_MS / 1000,
            max_streams: DEFAULT_MAX_STREAMS,
            max_streams_per_requester: DEFAULT_MAX_STREAMS_PER_REQUESTER,
            stream_max_secs: DEFAULT_STREAM_MAX_SECS,
            stream_max_bytes: DEFAULT_STREAM_MAX_BYTES,
            stream_flush_ms: DEFAULT_STREAM_FLUSH_MS,
            session_max_secs: DEFAULT_SESSION_MAX_SECS,
            session_idle_secs: DEFAULT_SESSION_IDLE_SECS,
        }
    }
}

fn default_concurrency() -> usize {
    DEFAULT_CONCURRENCY
}

fn default_max_body() -> usize {
    DEFAULT_MAX_BODY
}

/// Publishes `key` as the node's sealing key (`cluster::rotate_sealing_key`); the contract
/// keeps accepting the previous one, so requests sealed to it while in flight are answered.
async fn publish_sealing_key(
    client: &mut ChainClient,
    keys: &keys::NodeKeys,
    cluster: Address,
    key: &[u8],
) -> Result<(), NodeError> {
    let owner = keys.address();
    let mut tx = sui_transaction_builder::TransactionBuilder::new();
    let cluster_arg = client.object_arg(cluster).await?;
    crate::contract::Contract::new(client.package())
        .rotate_sealing_key(&mut tx, cluster_arg, key)
        .map_err(|e| NodeError::Config(e.to_string()))?;
    client.execute_settled_with_own_coin(tx, &keys.signing, crate::chain::DEFAULT_GAS_BUDGET).await?;
    tracing::info!(node = %owner, "published the new sealing key");
    Ok(())
}

/// Runs the node until `stop` turns true, connecting to the chain at `config.chain_url` and to
/// the cluster of `config.kubeconfig` (or in-cluster). Returns the metrics address once bound
/// through `bound` (if given), so callers on port 0 can find it.
pub async fn run(
    config: NodeConfig,
    stop: watch::Receiver<bool>,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), NodeError> {
    let client = ChainClient::new(&config.chain_url, config.package)?;
    let kube = kube::KubeApi::connect(config.kubeconfig.as_deref()).await?;
    run_with(config, client, kube, stop, bound).await
}

/// [`run`] over a chain client and a Kubernetes client the caller made (`config.chain_url`
/// and `config.kubeconfig` are not read): the seam the unit tests use, with the in-process
/// devnet and an API server in the process.
pub async fn run_with(
    config: NodeConfig,
    mut client: ChainClient,
    kube: kube::KubeApi,
    mut stop: watch::Receiver<bool>,
    bound: Option<tokio::sync::oneshot::Sender<SocketAddr>>,
) -> Result<(), NodeError> {
    let keys = match config.rotate_sealing_key {
        true => keys::NodeKeys::rotate_sealing(&config.data_dir)?,
        false => keys::NodeKeys::load_or_create(&config.data_dir)?,
    };
    let me = keys.address();
    let cluster: Cluster = client.move_object(config.cluster).await?;
    let current = keys.sealing.public_key().to_bytes().to_vec();
    let on_chain = cluster.node(&me).map(|n| n.sealing_key.clone());
    let previous = keys.previous_sealing.as_ref().map(|k| k.public_key().to_bytes().to_vec());
    if on_chain.is_some() && on_chain == previous {
        // A rotation made locally and not yet published (just now, or before a crash).
        publish_sealing_key(&mut client, &keys, config.cluster, &current).await?;
    } else if on_chain.as_ref() != Some(&current) {
        return Err(NodeError::NotRegistered {
            address: me.to_string(),
            cluster: config.cluster.to_string(),
            signing_key: hex::encode(keys.signing.public_key().inner()),
            sealing_key: hex::encode(keys.sealing.public_key().to_bytes()),
        });
    }
    let cluster_arg = client.object_arg(config.cluster).await?;
    let metrics = health::Metrics::new();
    if let Some(addr) = config.metrics_listen {
        let addr = metrics.clone().serve(addr).await?;
        if let Some(bound) = bound {
            let _ = bound.send(addr);
        }
    }
    let gas = crate::chain::GasPool::prepare(&mut client, &keys.signing, me, config.concurrency.clamp(1, 64)).await?;
    let (journal, entries) = Journal::<Entry>::open(&config.data_dir.join(JOURNAL_FILE))?;
    let (answers, answers_rx) = mpsc::channel(256);
    let processor = Arc::new(Processor::new(
        config.cluster,
        cluster_arg,
        keys,
        client.clone(),
        kube,
        gas,
        journal,
        entries,
        metrics.clone(),
        config.max_body,
        config.limits,
        answers,
        &cluster.policy,
    ));
    // Requests executing now: each holds one of `limit`'s permits until it is answered.
    let limit = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let executing = {
        let (limit, total) = (limit.clone(), config.concurrency.max(1));
        move || total - limit.available_permits()
    };
    let batcher = tokio::spawn(requests::batch_answers(processor.clone(), answers_rx, executing));
    processor.end_orphaned_streams().await;

    let cursor_path = config.data_dir.join(CURSOR_FILE);
    let start = match (read_cursor(&cursor_path)?, config.from_checkpoint) {
        (Some(cursor), _) => cursor,
        (None, Some(from)) => {
            tracing::info!(from_checkpoint = from, "no cursor: backfilling from the checkpoint asked for");
            from
        }
        (None, None) => {
            let tip = client.clone().latest_checkpoint().await?;
            tracing::warn!(
                tip,
                "no cursor in the data directory: starting at the chain's tip, so nothing submitted before is run; pass --from-checkpoint N to backfill"
            );
            tip
        }
    };
    write_cursor(&cursor_path, start)?;
    let (tx, mut rx) = mpsc::channel::<CheckpointEvents>(64);
    let follower = tokio::spawn(follow::follow(client, config.package, start, tx));
    metrics.set_ready();
    tracing::info!(node = %me, cluster = %config.cluster, from_checkpoint = start, "node running");

    let intake = Arc::new(Mutex::new(Intake::new(intake::Limits::new(&config.limits, config.max_body))));
    let mut health = tokio::time::interval(HEALTH_INTERVAL);
    // The cursor on disk, and when it was written: rewritten (an fsync) at most every
    // CURSOR_EVERY, not at every checkpoint, so a chain closing a checkpoint every few
    // milliseconds does not make the node fall behind it. A cursor on disk that lags only
    // means a restart reads a few checkpoints again, which runs nothing twice.
    let mut written = std::time::Instant::now();
    let mut unwritten: Option<u64> = None;
    loop {
        let next = tokio::select! {
            c = rx.recv() => match c { Some(c) => Some(c), None => break },
            _ = health.tick() => None,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(checkpoint) = next else {
            check_gas(&processor).await;
            if let Some(cursor) = unwritten.take() {
                write_cursor(&cursor_path, cursor)?;
                written = std::time::Instant::now();
            }
            continue;
        };
        for event in &checkpoint.events {
            if let Some(s) = decode::<RequestSubmitted>(event) {
                if s.cluster_id == config.cluster && s.node == me && !processor.is_answered(&s.request_id) {
                    intake.lock().expect("lock").submitted(s, checkpoint.sequence);
                }
            } else if let Some(c) = decode::<RequestChunk>(event) {
                intake.lock().expect("lock").chunk(c);
            } else if let Some(c) = decode::<RequestCancelled>(event) {
                intake.lock().expect("lock").gone(&c.request_id);
            } else if let Some(r) = decode::<ResponseStored>(event) {
                intake.lock().expect("lock").answered(&r.request_id);
            } else if let Some(input) = decode::<SessionInput>(event) {
                processor.inputs.deliver(input);
            } else if let Some(e) = decode::<StreamEnded>(event) {
                // The requester hung up: its pump stops (a node's own end changes nothing).
                if e.ended_by != me {
                    processor.hung_up(&e.request_id);
                }
            } else if let Some(p) = decode::<ProtectedNamespacesChanged>(event) {
                if p.cluster_id == config.cluster {
                    processor.protect(p.namespaces).await;
                }
            } else if let Some(a) = decode::<AuditorsChanged>(event) {
                if a.cluster_id == config.cluster {
                    processor.set_auditors(&a.auditors);
                }
            } else if let Some((token, gone)) = token_event(event) {
                // Every token event changes what the token may do: its next request reads it.
                processor.forget_token(token);
                if gone {
                    let processor = processor.clone();
                    tokio::spawn(async move {
                        if let Err(e) = processor.rbac.remove(&token).await {
                            tracing::error!(%token, error = %e, "could not delete the token's RBAC objects");
                        }
                    });
                }
            }
        }
        let (ready, expired) = {
            let mut intake = intake.lock().expect("lock");
            let expired = intake.expire(checkpoint.timestamp_ms);
            (intake.take_ready(), expired)
        };
        for id in expired {
            metrics.refusals.with_label_values(&["upload_expired"]).inc();
            tracing::warn!(request = %id, "request upload never finished; dropped (the requester may cancel it)");
        }
        for ready in ready {
            let (processor, intake, limit) = (processor.clone(), intake.clone(), limit.clone());
            tokio::spawn(async move {
                let id = ready.id();
                // Refusals run nothing: they do not wait behind executions, nor make others wait.
                let _permit = match ready {
                    intake::Ready::Execute { .. } => Some(limit.acquire_owned().await.expect("never closed")),
                    intake::Ready::Refuse { .. } => None,
                };
                match processor.handle_with_retries(ready).await {
                    Ok(None) => intake.lock().expect("lock").finished(&id),
                    // Open on chain: the cursor may pass it, and it no longer takes a permit.
                    Ok(Some(pump)) => {
                        intake.lock().expect("lock").finished(&id);
                        drop(_permit);
                        pump.run(&processor).await;
                    }
                    // Left open: the cursor stays before it, and a restart retries it.
                    Err(e) => {
                        processor.metrics.errors.with_label_values(&["answer"]).inc();
                        tracing::error!(request = %id, error = %e, "request not answered");
                    }
                }
            });
        }
        let (cursor, buffered, open) = {
            let intake = intake.lock().expect("lock");
            (intake.cursor(checkpoint.sequence), intake.buffered_bytes(), intake.open_requests())
        };
        if written.elapsed() >= CURSOR_EVERY {
            write_cursor(&cursor_path, cursor)?;
            written = std::time::Instant::now();
            unwritten = None;
        } else {
            unwritten = Some(cursor);
        }
        metrics.buffered_bytes.set(buffered as i64);
        metrics.open_requests.set(open as i64);
        metrics.checkpoint.set(checkpoint.sequence as i64);
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        metrics.lag.set(now_ms.saturating_sub(checkpoint.timestamp_ms) as f64 / 1000.0);
    }
    follower.abort();
    if let Some(cursor) = unwritten {
        write_cursor(&cursor_path, cursor)?;
    }
    processor.end_streams(STOP_GRACE).await;
    batcher.abort();
    Ok(())
}

/// How often, at most, the node rewrites its cursor while checkpoints pass.
const CURSOR_EVERY: std::time::Duration = std::time::Duration::from_millis(200);

/// How long a stopping node waits for its streams to end on chain.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// How often the node checks what it needs to answer (gas), chain idle or not.
const HEALTH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// No gas coin: no answer can land. Looks for coins again, and says so until found.
async fn check_gas(processor: &Processor) {
    let mut coins = processor.gas.size().await;
    if coins == 0 {
        let _ = processor.gas.heal(&mut processor.client.clone(), &processor.keys.signing).await;
        coins = processor.gas.size().await;
    }
    processor.metrics.gas_coins.set(coins as i64);
    processor.metrics.set_unready((coins == 0).then(|| {
        format!(
            "no gas coin: node {} cannot pay for answers; send it SUI (the pool looks again every second)",
            processor.keys.address()
        )
    }));
}

/// The token a permission, revocation, slash or unstake event is about, and whether the
/// token is gone (revoked or unstaked).
fn token_event(event: &sui_sdk_types::Event) -> Option<(Address, bool)> {
    decode::<TokenPermissionsChanged>(event)
        .map(|e| (e.token_id, false))
        .or_else(|| decode::<TokenSlashed>(event).map(|e| (e.token_id, false)))
        .or_else(|| decode::<TokenRevoked>(event).map(|e| (e.token_id, true)))
        .or_else(|| decode::<TokenUnstaked>(event).map(|e| (e.token_id, true)))
}

fn read_cursor(path: &std::path::Path) -> Result<Option<u64>, NodeError> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| NodeError::Config(format!("{} does not hold a checkpoint number", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(crate::fs::FileError::new("reading", path, source).into()),
    }
}

/// Replaces the cursor atomically (write, fsync, rename).
fn write_cursor(path: &std::path::Path, cursor: u64) -> Result<(), NodeError> {
    Ok(crate::fs::write_atomic(path, cursor.to_string().as_bytes(), 0o600)?)
}
