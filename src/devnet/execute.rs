//! Transaction execution: validation (signature, limits, gas, object versions and owners),
//! the programmable-transaction commands, gas charging, and the resulting effects.
//!
//! It reads the ledger and returns a [`Commit`] without changing anything; the caller applies
//! it. `MoveCall`s into the contract package go to [`super::natives`]; anything else the devnet
//! does not run is rejected with a clear error before execution, never silently accepted.

use std::collections::{BTreeMap, BTreeSet};

use sui_crypto::SuiVerifier;
use sui_crypto::ed25519::Ed25519Verifier;
use sui_sdk_types::{
    Address, Argument, ChangedObject, Command, Digest, ExecutionError, ExecutionStatus, GasCostSummary, IdOperation,
    Input, MoveStruct, Object, ObjectData, ObjectIn, ObjectOut, Owner, SimpleSignature, Transaction,
    TransactionEffects, TransactionEffectsV2, TransactionEvents, TransactionKind, UnchangedConsensusKind,
    UnchangedConsensusObject, UserSignature, Version,
};

use super::natives;
pub use super::session::{ClockContents, CoinContents};
use super::session::{InputState, Session, Value};
use super::state::{Commit, Ledger, TransactionRecord};
use crate::contract::calls::{FUNCTIONS, MAX_PURE_ARGUMENT_SIZE};

/// Reference gas price (MIST per gas unit).
pub const REFERENCE_GAS_PRICE: u64 = 1_000;
/// Computation charged per transaction, in gas units (Sui's minimum charge).
pub const COMPUTATION_UNITS: u64 = 1_000;
/// Storage charge per byte of object data (sui-protocol-config: 76 MIST per unit, 100 units
/// per byte).
pub const STORAGE_PRICE_PER_BYTE: u64 = 7_600;
/// Share of a storage rebate kept when an object is rewritten or deleted (1%).
pub const NON_REFUNDABLE_PERCENT: u64 = 1;
/// Largest gas budget accepted.
pub const MAX_GAS_BUDGET: u64 = 50_000_000_000;
/// Largest transaction, in BCS bytes (sui-protocol-config `max_tx_size_bytes`).
pub const MAX_TRANSACTION_SIZE: usize = 128 * 1024;

/// Why a transaction is refused before execution; no gas is charged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// Malformed or over a limit.
    #[error("{0}")]
    InvalidArgument(String),
    /// Refers to an object version that is not the current one, or not the sender's.
    #[error("{0}")]
    FailedPrecondition(String),
    /// Refers to an object that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Uses something the devnet does not run.
    #[error("{0}")]
    Unimplemented(String),
    /// The devnet cannot take transactions right now.
    #[error("{0}")]
    Unavailable(String),
}

