//! Following the chain: a checkpoint subscription, a backfill from the cursor on every
//! (re)connect, and reconnection with exponential backoff and jitter. Checkpoints come out
//! strictly in order, none skipped, as (sequence number, events of the contract).

use std::time::Duration;

use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Event, TransactionEvents};
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
}

const MASK: &str = "sequence_number,summary.timestamp,transactions.events.bcs";
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Follows the chain from checkpoint `next`, sending every checkpoint to `out`, forever.
pub async fn follow(mut client: ChainClient, package: Address, mut next: u64, out: mpsc::Sender<CheckpointEvents>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match follow_once(&mut client, package, &mut next, &out).await {
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
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<(), ChainError> {
    let mut request = proto::SubscribeCheckpointsRequest::default();
    request.read_mask = Some(FieldMask::from_str(MASK));
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
        backfill(client, package, next, latest, out).await?;
    }
    while let Some(item) = stream.next().await {
        let checkpoint = item.map_err(|s| ChainError::rpc("SubscribeCheckpoints", s))?.checkpoint.unwrap_or_default();
        let sequence = checkpoint.sequence_number.unwrap_or(0);
        if sequence < *next {
            continue;
        }
        if sequence > *next {
            backfill(client, package, next, sequence - 1, out).await?;
        }
        if !deliver(package, checkpoint, out).await {
            return Ok(());
        }
        *next = sequence + 1;
    }
    Err(ChainError::Missing { what: "checkpoint stream (it ended)" })
}

/// Sends checkpoints `next..=end`, read with `ListCheckpoints`.
async fn backfill(
    client: &mut ChainClient,
    package: Address,
    next: &mut u64,
    end: u64,
    out: &mpsc::Sender<CheckpointEvents>,
) -> Result<(), ChainError> {
    tracing::info!(from = *next, to = end, "backfilling checkpoints");
    let mut request = proto::ListCheckpointsRequest::default();
    request.start_checkpoint = Some(*next);
    request.end_checkpoint = Some(end);
    request.read_mask = Some(FieldMask::from_str(MASK));
    let mut stream = client
        .rpc()
        .ledger_client()
        .list_checkpoints(request)
        .await
        .map_err(|s| ChainError::rpc("ListCheckpoints", s))?
        .into_inner();
    while let Some(item) = stream.next().await {
        let checkpoint = item.map_err(|s| ChainError::rpc("ListCheckpoints", s))?.checkpoint.unwrap_or_default();
        let sequence = checkpoint.sequence_number.unwrap_or(0);
        if sequence != *next {
            return Err(ChainError::Missing { what: "checkpoint in backfill (gap)" });
        }
        if !deliver(package, checkpoint, out).await {
            return Ok(());
        }
        *next = sequence + 1;
    }
    if *next <= end {
        return Err(ChainError::Missing { what: "checkpoints at the end of the backfill" });
    }
    Ok(())
}

async fn deliver(package: Address, checkpoint: proto::Checkpoint, out: &mpsc::Sender<CheckpointEvents>) -> bool {
    let sequence = checkpoint.sequence_number.unwrap_or(0);
    let timestamp_ms = checkpoint
        .summary
        .as_ref()
        .and_then(|s| s.timestamp.as_ref())
        .map(|t| t.seconds as u64 * 1000 + t.nanos as u64 / 1_000_000)
        .unwrap_or(0);
    let events = checkpoint
        .transactions
        .iter()
        .filter_map(|t| t.events.as_ref()?.bcs.as_ref()?.deserialize::<TransactionEvents>().ok())
        .flat_map(|e| e.0)
        .filter(|e| e.package_id == package)
        .collect();
    out.send(CheckpointEvents { sequence, timestamp_ms, events }).await.is_ok()
}
