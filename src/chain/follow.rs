//! Following the chain: a checkpoint subscription, a backfill from the cursor on every
//! (re)connect, and reconnection with exponential backoff and jitter. Checkpoints come out
//! strictly in order, none skipped, as (sequence number, events of the contract).
//!
//! A quiet subscription is not a dead one: the devnet forms a checkpoint only when something
//! commits, so its stream can say nothing for hours. The follower therefore turns the client's
//! idle-body watchdog off for the subscription and checks liveness itself: after
//! [`QUIET_PROBE`] without a checkpoint it asks for the latest one, keeps the stream while the
//! chain is as quiet as the stream, and replaces it when the chain has moved on without it. A
//! full node's stream, with a checkpoint every quarter second, never gets that far.

use std::time::Duration;

use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{
    Address, Argument, Command, Digest, Event, ExecutionError, ExecutionStatus, Input, Transaction, TransactionEffects,
    TransactionEvents, TransactionKind,
};
use tokio::sync::mpsc;

use crate::chain::{ChainClient, ChainError};

/// Events of one checkpoint, in transaction order.
#[derive(Debug, Clone)]
pub struct CheckpointEvents {
    /// Its sequence number.
    pub sequence: u64,
    /// Its timestamp.
    pub timestamp_ms: u64,
    /// The contract's events in it.
    pub events: Vec<Event>,
    /// With [`Detail::Transactions`]: its transactions that called the contract.
    pub transactions: Vec<ContractTransaction>,
}

/// A transaction that called the contract, successful or not.
#[derive(Debug, Clone)]
pub struct ContractTransaction {
    /// Its digest.
    pub digest: Digest,
    /// Who signed it.
    pub sender: Address,
    /// Its events from the contract.
    pub events: Vec<Event>,
    /// The contract's abort, for a failed transaction: module and code.
    pub abort: Option<(String, u64)>,
    /// Its calls to the contract.
    pub calls: Vec<ContractCall>,
}

/// One `MoveCall` to the contract.
#[derive(Debug, Clone)]
pub struct ContractCall {
    /// Module.
    pub module: String,
    /// Function.
    pub function: String,
    /// Arguments.
    pub arguments: Vec<CallInput>,
}

/// An argument of a call, as far as the transaction itself says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallInput {
    /// BCS bytes of a pure value.
    Pure(Vec<u8>),
    /// An object input.
    Object(Address),
    /// The result of an earlier command, or the gas coin.
    Computed,
}

/// How much of each checkpoint to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The contract's events only (what nodes and proxies need).
    Events,
    /// Also every transaction that called the contract, failed ones included (the audit).
    Transactions,
}

impl Detail {
    fn mask(self) -> &'static str {
        match self {
            Detail::Events => "sequence_number,summary.timestamp,transactions.events.bcs",
            Detail::Transactions => {
                "sequence_number,summary.timestamp,transactions.digest,transactions.transaction.bcs,transactions.effects.bcs,transactions.events.bcs"
            }
        }
    }
}
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// A subscription without a checkpoint for this long is checked against the chain's latest.
pub const QUIET_PROBE: Duration = Duration::from_secs(20);
/// How long that check may take before the connection counts as dead.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// When a quiet subscription is checked, and how long the check may take.
#[derive(Debug, Clone, Copy)]
struct Liveness {
    quiet: Duration,
    probe_timeout: Duration,
}

/// Follows the chain from checkpoint `next`, sending every checkpoint to `out`, forever.
pub async fn follow(client: ChainClient, package: Address, next: u64, out: mpsc::Sender<CheckpointEvents>) {
    follow_with(client, package, next, Detail::Events, out).await
}

/// As [`follow`], reading `detail` of each checkpoint.
pub async fn follow_with(
    client: ChainClient,
    package: Address,
    next: u64,
    detail: Detail,
    out: mpsc::Sender<CheckpointEvents>,
) {
    let liveness = Liveness { quiet: QUIET_PROBE, probe_timeout: PROBE_TIMEOUT };
    follow_inner(client, package, next, detail, out, liveness).await
}

