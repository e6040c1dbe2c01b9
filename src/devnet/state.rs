//! The ledger: live objects, executed transactions, checkpoints. In memory; the journal makes
//! it durable. It applies committed transactions and forms checkpoints; it never executes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use sui_sdk_types::{
    Address, CheckpointContents, CheckpointSummary, CheckpointTransactionInfo, Digest, GasCostSummary, Object,
    Transaction, TransactionEffects, TransactionEvents, UserSignature,
};

/// An executed transaction as the ledger keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionRecord {
    /// The transaction.
    pub transaction: Transaction,
    /// Its signatures.
    pub signatures: Vec<UserSignature>,
    /// Its effects.
    pub effects: TransactionEffects,
    /// Its events, if any.
    pub events: Option<TransactionEvents>,
    /// Execution time.
    pub timestamp_ms: u64,
    /// The checkpoint that includes it, once formed.
    pub checkpoint: Option<u64>,
}

/// The objects a transaction's effects list as changed.
pub fn changed_objects(effects: &TransactionEffects) -> &[sui_sdk_types::ChangedObject] {
    match effects {
        TransactionEffects::V2(e) => &e.changed_objects,
        TransactionEffects::V1(_) => &[],
    }
}

/// What one transaction changed, as applied to the ledger and written to the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Commit {
    /// The executed transaction.
    pub record: TransactionRecord,
    /// Objects created or mutated, at their new versions.
    pub written: Vec<Object>,
    /// Objects deleted (or consumed).
    pub deleted: Vec<Address>,
}

/// A formed checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// Its summary.
    pub summary: CheckpointSummary,
    /// Its contents.
    pub contents: CheckpointContents,
}

/// A checkpoint with the transactions it includes, as subscribers receive it.
#[derive(Debug, Clone)]
pub struct FullCheckpoint {
    /// Summary and contents.
    pub checkpoint: CheckpointRecord,
    /// The transactions, in order.
    pub transactions: Vec<TransactionRecord>,
}

/// One record of the devnet's journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// The genesis objects and checkpoint 0; always the first record.
    Genesis(Box<Genesis>),
    /// A committed transaction.
    Transaction(Box<Commit>),
    /// A formed checkpoint.
    Checkpoint(Box<CheckpointRecord>),
}

/// The first record of every devnet journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Genesis {
    /// Objects at genesis.
    pub objects: Vec<Object>,
    /// Checkpoint 0.
    pub checkpoint: CheckpointRecord,
}

/// The whole chain state.
#[derive(Debug, Default)]
pub struct Ledger {
    objects: HashMap<Address, Object>,
    deleted: HashMap<Address, Digest>,
    transactions: HashMap<Digest, TransactionRecord>,
    checkpoints: Vec<CheckpointRecord>,
    pending: Vec<Digest>,
    total_transactions: u64,
    rolling_gas: GasCostSummary,
}

impl Ledger {
    /// A ledger holding `objects`, with checkpoint 0 at `timestamp_ms`.
    pub fn genesis(objects: Vec<Object>, timestamp_ms: u64) -> (Ledger, CheckpointRecord) {
        let mut ledger = Ledger::default();
        for o in objects {
            ledger.objects.insert(o.object_id(), o);
        }
        let contents = CheckpointContents::new_v1(vec![]);
        let checkpoint = CheckpointRecord {
            summary: CheckpointSummary {
                epoch: 0,
                sequence_number: 0,
                network_total_transactions: 0,
                content_digest: contents.digest(),
                previous_digest: None,
                epoch_rolling_gas_cost_summary: GasCostSummary::default(),
                timestamp_ms,
                checkpoint_commitments: vec![],
                end_of_epoch_data: None,
                version_specific_data: vec![],
            },
            contents,
        };
        ledger.checkpoints.push(checkpoint.clone());
        (ledger, checkpoint)
    }

    /// The chain id: the digest of checkpoint 0.
    pub fn chain_id(&self) -> Digest {
        self.checkpoints[0].summary.digest()
    }

    /// A live object.
    pub fn object(&self, id: &Address) -> Option<&Object> {
        self.objects.get(id)
    }

