//! Following the chain: a checkpoint subscription, a backfill from the cursor on every
//! (re)connect, and reconnection with exponential backoff and jitter. Checkpoints come out
//! strictly in order, none skipped, as (sequence number, events of the contract).

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

/// Follows the chain from checkpoint `next`, sending every checkpoint to `out`, forever.
pub async fn follow(client: ChainClient, package: Address, next: u64, out: mpsc::Sender<CheckpointEvents>) {
    follow_with(client, package, next, Detail::Events, out).await
}

/// As [`follow`], reading `detail` of each checkpoint.
pub async fn follow_with(
    mut client: ChainClient,
    package: Address,
    mut next: u64,
    detail: Detail,
    out: mpsc::Sender<CheckpointEvents>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match follow_once(&mut client, package, &mut next, detail, &out).await {
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

async fn follow_once(
    client: &mut ChainClient,
    package: Address,
    next: &mut u64,
    detail: Detail,
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<(), ChainError> {
    let mut request = proto::SubscribeCheckpointsRequest::default();
    request.read_mask = Some(FieldMask::from_str(detail.mask()));
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
    while let Some(item) = stream.next().await {
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
    Err(ChainError::Missing { what: "checkpoint stream (it ended)" })
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