/// Executes `transaction`. With `signatures` `None` (simulation) no signature is checked.
pub fn execute(
    ledger: &Ledger,
    package: Address,
    transaction: Transaction,
    signatures: Option<Vec<UserSignature>>,
    now_ms: u64,
) -> Result<Commit, Rejection> {
    let size = bcs::to_bytes(&transaction).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_TRANSACTION_SIZE {
        return Err(Rejection::InvalidArgument(format!(
            "transaction is {size} bytes, over the {MAX_TRANSACTION_SIZE}-byte limit"
        )));
    }
    if let Some(signatures) = &signatures {
        verify_signatures(&transaction, signatures)?;
    }
    let TransactionKind::ProgrammableTransaction(ptb) = &transaction.kind else {
        return Err(Rejection::InvalidArgument("only programmable transactions are accepted".into()));
    };
    for command in &ptb.commands {
        check_supported(command, package)?;
    }
    let digest = transaction.digest();
    let sender = transaction.sender;
    let mut session = Session {
        package,
        sender,
        now_ms,
        digest,
        objects: BTreeMap::new(),
        inputs: BTreeMap::new(),
        created: BTreeSet::new(),
        deleted: BTreeSet::new(),
        events: Vec::new(),
        ids_created: 0,
    };

    let gas = &transaction.gas_payment;
    if gas.owner != sender {
        return Err(Rejection::InvalidArgument("sponsored transactions are not supported by the devnet".into()));
    }
    if gas.price < REFERENCE_GAS_PRICE {
        return Err(Rejection::InvalidArgument(format!(
            "gas price {} is below the reference gas price {REFERENCE_GAS_PRICE}",
            gas.price
        )));
    }
    let min_budget = COMPUTATION_UNITS * gas.price;
    if gas.budget < min_budget || gas.budget > MAX_GAS_BUDGET {
        return Err(Rejection::InvalidArgument(format!(
            "gas budget {} is outside [{min_budget}, {MAX_GAS_BUDGET}]",
            gas.budget
        )));
    }
    let Some(first_gas) = gas.objects.first() else {
        return Err(Rejection::InvalidArgument("no gas coin given".into()));
    };
    // As a Sui validator checks before signing: an object appears once among the gas coins
    // and the object inputs.
    let mut seen = BTreeSet::new();
    let input_ids = ptb.inputs.iter().filter_map(|i| match i {
        Input::ImmutableOrOwned(r) => Some(*r.object_id()),
        Input::Shared(s) => Some(s.object_id()),
        _ => None,
    });
    for id in gas.objects.iter().map(|r| *r.object_id()).chain(input_ids) {
        if !seen.insert(id) {
            return Err(Rejection::InvalidArgument(format!(
                "object {id} appears more than once in the transaction's gas coins and inputs"
            )));
        }
    }
    for r in &gas.objects {
        load_owned(ledger, &mut session, *r.object_id(), r.version(), *r.digest())?;
        if session.coin_balance(r.object_id()).is_none() {
            return Err(Rejection::InvalidArgument(format!("gas object {} is not a Coin<SUI>", r.object_id())));
        }
    }
    let gas_id = *first_gas.object_id();
    let gas_total: u64 = gas.objects.iter().filter_map(|r| session.coin_balance(r.object_id())).sum();
    if gas_total < gas.budget {
        return Err(Rejection::InvalidArgument(format!(
            "gas balance {gas_total} is lower than the budget {}",
            gas.budget
        )));
    }

    let mut read_only_shared = Vec::new();
    let mut inputs = Vec::with_capacity(ptb.inputs.len());
    for input in &ptb.inputs {
        inputs.push(match input {
            Input::Pure(bytes) => {
                // Sui refuses a pure argument as long as the limit, not only a longer one.
                if bytes.len() >= MAX_PURE_ARGUMENT_SIZE {
                    return Err(Rejection::InvalidArgument(format!(
                        "pure argument of {} bytes is not under the {MAX_PURE_ARGUMENT_SIZE}-byte limit",
                        bytes.len()
                    )));
                }
                Value::Pure(bytes.clone())
            }
            Input::ImmutableOrOwned(r) => {
                load_owned(ledger, &mut session, *r.object_id(), r.version(), *r.digest())?;
                Value::Object(*r.object_id())
            }
            Input::Shared(s) => {
                let id = s.object_id();
                let o = live(ledger, &id)?;
                match o.owner() {
                    Owner::Shared(v) if *v == s.version() => {}
                    Owner::Shared(v) => {
                        return Err(Rejection::FailedPrecondition(format!(
                            "shared object {id} has initial shared version {v}, not {}",
                            s.version()
                        )));
                    }
                    _ => return Err(Rejection::FailedPrecondition(format!("object {id} is not shared"))),
                }
                let mutable = s.mutability().is_mutable();
                if !mutable {
                    read_only_shared.push((id, o.version(), o.digest()));
                }
                session
                    .inputs
                    .insert(id, InputState { version: o.version(), digest: o.digest(), owner: *o.owner(), mutable });
                session.objects.insert(id, o.clone());
                Value::Object(id)
            }
            other => {
                return Err(Rejection::Unimplemented(format!("input kind {other:?} is not supported by the devnet")));
            }
        });
    }

    let lamport = session.inputs.values().map(|i| i.version).max().unwrap_or(0) + 1;

    // Gas smashing: every gas coin is merged into the first before execution, as on Sui.
    for r in &gas.objects[1..] {
        let total = session.coin_balance(&gas_id).unwrap_or(0) + session.coin_balance(r.object_id()).unwrap_or(0);
        session.set_coin_balance(gas_id, total);
        session.delete(*r.object_id());
    }
    let before = session.clone();
    let status = match run_commands(&mut session, &ptb.commands, &inputs, gas_id) {
        Ok(()) => ExecutionStatus::Success,
        Err((error, command)) => {
            // A failed transaction changes nothing but the gas charge.
            session = before.clone();
            ExecutionStatus::Failure { error, command: Some(command as u64) }
        }
    };
    let signatures = signatures.unwrap_or_default();
    Ok(finish(ledger, session, before, Effected { transaction, signatures, status, lamport, gas_id, read_only_shared }))
}

/// What [`finish`] needs besides the sessions.
struct Effected {
    transaction: Transaction,
    signatures: Vec<UserSignature>,
    status: ExecutionStatus,
    lamport: Version,
    gas_id: Address,
    read_only_shared: Vec<(Address, Version, Digest)>,
}

