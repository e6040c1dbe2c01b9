//! The devnet's chain: the ledger behind a lock, the journal that makes it durable, and the
//! checkpoint feed. Executing, simulating and forming checkpoints all go through here.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use sui_crypto::SuiSigner;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{
    Address, Argument, Command, Digest, ExecutionStatus, Identifier, Input, MoveStruct, Object, ObjectData, Owner,
    ProgrammableTransaction, SplitCoins, StructTag, Transaction, TransactionExpiration, TransactionKind,
    TransferObjects, UserSignature,
};
use tokio::sync::broadcast;

use super::error::DevnetError;
use super::execute::{self, ClockContents, CoinContents, REFERENCE_GAS_PRICE, Rejection};
use super::state::{Commit, FullCheckpoint, Ledger, TransactionRecord, changed_objects};
use super::state::{Genesis, Record};
use crate::journal::Journal;

/// SUI in the faucet at genesis, in MIST.
pub const FAUCET_SUPPLY: u64 = 10_000_000_000 * 1_000_000_000;
/// What one faucet request sends, in MIST (100 SUI).
pub const FAUCET_AMOUNT: u64 = 100 * 1_000_000_000;
/// The journal file in the data directory.
pub const JOURNAL_FILE: &str = "ledger.journal";
/// The file holding the faucet's key, in the data directory.
pub const FAUCET_KEY_FILE: &str = "faucet.key";

pub use crate::contract::devnet_package_id as package_id;