    /// The transaction that deleted `id`, if it was deleted.
    pub fn deleted_by(&self, id: &Address) -> Option<Digest> {
        self.deleted.get(id).copied()
    }

    /// An executed transaction.
    pub fn transaction(&self, digest: &Digest) -> Option<&TransactionRecord> {
        self.transactions.get(digest)
    }

    /// A checkpoint by sequence number.
    pub fn checkpoint(&self, sequence: u64) -> Option<&CheckpointRecord> {
        usize::try_from(sequence).ok().and_then(|i| self.checkpoints.get(i))
    }

    /// A checkpoint with its transactions.
    pub fn full_checkpoint(&self, sequence: u64) -> Option<FullCheckpoint> {
        let checkpoint = self.checkpoint(sequence)?.clone();
        let transactions = checkpoint
            .contents
            .transactions()
            .iter()
            .filter_map(|t| self.transaction(t.transaction()).cloned())
            .collect();
        Some(FullCheckpoint { checkpoint, transactions })
    }

    /// The newest checkpoint.
    pub fn latest_checkpoint(&self) -> &CheckpointRecord {
        self.checkpoints.last().expect("genesis checkpoint")
    }

    /// Applies a committed transaction (from execution or from the journal).
    pub fn apply(&mut self, commit: Commit) {
        let digest = commit.record.transaction.digest();
        for id in commit.deleted {
            self.objects.remove(&id);
            self.deleted.insert(id, digest);
        }
        for o in commit.written {
            self.objects.insert(o.object_id(), o);
        }
        let gas = commit.record.effects.gas_summary();
        self.rolling_gas.computation_cost += gas.computation_cost;
        self.rolling_gas.storage_cost += gas.storage_cost;
        self.rolling_gas.storage_rebate += gas.storage_rebate;
        self.rolling_gas.non_refundable_storage_fee += gas.non_refundable_storage_fee;
        if commit.record.checkpoint.is_none() {
            self.pending.push(digest);
        }
        self.transactions.insert(digest, commit.record);
        self.total_transactions += 1;
    }

    /// Forms the next checkpoint from the transactions not yet in one, if there are any.
    pub fn form_checkpoint(&mut self, timestamp_ms: u64) -> Option<CheckpointRecord> {
        if self.pending.is_empty() {
            return None;
        }
        let sequence = self.checkpoints.len() as u64;
        let infos = self
            .pending
            .iter()
            .map(|d| {
                let r = &self.transactions[d];
                CheckpointTransactionInfo::new(*d, r.effects.digest(), r.signatures.clone())
            })
            .collect();
        let contents = CheckpointContents::new_v1(infos);
        let previous = self.latest_checkpoint();
        let checkpoint = CheckpointRecord {
            summary: CheckpointSummary {
                epoch: 0,
                sequence_number: sequence,
                network_total_transactions: self.total_transactions,
                content_digest: contents.digest(),
                previous_digest: Some(previous.summary.digest()),
                epoch_rolling_gas_cost_summary: self.rolling_gas.clone(),
                timestamp_ms: timestamp_ms.max(previous.summary.timestamp_ms),
                checkpoint_commitments: vec![],
                end_of_epoch_data: None,
                version_specific_data: vec![],
            },
            contents,
        };
        self.apply_checkpoint(checkpoint.clone());
        Some(checkpoint)
    }

    /// Records a checkpoint (formed here or read from the journal).
    pub fn apply_checkpoint(&mut self, checkpoint: CheckpointRecord) {
        let sequence = checkpoint.summary.sequence_number;
        for info in checkpoint.contents.transactions() {
            if let Some(r) = self.transactions.get_mut(info.transaction()) {
                r.checkpoint = Some(sequence);
            }
        }
        self.pending.retain(|d| self.transactions.get(d).is_some_and(|r| r.checkpoint.is_none()));
        if sequence as usize == self.checkpoints.len() {
            self.checkpoints.push(checkpoint);
        }
    }

    /// Objects owned by `owner`, ordered by id.
    pub fn owned_by(&self, owner: &Address) -> BTreeMap<Address, &Object> {
        self.objects
            .values()
            .filter(|o| matches!(o.owner(), sui_sdk_types::Owner::Address(a) if a == owner))
            .map(|o| (o.object_id(), o))
            .collect()
    }
}