/// The gas a session costs.
struct Costs {
    summary: GasCostSummary,
}

impl Costs {
    fn of(ledger: &Ledger, session: &Session, price: u64) -> Costs {
        let rewritten = session.objects.keys().filter(|id| session.is_mutable(id));
        let storage_cost: u64 = rewritten.map(|id| storage_charge(&session.objects[id])).sum();
        let old_rebate: u64 = session
            .inputs
            .iter()
            .filter(|(id, i)| i.mutable && (session.objects.contains_key(*id) || session.deleted.contains(*id)))
            .filter_map(|(id, _)| ledger.object(id).map(Object::storage_rebate))
            .sum();
        let non_refundable_storage_fee = old_rebate * NON_REFUNDABLE_PERCENT / 100;
        Costs {
            summary: GasCostSummary {
                computation_cost: COMPUTATION_UNITS * price,
                storage_cost,
                storage_rebate: old_rebate - non_refundable_storage_fee,
                non_refundable_storage_fee,
            },
        }
    }

    fn net(&self) -> u64 {
        (self.summary.computation_cost + self.summary.storage_cost).saturating_sub(self.summary.storage_rebate)
    }
}

fn storage_charge(object: &Object) -> u64 {
    bcs::to_bytes(object).map(|b| b.len() as u64).unwrap_or(0) * STORAGE_PRICE_PER_BYTE
}

fn finish(ledger: &Ledger, mut session: Session, before: Session, e: Effected) -> Commit {
    let Effected { transaction, signatures, mut status, lamport, gas_id, read_only_shared } = e;
    let digest = session.digest;
    let price = transaction.gas_payment.price;
    let budget = transaction.gas_payment.budget;
    let balance = session.coin_balance(&gas_id).unwrap_or(0);
    let mut costs = Costs::of(ledger, &session, price);
    if status == ExecutionStatus::Success
        && (costs.summary.computation_cost + costs.summary.storage_cost > budget || costs.net() > balance)
    {
        session = before;
        status = ExecutionStatus::Failure { error: ExecutionError::InsufficientGas, command: None };
        costs = Costs::of(ledger, &session, price);
    }
    let balance = session.coin_balance(&gas_id).unwrap_or(0);
    session.set_coin_balance(gas_id, balance - costs.net().min(balance));

    let mut changed = Vec::new();
    let mut written_objects = Vec::new();
    for id in session.objects.keys().copied().collect::<Vec<_>>() {
        if !(session.created.contains(&id) || session.is_mutable(&id)) {
            continue;
        }
        let o = &session.objects[&id];
        let rebate = storage_charge(o);
        let s = o.as_struct().expect("struct");
        let data = MoveStruct::new(s.object_type().clone(), s.has_public_transfer(), lamport, s.contents().to_vec())
            .expect("id");
        // `Shared(0)` marks an object shared by this transaction: it is shared at this version.
        let owner = match o.owner() {
            Owner::Shared(0) => Owner::Shared(lamport),
            other => *other,
        };
        let new = Object::new(ObjectData::Struct(data), owner, digest, rebate);
        let input_state = match session.inputs.get(&id) {
            Some(i) => ObjectIn::Exist { version: i.version, digest: i.digest, owner: i.owner },
            None => ObjectIn::NotExist,
        };
        changed.push(ChangedObject {
            object_id: id,
            input_state,
            output_state: ObjectOut::ObjectWrite { digest: new.digest(), owner: *new.owner() },
            id_operation: if session.created.contains(&id) { IdOperation::Created } else { IdOperation::None },
        });
        written_objects.push(new);
    }
    for id in &session.deleted {
        let i = &session.inputs[id];
        changed.push(ChangedObject {
            object_id: *id,
            input_state: ObjectIn::Exist { version: i.version, digest: i.digest, owner: i.owner },
            output_state: ObjectOut::NotExist,
            id_operation: IdOperation::Deleted,
        });
    }
    changed.sort_by_key(|c| c.object_id);

    let events = (!session.events.is_empty()).then(|| TransactionEvents(std::mem::take(&mut session.events)));
    let mut dependencies: Vec<Digest> = session
        .inputs
        .keys()
        .filter_map(|id| ledger.object(id).map(Object::previous_transaction))
        .filter(|d| *d != Digest::ZERO)
        .collect();
    dependencies.sort();
    dependencies.dedup();
    let gas_object_index = changed.iter().position(|c| c.object_id == gas_id).map(|i| i as u32);
    let effects = TransactionEffects::V2(Box::new(TransactionEffectsV2 {
        status: status.clone(),
        epoch: 0,
        gas_used: costs.summary,
        transaction_digest: digest,
        gas_object_index,
        events_digest: events.as_ref().map(TransactionEvents::digest),
        dependencies,
        lamport_version: lamport,
        changed_objects: changed,
        unchanged_consensus_objects: read_only_shared
            .into_iter()
            .map(|(object_id, version, digest)| UnchangedConsensusObject {
                object_id,
                kind: UnchangedConsensusKind::ReadOnlyRoot { version, digest },
            })
            .collect(),
        auxiliary_data_digest: None,
    }));
    let deleted = session.deleted.iter().copied().collect();
    Commit {
        record: TransactionRecord {
            transaction,
            signatures,
            effects,
            events,
            timestamp_ms: session.now_ms,
            checkpoint: None,
        },
        written: written_objects,
        deleted,
    }
}