/// The chain.
#[derive(Debug)]
pub struct Chain {
    ledger: Mutex<Ledger>,
    journal: Journal<Record>,
    feed: broadcast::Sender<Arc<FullCheckpoint>>,
    faucet_key: Ed25519PrivateKey,
    faucet_lock: tokio::sync::Mutex<()>,
    /// Signalled by every commit: the checkpointer closes a checkpoint on demand.
    committed: tokio::sync::Notify,
    /// The time executions see instead of the wall clock (0: the wall clock). Only tests set
    /// it, through the library ([`Chain::set_clock_for_testing`]); no flag or RPC reaches it.
    clock_for_testing: std::sync::atomic::AtomicU64,
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Chain {
    /// The chain time an execution sees.
    fn execution_time(&self) -> u64 {
        match self.clock_for_testing.load(std::sync::atomic::Ordering::SeqCst) {
            0 => now_ms(),
            fixed => fixed,
        }
    }

    /// Makes executions see `ms` as the `Clock`'s time (`None`: the wall clock again), e.g.
    /// the time a recorded attestation document verifies at. Tests only: a devnet started by
    /// `kubectl sui devnet` or `up` offers no way to call it.
    pub fn set_clock_for_testing(&self, ms: Option<u64>) {
        self.clock_for_testing.store(ms.unwrap_or(0), std::sync::atomic::Ordering::SeqCst);
    }

    /// Opens the chain in `data_dir`: replays its journal, or creates genesis.
    pub async fn open(data_dir: &Path) -> Result<Arc<Chain>, DevnetError> {
        let (journal, records) = Journal::open(&data_dir.join(JOURNAL_FILE))?;
        let faucet_key = faucet_key(data_dir)?;
        let mut ledger = None;
        for record in records {
            match record {
                Record::Genesis(genesis) => {
                    let (l, _) = Ledger::genesis(genesis.objects, genesis.checkpoint.summary.timestamp_ms);
                    ledger = Some(l);
                }
                Record::Transaction(commit) => ledger.as_mut().expect("genesis first").apply(*commit),
                Record::Checkpoint(c) => ledger.as_mut().expect("genesis first").apply_checkpoint(*c),
            }
        }
        let ledger = match ledger {
            Some(l) => l,
            None => {
                let objects = genesis_objects(faucet_key.public_key().derive_address());
                let (l, checkpoint) = Ledger::genesis(objects.clone(), now_ms());
                let durable = journal.append(&Record::Genesis(Box::new(Genesis { objects, checkpoint })))?;
                durable.await.map_err(|_| crate::journal::JournalError::Closed)?;
                l
            }
        };
        let (feed, _) = broadcast::channel(1024);
        Ok(Arc::new(Chain {
            ledger: Mutex::new(ledger),
            journal,
            feed,
            faucet_key,
            faucet_lock: tokio::sync::Mutex::new(()),
            committed: tokio::sync::Notify::new(),
            clock_for_testing: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// Reads the ledger.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to new checkpoints.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FullCheckpoint>> {
        self.feed.subscribe()
    }

    /// Executes a signed transaction and returns once it is durable. Executing an already
    /// executed transaction returns its record again.
    pub async fn execute(
        &self,
        transaction: Transaction,
        signatures: Vec<UserSignature>,
    ) -> Result<TransactionRecord, Rejection> {
        let digest = transaction.digest();
        let (record, durable) = {
            let mut ledger = self.ledger();
            if let Some(done) = ledger.transaction(&digest) {
                return Ok(done.clone());
            }
            let commit = execute::execute(&ledger, package_id(), transaction, Some(signatures), self.execution_time())?;
            let durable = self
                .journal
                .append(&Record::Transaction(Box::new(commit.clone())))
                .map_err(|e| Rejection::Unavailable(e.to_string()))?;
            let record = commit.record.clone();
            ledger.apply(commit);
            (record, durable)
        };
        self.committed.notify_one();
        durable.await.map_err(|_| {
            Rejection::Unavailable("the devnet's journal stopped; the transaction is not durable".into())
        })?;
        Ok(record)
    }

    /// Executes `transaction` without signatures and without committing it.
    pub fn simulate(&self, transaction: Transaction) -> Result<Commit, Rejection> {
        execute::execute(&self.ledger(), package_id(), transaction, None, self.execution_time())
    }

    /// Waits until a transaction commits after the last wait (a commit while nobody waits is
    /// kept: the next wait returns at once).
    pub async fn committed(&self) {
        self.committed.notified().await;
    }

    /// Forms a checkpoint of the pending transactions, makes it durable and publishes it.
    pub async fn checkpoint(&self) -> Result<Option<u64>, DevnetError> {
        let (full, durable) = {
            let mut ledger = self.ledger();
            let Some(checkpoint) = ledger.form_checkpoint(now_ms()) else { return Ok(None) };
            let durable = self.journal.append(&Record::Checkpoint(Box::new(checkpoint.clone())))?;
            let full = ledger.full_checkpoint(checkpoint.summary.sequence_number).expect("just formed");
            (full, durable)
        };
        durable.await.map_err(|_| crate::journal::JournalError::Closed)?;
        let sequence = full.checkpoint.summary.sequence_number;
        // No subscriber is not an error.
        let _ = self.feed.send(Arc::new(full));
        Ok(Some(sequence))
    }

    /// Sends `amount` MIST from the faucet to `recipient` in a real signed transaction.
    pub async fn faucet(&self, recipient: Address, amount: u64) -> Result<(Address, Digest), Rejection> {
        let _one_at_a_time = self.faucet_lock.lock().await;
        let sender = self.faucet_key.public_key().derive_address();
        let gas = {
            let ledger = self.ledger();
            let coin = ledger
                .owned_by(&sender)
                .into_values()
                .filter(|o| o.as_struct().is_some_and(|s| s.object_type() == &StructTag::gas_coin()))
                .map(|o| sui_sdk_types::ObjectReference::new(o.object_id(), o.version(), o.digest()))
                .next();
            coin.ok_or_else(|| Rejection::Unavailable("the faucet is empty".into()))?
        };
        let transaction = Transaction {
            kind: TransactionKind::ProgrammableTransaction(ProgrammableTransaction {
                inputs: vec![
                    Input::Pure(bcs::to_bytes(&amount).expect("u64")),
                    Input::Pure(bcs::to_bytes(&recipient).expect("address")),
                ],
                commands: vec![
                    Command::SplitCoins(SplitCoins { coin: Argument::Gas, amounts: vec![Argument::Input(0)] }),
                    Command::TransferObjects(TransferObjects {
                        objects: vec![Argument::NestedResult(0, 0)],
                        address: Argument::Input(1),
                    }),
                ],
            }),
            sender,
            gas_payment: sui_sdk_types::GasPayment {
                objects: vec![gas],
                owner: sender,
                price: REFERENCE_GAS_PRICE,
                budget: 50_000_000,
            },
            expiration: TransactionExpiration::None,
        };
        let signature = self
            .faucet_key
            .sign_transaction(&transaction)
            .map_err(|e| Rejection::Unavailable(format!("signing the faucet transaction: {e}")))?;
        let record = self.execute(transaction, vec![signature]).await?;
        if record.effects.status() != &ExecutionStatus::Success {
            return Err(Rejection::Unavailable(format!("faucet transaction failed: {:?}", record.effects.status())));
        }
        let ledger = self.ledger();
        let coin = changed_objects(&record.effects)
            .iter()
            .find(|c| {
                matches!(c.id_operation, sui_sdk_types::IdOperation::Created)
                    && ledger.object(&c.object_id).is_some_and(|o| o.owner() == &Owner::Address(recipient))
            })
            .map(|c| c.object_id)
            .ok_or_else(|| Rejection::Unavailable("faucet transaction created no coin".into()))?;
        Ok((coin, record.transaction.digest()))
    }
}

/// The faucet's key: created once per data directory, kept in a file only the user can read.
fn faucet_key(dir: &Path) -> Result<Ed25519PrivateKey, DevnetError> {
    let path = dir.join(FAUCET_KEY_FILE);
    let io = |action, source| DevnetError::from(crate::fs::FileError::new(action, &path, source));
    match std::fs::read_to_string(&path) {
        Ok(text) => Ed25519PrivateKey::from_base64(text.trim())
            .map_err(|e| io("decoding", std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let key = Ed25519PrivateKey::generate(rand_core::OsRng);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io("creating", e))?;
            file.write_all(key.to_base64().as_bytes()).and_then(|()| file.sync_all()).map_err(|e| io("writing", e))?;
            Ok(key)
        }
        Err(e) => Err(io("reading", e)),
    }
}

fn genesis_objects(faucet: Address) -> Vec<Object> {
    let clock_id = Address::from_static("0x6");
    let clock_tag =
        StructTag::new(Address::TWO, Identifier::from_static("clock"), Identifier::from_static("Clock"), vec![]);
    let clock = MoveStruct::new(
        clock_tag,
        false,
        1,
        bcs::to_bytes(&ClockContents { id: clock_id, timestamp_ms: 0 }).expect("clock"),
    )
    .expect("id");
    let coin_id = Address::new(sui_sdk_types::hash::Hasher::digest(b"kubectl-sui devnet faucet coin").into_inner());
    let coin = MoveStruct::new(
        StructTag::gas_coin(),
        true,
        1,
        bcs::to_bytes(&CoinContents { id: coin_id, balance: FAUCET_SUPPLY }).expect("coin"),
    )
    .expect("id");
    vec![
        Object::new(ObjectData::Struct(clock), Owner::Shared(1), Digest::ZERO, 0),
        Object::new(ObjectData::Struct(coin), Owner::Address(faucet), Digest::ZERO, 0),
    ]
}
