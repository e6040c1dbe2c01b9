//! The audit trail read back from the chain: every request a cluster's contract recorded,
//! with its answer, and every request the contract refused (an aborted `submit` is still a
//! transaction on chain, with its public attributes as arguments).
//!
//! This module turns checkpoints (read with [`Detail::Transactions`]) into [`AuditRecord`]s.
//! It reads only public data: it never sees or needs a body.
//!
//! [`cluster_log`] checks the trail against the API server's own audit log; [`replay`] opens a
//! recorded session with an auditor's key (the one part of the trail that is not public).
//!
//! [`Detail::Transactions`]: crate::chain::follow::Detail::Transactions

pub mod cluster_log;
pub mod replay;

use std::collections::HashMap;

use serde::Serialize;
use sui_sdk_types::{Address, Digest};

use crate::chain::follow::{CallInput, CheckpointEvents, ContractTransaction};
use crate::contract::events::{RequestSubmitted, ResponseStored, StreamEnded, StreamFrame, StreamOpened, decode};
use crate::contract::{EndReason, Verb, lookup_abort};

/// What became of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Outcome {
    /// Recorded, no answer yet.
    Pending,
    /// The node answered with this HTTP status.
    Answered {
        /// The status.
        status: u16,
    },
    /// The node answered with a stream, open or ended: one record per stream.
    Streamed {
        /// The API server's status.
        status: u16,
        /// Frames carried so far (all of them once ended).
        frames: u32,
        /// Why it ended (`completed`, `token`, `limit`, `node`, `client`); none while open.
        ended: Option<String>,
    },
    /// The contract refused it.
    Denied {
        /// The abort constant (or module and code when unknown).
        reason: String,
    },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Pending => f.write_str("pending"),
            Outcome::Answered { status } => write!(f, "{status}"),
            Outcome::Denied { reason } => write!(f, "denied:{reason}"),
            Outcome::Streamed { status, frames, ended: Some(end) } => write!(f, "{status} stream:{frames}:{end}"),
            Outcome::Streamed { status, frames, ended: None } => write!(f, "{status} stream:{frames}:open"),
        }
    }
}

/// One request in the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditRecord {
    /// Chain time of the request (ms since the epoch).
    pub time_ms: u64,
    /// Who sent it.
    pub requester: Address,
    /// The verb.
    pub verb: String,
    /// API group.
    pub group: String,
    /// Resource (with subresource); empty for non-resource paths.
    pub resource: String,
    /// Namespace.
    pub namespace: String,
    /// Object name, or the path of a non-resource request.
    pub name: String,
    /// What became of it.
    pub outcome: Outcome,
    /// The node addressed.
    pub node: Option<Address>,
    /// The request's transaction.
    pub tx: Digest,
    /// The checkpoint that carries it: where `kubectl sui audit replay --from-checkpoint`
    /// starts reading.
    pub checkpoint: u64,
    /// The request id (none when refused).
    pub request: Option<Address>,
}

/// Builds the trail of one cluster from checkpoints in order.
#[derive(Debug)]
pub struct AuditTrail {
    cluster: Address,
    pending: HashMap<Address, AuditRecord>,
}

impl AuditTrail {
    /// The trail of `cluster`.
    pub fn new(cluster: Address) -> AuditTrail {
        AuditTrail { cluster, pending: HashMap::new() }
    }