async fn follow_inner(
    mut client: ChainClient,
    package: Address,
    mut next: u64,
    detail: Detail,
    out: mpsc::Sender<CheckpointEvents>,
    liveness: Liveness,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match follow_once(&mut client, package, &mut next, detail, &out, liveness, &mut backoff).await {
            Ok(()) => return, // the receiver is gone: the node is stopping
            Err(e) => {
                let jitter =
                    Duration::from_millis(u64::from(rand_core::RngCore::next_u32(&mut rand_core::OsRng) % 250));
                tracing::warn!(error = %e, next, retry_in = ?(backoff + jitter), "checkpoint stream lost; reconnecting");
                tokio::time::sleep(backoff + jitter).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// One subscription, from its backfill to its loss; `backoff` starts again once it is caught
/// up, so a follower that was cut off once does not wait the longest backoff ever after.
async fn follow_once(
    client: &mut ChainClient,
    package: Address,
    next: &mut u64,
    detail: Detail,
    out: &mpsc::Sender<CheckpointEvents>,
    liveness: Liveness,
    backoff: &mut Duration,
) -> Result<(), ChainError> {
    let mut request = proto::SubscribeCheckpointsRequest::default();
    request.read_mask = Some(FieldMask::from_str(detail.mask()));
    let mut request = tonic::Request::new(request);
    request.extensions_mut().insert(sui_rpc::client::BodyIdleTimeout::disabled());
    let mut stream = client
        .rpc()
        .subscription_client()
        .subscribe_checkpoints(request)
        .await
        .map_err(|s| ChainError::rpc("SubscribeCheckpoints", s))?
        .into_inner();
    tracing::info!(next, "following checkpoints");
    // Subscribed first, then caught up: nothing formed in between can be missed, and an idle
    // chain (no new checkpoint to reveal a gap) still gets its past read.
    let latest = client.latest_checkpoint().await?;
    if *next <= latest {
        backfill(client, package, next, latest, detail, out).await?;
    }
    *backoff = FIRST_BACKOFF;
    loop {
        let item = match tokio::time::timeout(liveness.quiet, stream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => return Err(ChainError::Missing { what: "checkpoint stream (it ended)" }),
            Err(_quiet) => {
                let latest = tokio::time::timeout(liveness.probe_timeout, client.latest_checkpoint()).await.map_err(
                    |_| ChainError::Missing { what: "answer to GetCheckpoint in time (the connection is dead)" },
                )??;
                if latest >= *next {
                    return Err(ChainError::Missing { what: "checkpoint on the stream, which fell silent" });
                }
                tracing::debug!(next, "the chain is quiet; keeping the checkpoint stream");
                continue;
            }
        };
        let checkpoint = item.map_err(|s| ChainError::rpc("SubscribeCheckpoints", s))?.checkpoint.unwrap_or_default();
        let sequence = checkpoint.sequence_number.unwrap_or(0);
        if sequence < *next {
            continue;
        }
        if sequence > *next {
            backfill(client, package, next, sequence - 1, detail, out).await?;
        }
        if !deliver(package, checkpoint, out).await {
            return Ok(());
        }
        *next = sequence + 1;
    }
}

/// Sends checkpoints `next..=end`, read with `ListCheckpoints`, or one `GetCheckpoint` each
/// from a full node that does not serve `ListCheckpoints` (Sui 1.64 does not).
async fn backfill(
    client: &mut ChainClient,
    package: Address,
    next: &mut u64,
    end: u64,
    detail: Detail,
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<(), ChainError> {
    tracing::info!(from = *next, to = end, "backfilling checkpoints");
    let mut request = proto::ListCheckpointsRequest::default();
    request.start_checkpoint = Some(*next);
    request.end_checkpoint = Some(end);
    request.read_mask = Some(FieldMask::from_str(detail.mask()));
    let mut stream = match client.rpc().ledger_client().list_checkpoints(request).await {
        Ok(stream) => stream.into_inner(),
        Err(s) if s.code() == tonic::Code::Unimplemented => {
            return backfill_one_by_one(client, package, next, end, detail, out).await;
        }
        Err(s) => return Err(ChainError::rpc("ListCheckpoints", s)),
    };
    while let Some(item) = stream.next().await {
        let checkpoint = item.map_err(|s| ChainError::rpc("ListCheckpoints", s))?.checkpoint.unwrap_or_default();
        if !deliver_next(package, next, checkpoint, out).await? {
            return Ok(());
        }
    }
    if *next <= end {
        return Err(ChainError::Missing { what: "checkpoints at the end of the backfill" });
    }
    Ok(())
}

/// [`backfill`] with one `GetCheckpoint` per checkpoint.
async fn backfill_one_by_one(
    client: &mut ChainClient,
    package: Address,
    next: &mut u64,
    end: u64,
    detail: Detail,
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<(), ChainError> {
    while *next <= end {
        let mut request = proto::GetCheckpointRequest::default();
        request.checkpoint_id = Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(*next));
        request.read_mask = Some(FieldMask::from_str(detail.mask()));
        let checkpoint = client
            .rpc()
            .ledger_client()
            .get_checkpoint(request)
            .await
            .map_err(|s| ChainError::rpc("GetCheckpoint", s))?
            .into_inner()
            .checkpoint
            .unwrap_or_default();
        if !deliver_next(package, next, checkpoint, out).await? {
            return Ok(());
        }
    }
    Ok(())
}

/// Delivers a backfilled checkpoint, which must be `next`, and moves `next` past it; false
/// when the receiver is gone.
async fn deliver_next(
    package: Address,
    next: &mut u64,
    checkpoint: proto::Checkpoint,
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<bool, ChainError> {
    if checkpoint.sequence_number != Some(*next) {
        return Err(ChainError::Missing { what: "checkpoint in backfill (gap)" });
    }
    let delivered = deliver(package, checkpoint, out).await;
    *next += 1;
    Ok(delivered)
}

async fn deliver(package: Address, checkpoint: proto::Checkpoint, out: &mpsc::Sender<CheckpointEvents>) -> bool {
    let sequence = checkpoint.sequence_number.unwrap_or(0);
    let timestamp_ms = checkpoint
        .summary
        .as_ref()
        .and_then(|s| s.timestamp.as_ref())
        .map(|t| t.seconds as u64 * 1000 + t.nanos as u64 / 1_000_000)
        .unwrap_or(0);
    let events_of = |t: &proto::ExecutedTransaction| -> Vec<Event> {
        t.events
            .as_ref()
            .and_then(|e| e.bcs.as_ref()?.deserialize::<TransactionEvents>().ok())
            .map(|e| e.0.into_iter().filter(|e| e.package_id == package).collect())
            .unwrap_or_default()
    };
    let events = checkpoint.transactions.iter().flat_map(events_of).collect();
    let transactions = checkpoint
        .transactions
        .iter()
        .filter_map(|t| {
            let transaction: Transaction = t.transaction.as_ref()?.bcs.as_ref()?.deserialize().ok()?;
            let effects: TransactionEffects = t.effects.as_ref()?.bcs.as_ref()?.deserialize().ok()?;
            contract_transaction(package, transaction, &effects, events_of(t))
        })
        .collect();
    out.send(CheckpointEvents { sequence, timestamp_ms, events, transactions }).await.is_ok()
}

fn contract_transaction(
    package: Address,
    transaction: Transaction,
    effects: &TransactionEffects,
    events: Vec<Event>,
) -> Option<ContractTransaction> {
    let TransactionKind::ProgrammableTransaction(ptb) = &transaction.kind else { return None };
    let input = |a: &Argument| match a {
        Argument::Input(i) => match ptb.inputs.get(usize::from(*i)) {
            Some(Input::Pure(value)) => CallInput::Pure(value.clone()),
            Some(Input::Shared(shared)) => CallInput::Object(shared.object_id()),
            Some(Input::ImmutableOrOwned(reference) | Input::Receiving(reference)) => {
                CallInput::Object(*reference.object_id())
            }
            _ => CallInput::Computed,
        },
        _ => CallInput::Computed,
    };
    let calls: Vec<_> = ptb
        .commands
        .iter()
        .filter_map(|c| match c {
            Command::MoveCall(call) if call.package == package => Some(ContractCall {
                module: call.module.to_string(),
                function: call.function.to_string(),
                arguments: call.arguments.iter().map(input).collect(),
            }),
            _ => None,
        })
        .collect();
    if calls.is_empty() {
        return None;
    }
    let abort = match effects.status() {
        ExecutionStatus::Failure { error: ExecutionError::MoveAbort { location, code }, .. }
            if location.package == package =>
        {
            Some((location.module.to_string(), *code))
        }
        _ => None,
    };
    Some(ContractTransaction { digest: transaction.digest(), sender: transaction.sender, events, abort, calls })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::devnet::{Devnet, DevnetConfig, InProcess, local_chain::FAUCET_AMOUNT, package_id};

    /// Counts warnings: each lost stream logs one.
    struct Warnings(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
        fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    /// The devnet forms checkpoints only when there is something to commit, so a quiet chain
    /// leaves the subscription without a message for as long as nobody transacts. The first
    /// checkpoint after that must still arrive at once: not after the client's idle-body
    /// watchdog has reset the stream and the follower has backed off (24 s for the first
    /// `kubectl get pods` after a few idle minutes, before this was fixed).
    #[tokio::test]
    async fn a_checkpoint_after_a_quiet_spell_arrives_at_once() {
        // The test's runtime is one thread, so the follower's task logs here too.
        let warnings = Arc::new(AtomicUsize::new(0));
        let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(Warnings(warnings.clone())));
        let dir = tempfile::tempdir().unwrap();
        // Over a socket: the watchdog sits in the client's channel, which the in-process
        // devnet's client does not use.
        let devnet = Devnet::start(DevnetConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            faucet_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_path_buf(),
            checkpoint_interval: Duration::from_millis(2),
            finality: Duration::ZERO,
        })
        .await
        .unwrap();
        let mut client = ChainClient::new(&devnet.grpc_url(), package_id()).unwrap();
        // The watchdog made short, so that spells longer than it fit in a unit test.
        *client.rpc() = client.rpc().clone().with_body_idle_timeout(Duration::from_millis(100));
        let next = client.latest_checkpoint().await.unwrap() + 1;
        let (tx, mut rx) = mpsc::channel(16);
        let liveness = Liveness { quiet: Duration::from_millis(400), probe_timeout: Duration::from_secs(2) };
        let follower = tokio::spawn(follow_inner(client, package_id(), next, Detail::Events, tx, liveness));
        for spell in 0..3 {
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            let sent = Instant::now();
            devnet.chain().faucet(Address::from([spell + 1; 32]), FAUCET_AMOUNT).await.unwrap();
            let checkpoint = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
            assert_eq!(checkpoint.sequence, next + u64::from(spell), "in order, none skipped");
            let waited = sent.elapsed();
            assert!(waited < Duration::from_millis(300), "quiet spell {spell}: the checkpoint took {waited:?}");
        }
        assert_eq!(warnings.load(Ordering::SeqCst), 0, "a quiet stream was taken for a lost one");
        follower.abort();
    }

    /// A full node that accepts the subscription and then says nothing while the chain moves
    /// on (stalled, or hostile) does not hold the follower: after its quiet spell the follower
    /// sees the chain past its cursor, replaces the stream and backfills what it missed.
    #[tokio::test]
    async fn a_silent_stream_over_a_moving_chain_is_replaced_and_nothing_is_missed() {
        let warnings = Arc::new(AtomicUsize::new(0));
        let _log = tracing::subscriber::set_default(tracing_subscriber::registry().with(Warnings(warnings.clone())));
        let dir = tempfile::tempdir().unwrap();
        let devnet = InProcess::open(dir.path(), Duration::from_millis(2)).await.unwrap();
        let routes = devnet.routes();
        // Every subscription answers its headers, then never a message; all else is served.
        let silent_subscriptions = tower::layer::layer_fn(move |_channel| {
            let routes = routes.clone();
            tower::service_fn(move |request: http::Request<tonic::body::Body>| {
                let mut routes = routes.clone();
                async move {
                    if request.uri().path().ends_with("/SubscribeCheckpoints") {
                        let never =
                            futures::stream::pending::<Result<hyper::body::Frame<bytes::Bytes>, tonic::Status>>();
                        let silent = tonic::body::Body::new(http_body_util::StreamBody::new(never));
                        Ok(http::Response::builder().header("content-type", "application/grpc").body(silent).unwrap())
                    } else {
                        tower::Service::call(&mut routes, request).await
                    }
                }
            })
        });
        let mut client = devnet.client();
        *client.rpc() = sui_rpc::Client::new("http://in-process.invalid").unwrap().request_layer(silent_subscriptions);
        let next = client.latest_checkpoint().await.unwrap() + 1;
        let (tx, mut rx) = mpsc::channel(16);
        let liveness = Liveness { quiet: Duration::from_millis(300), probe_timeout: Duration::from_secs(2) };
        let follower = tokio::spawn(follow_inner(client, package_id(), next, Detail::Events, tx, liveness));
        tokio::time::sleep(Duration::from_millis(100)).await;
        devnet.fund(Address::from([9; 32])).await.unwrap();
        let checkpoint = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("not held").unwrap();
        assert_eq!(checkpoint.sequence, next, "backfilled, none skipped");
        assert!(warnings.load(Ordering::SeqCst) >= 1, "the silent stream was replaced");
        follower.abort();
    }
}