fn verify_signatures(transaction: &Transaction, signatures: &[UserSignature]) -> Result<(), Rejection> {
    let [signature] = signatures else {
        return Err(Rejection::InvalidArgument(format!(
            "expected exactly one signature (the sender's), got {}",
            signatures.len()
        )));
    };
    let UserSignature::Simple(SimpleSignature::Ed25519 { public_key, .. }) = signature else {
        return Err(Rejection::InvalidArgument("the devnet accepts Ed25519 signatures only".into()));
    };
    if public_key.derive_address() != transaction.sender {
        return Err(Rejection::InvalidArgument(format!(
            "signature is by {}, not by the sender {}",
            public_key.derive_address(),
            transaction.sender
        )));
    }
    Ed25519Verifier::new()
        .verify_transaction(transaction, signature)
        .map_err(|e| Rejection::InvalidArgument(format!("invalid signature: {e}")))
}

fn check_supported(command: &Command, package: Address) -> Result<(), Rejection> {
    match command {
        Command::MoveCall(call) => {
            let known = (call.package == package
                && FUNCTIONS.iter().any(|f| f.module == call.module.as_str() && f.name == call.function.as_str()))
                || (call.package == Address::TWO
                    && call.module.as_str() == natives::nitro::MODULE
                    && call.function.as_str() == crate::contract::calls::LOAD_NITRO_ATTESTATION);
            if known && call.type_arguments.is_empty() {
                Ok(())
            } else {
                Err(Rejection::Unimplemented(format!(
                    "{}::{}::{} is not available on the devnet: it runs the kubectl_sui contract at {package} natively, nothing else",
                    call.package, call.module, call.function
                )))
            }
        }
        Command::SplitCoins(_) | Command::MergeCoins(_) | Command::TransferObjects(_) | Command::MakeMoveVector(_) => {
            Ok(())
        }
        other => Err(Rejection::Unimplemented(format!(
            "command {} is not supported by the devnet",
            format!("{other:?}").split(['(', ' ']).next().unwrap_or("?")
        ))),
    }
}

fn live<'l>(ledger: &'l Ledger, id: &Address) -> Result<&'l Object, Rejection> {
    ledger.object(id).ok_or_else(|| match ledger.deleted_by(id) {
        Some(tx) => Rejection::FailedPrecondition(format!("object {id} was deleted by transaction {tx}")),
        None => Rejection::NotFound(format!("object {id} does not exist")),
    })
}

fn load_owned(
    ledger: &Ledger,
    session: &mut Session,
    id: Address,
    version: Version,
    digest: Digest,
) -> Result<(), Rejection> {
    let o = live(ledger, &id)?;
    if o.version() != version || o.digest() != digest {
        return Err(Rejection::FailedPrecondition(format!(
            "object {id} version {version} is not available for consumption; its current version is {}",
            o.version()
        )));
    }
    match o.owner() {
        Owner::Address(owner) if *owner == session.sender => {}
        Owner::Immutable => {}
        Owner::Address(owner) => {
            return Err(Rejection::FailedPrecondition(format!(
                "object {id} is owned by {owner}, not by the sender {}",
                session.sender
            )));
        }
        other => return Err(Rejection::FailedPrecondition(format!("object {id} is {other:?}, not address-owned"))),
    }
    let mutable = !matches!(o.owner(), Owner::Immutable);
    session.inputs.insert(id, InputState { version, digest, owner: *o.owner(), mutable });
    session.objects.insert(id, o.clone());
    Ok(())
}

type CommandFailure = (ExecutionError, usize);