    /// Takes in a checkpoint; returns the records it completed (answered or refused).
    pub fn feed(&mut self, checkpoint: &CheckpointEvents) -> Vec<AuditRecord> {
        let mut done = Vec::new();
        for tx in &checkpoint.transactions {
            if let Some(denied) = self.refused(tx, checkpoint) {
                done.push(denied);
                continue;
            }
            for event in &tx.events {
                if let Some(r) = decode::<RequestSubmitted>(event)
                    && r.cluster_id == self.cluster
                {
                    self.pending.insert(
                        r.request_id,
                        AuditRecord {
                            time_ms: r.timestamp_ms,
                            requester: r.requester,
                            verb: verb_name(r.verb),
                            group: r.group,
                            resource: r.resource,
                            namespace: r.namespace,
                            name: r.name,
                            outcome: Outcome::Pending,
                            node: Some(r.node),
                            tx: tx.digest,
                            checkpoint: checkpoint.sequence,
                            request: Some(r.request_id),
                        },
                    );
                } else if let Some(s) = decode::<ResponseStored>(event)
                    && let Some(mut record) = self.pending.remove(&s.request_id)
                {
                    record.outcome = Outcome::Answered { status: s.status };
                    record.node = Some(s.node);
                    done.push(record);
                } else if let Some(o) = decode::<StreamOpened>(event)
                    && let Some(record) = self.pending.get_mut(&o.request_id)
                {
                    record.outcome = Outcome::Streamed { status: o.status, frames: 0, ended: None };
                    record.node = Some(o.node);
                } else if let Some(f) = decode::<StreamFrame>(event)
                    && let Some(record) = self.pending.get_mut(&f.request_id)
                    && let Outcome::Streamed { frames, .. } = &mut record.outcome
                {
                    *frames = (*frames).max(f.index + 1);
                } else if let Some(e) = decode::<StreamEnded>(event)
                    && let Some(mut record) = self.pending.remove(&e.request_id)
                {
                    let status = match record.outcome {
                        Outcome::Streamed { status, .. } => status,
                        _ => 200,
                    };
                    let end =
                        EndReason::from_code(e.reason).map_or_else(|| format!("reason{}", e.reason), |r| r.to_string());
                    record.outcome = Outcome::Streamed { status, frames: e.frames, ended: Some(end) };
                    done.push(record);
                }
            }
        }
        done
    }

    /// Requests still without an answer, oldest first.
    pub fn unanswered(&self) -> Vec<AuditRecord> {
        let mut records: Vec<_> = self.pending.values().cloned().collect();
        records.sort_by_key(|r| r.time_ms);
        records
    }

    /// A `submit` to this cluster that the contract aborted.
    fn refused(&self, tx: &ContractTransaction, checkpoint: &CheckpointEvents) -> Option<AuditRecord> {
        let (module, code) = tx.abort.as_ref()?;
        let call = tx.calls.iter().find(|c| c.module == "request" && c.function == "submit")?;
        let arg = |i: usize| match call.arguments.get(i) {
            Some(CallInput::Pure(bytes)) => Some(bytes.as_slice()),
            _ => None,
        };
        let string = |i: usize| arg(i).and_then(|b| bcs::from_bytes::<String>(b).ok()).unwrap_or_default();
        if call.arguments.first() != Some(&CallInput::Object(self.cluster)) {
            return None;
        }
        let reason =
            lookup_abort(module, *code).map(|a| a.name.to_string()).unwrap_or_else(|| format!("{module}:{code}"));
        Some(AuditRecord {
            time_ms: checkpoint.timestamp_ms,
            requester: tx.sender,
            verb: arg(5).and_then(|b| b.first().copied()).map(verb_name).unwrap_or_default(),
            group: string(6),
            resource: string(7),
            namespace: string(8),
            name: string(9),
            outcome: Outcome::Denied { reason },
            node: arg(2).and_then(|b| bcs::from_bytes::<Address>(b).ok()),
            tx: tx.digest,
            checkpoint: checkpoint.sequence,
            request: None,
        })
    }
}

fn verb_name(code: u8) -> String {
    Verb::from_code(code).map(|v| v.as_str().to_string()).unwrap_or_else(|| format!("verb{code}"))
}

/// Every request of `cluster` recorded on chain, from the first checkpoint to the latest.
pub async fn read_trail(
    mut client: crate::chain::ChainClient,
    cluster: Address,
) -> Result<Vec<AuditRecord>, crate::chain::ChainError> {
    let package = client.package();
    let latest = client.latest_checkpoint().await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let follower = tokio::spawn(crate::chain::follow::follow_with(
        client,
        package,
        0,
        crate::chain::follow::Detail::Transactions,
        tx,
    ));
    let mut trail = AuditTrail::new(cluster);
    let mut records = Vec::new();
    while let Some(checkpoint) = rx.recv().await {
        records.extend(trail.feed(&checkpoint));
        if checkpoint.sequence >= latest {
            break;
        }
    }
    follower.abort();
    records.extend(trail.unanswered());
    Ok(records)
}