fn run_commands(
    session: &mut Session,
    commands: &[Command],
    inputs: &[Value],
    gas: Address,
) -> Result<(), CommandFailure> {
    let mut results: Vec<Vec<Value>> = Vec::with_capacity(commands.len());
    for (index, command) in commands.iter().enumerate() {
        let fail = |error| (error, index);
        let arg = |a: &Argument| -> Result<Value, CommandFailure> {
            let bad = || fail(ExecutionError::InvariantViolation);
            match a {
                Argument::Gas => Ok(Value::Object(gas)),
                Argument::Input(i) => inputs.get(usize::from(*i)).cloned().ok_or_else(bad),
                Argument::Result(i) => results.get(usize::from(*i)).and_then(|r| r.first()).cloned().ok_or_else(bad),
                Argument::NestedResult(i, j) => {
                    results.get(usize::from(*i)).and_then(|r| r.get(usize::from(*j))).cloned().ok_or_else(bad)
                }
            }
        };
        let out = match command {
            Command::SplitCoins(split) => {
                let Value::Object(coin) = arg(&split.coin)? else {
                    return Err(fail(ExecutionError::InvariantViolation));
                };
                let mut balance = session.coin_balance(&coin).ok_or_else(|| fail(ExecutionError::InvalidGasObject))?;
                let mut coins = Vec::new();
                for a in &split.amounts {
                    let amount: u64 = arg(a)?
                        .to_bcs()
                        .and_then(|b| bcs::from_bytes(&b).ok())
                        .ok_or_else(|| fail(ExecutionError::InvariantViolation))?;
                    balance =
                        balance.checked_sub(amount).ok_or_else(|| fail(ExecutionError::InsufficientCoinBalance))?;
                    coins.push(Value::Object(session.create_coin(amount, Owner::Address(session.sender))));
                }
                session.set_coin_balance(coin, balance);
                coins
            }
            Command::MergeCoins(merge) => {
                let Value::Object(target) = arg(&merge.coin)? else {
                    return Err(fail(ExecutionError::InvariantViolation));
                };
                let mut total = session.coin_balance(&target).ok_or_else(|| fail(ExecutionError::InvalidGasObject))?;
                for a in &merge.coins_to_merge {
                    let Value::Object(source) = arg(a)? else { return Err(fail(ExecutionError::InvariantViolation)) };
                    if source == gas || source == target {
                        return Err(fail(ExecutionError::InvariantViolation));
                    }
                    let b = session.coin_balance(&source).ok_or_else(|| fail(ExecutionError::InvalidGasObject))?;
                    total = total.checked_add(b).ok_or_else(|| fail(ExecutionError::CoinBalanceOverflow))?;
                    session.delete(source);
                }
                session.set_coin_balance(target, total);
                vec![]
            }
            Command::TransferObjects(transfer) => {
                let recipient: Address = arg(&transfer.address)?
                    .to_bcs()
                    .and_then(|b| bcs::from_bytes(&b).ok())
                    .ok_or_else(|| fail(ExecutionError::InvariantViolation))?;
                for a in &transfer.objects {
                    let Value::Object(id) = arg(a)? else { return Err(fail(ExecutionError::InvariantViolation)) };
                    // Merged or deleted earlier in this transaction: Sui's "value already moved".
                    if session.object(&id).is_none() {
                        return Err(fail(ExecutionError::CommandArgumentError {
                            argument: 0,
                            kind: sui_sdk_types::CommandArgumentError::InvalidValueUsage,
                        }));
                    }
                    let owned_or_new = session.created.contains(&id)
                        || session.inputs.get(&id).is_some_and(|i| matches!(i.owner, Owner::Address(_)));
                    if !owned_or_new {
                        return Err(fail(ExecutionError::InvalidTransferObject));
                    }
                    session.set_owner(id, Owner::Address(recipient));
                }
                vec![]
            }
            Command::MakeMoveVector(make) => {
                let items = make.elements.iter().map(&arg).collect::<Result<Vec<_>, _>>()?;
                vec![Value::Vector(items)]
            }
            Command::MoveCall(call) if call.package == Address::TWO => {
                let args = call.arguments.iter().map(&arg).collect::<Result<Vec<_>, _>>()?;
                natives::nitro::load_nitro_attestation(session, args).map_err(fail)?
            }
            Command::MoveCall(call) => {
                let args = call.arguments.iter().map(&arg).collect::<Result<Vec<_>, _>>()?;
                natives::call(session, call.module.as_str(), call.function.as_str(), args).map_err(fail)?
            }
            _ => return Err(fail(ExecutionError::FeatureNotYetSupported)),
        };
        results.push(out);
    }
    Ok(())
}
