//! The `sui.rpc.v2` services over the chain, with the server traits of the `sui-rpc` crate.
//! Domain types stay inside; messages are built with `sui-rpc`'s conversions and the
//! request's read mask (or the same defaults a Sui full node uses).

use std::str::FromStr;
use std::sync::Arc;

use futures::StreamExt;
use prost_types::FieldMask;
use sui_rpc::field::{FieldMaskTree, FieldMaskUtil};
use sui_rpc::merge::Merge;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest, Object, StructTag};
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::execute::{CoinContents, MAX_TRANSACTION_SIZE, REFERENCE_GAS_PRICE, Rejection};
use super::local_chain::Chain;
use super::state::{FullCheckpoint, TransactionRecord, changed_objects};
use crate::contract::calls::MAX_PURE_ARGUMENT_SIZE;

/// The gRPC services of the devnet, sharing one chain.
#[derive(Debug, Clone)]
pub struct Services {
    chain: Arc<Chain>,
    stop: tokio::sync::watch::Receiver<bool>,
}

impl Services {
    /// Services over `chain`; streams end when `stop` turns true.
    pub fn new(chain: Arc<Chain>, stop: tokio::sync::watch::Receiver<bool>) -> Self {
        Services { chain, stop }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn mask(requested: Option<FieldMask>, default: &str) -> FieldMaskTree {
    FieldMaskTree::from_field_mask(&requested.unwrap_or_else(|| FieldMask::from_str(default)))
}

fn timestamp(ms: u64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: (ms / 1000) as i64, nanos: ((ms % 1000) * 1_000_000) as i32 }
}

fn parse_address(field: &str, value: Option<&str>) -> Result<Address, Status> {
    let value = value.ok_or_else(|| Status::invalid_argument(format!("missing {field}")))?;
    Address::from_str(value).map_err(|e| Status::invalid_argument(format!("invalid {field} {value:?}: {e}")))
}

fn parse_digest(value: Option<&str>) -> Result<Digest, Status> {
    let value = value.ok_or_else(|| Status::invalid_argument("missing digest"))?;
    Digest::from_str(value).map_err(|e| Status::invalid_argument(format!("invalid digest {value:?}: {e}")))
}

impl From<Rejection> for Status {
    fn from(r: Rejection) -> Status {
        match r {
            Rejection::InvalidArgument(m) => Status::invalid_argument(m),
            Rejection::FailedPrecondition(m) => Status::failed_precondition(m),
            Rejection::NotFound(m) => Status::not_found(m),
            Rejection::Unimplemented(m) => Status::unimplemented(m),
            Rejection::Unavailable(m) => Status::unavailable(m),
        }
    }
}

/// An executed transaction as a message, with only the fields `mask` asks for. The proxy
/// and the node ask for a transaction's events or effects as BCS; building the rest (every
/// digest in base58, the transaction, the objects) for each call and each subscriber was a
/// sixth of the devnet's CPU per transaction.
fn executed(record: &TransactionRecord, objects: &[Object], mask: &FieldMaskTree) -> proto::ExecutedTransaction {
    let mut t = proto::ExecutedTransaction::default();
    if mask.contains("digest") {
        t.digest = Some(record.transaction.digest().to_string());
    }
    if let Some(m) = mask.subtree("transaction") {
        t.transaction = Some(proto::Transaction::merge_from(record.transaction.clone(), &m));
    }
    if let Some(m) = mask.subtree("signatures") {
        t.signatures = record.signatures.iter().map(|s| proto::UserSignature::merge_from(s.clone(), &m)).collect();
    }
    if let Some(m) = mask.subtree("effects") {
        t.effects = Some(proto::TransactionEffects::merge_from(&record.effects, &m));
    }
    if let Some(m) = mask.subtree("events") {
        t.events = record.events.clone().map(|e| proto::TransactionEvents::merge_from(e, &m));
    }
    if mask.contains("checkpoint") {
        t.checkpoint = record.checkpoint;
    }
    if mask.contains("timestamp") {
        t.timestamp = Some(timestamp(record.timestamp_ms));
    }
    if !objects.is_empty()
        && let Some(set_mask) = mask.subtree("objects")
    {
        let mut set = proto::ObjectSet::default();
        if let Some(m) = set_mask.subtree("objects") {
            set.objects = objects.iter().cloned().map(|o| proto::Object::merge_from(o, &m)).collect();
        }
        t.objects = Some(set);
    }
    t
}

/// An object as a message: `sui-rpc`'s conversion, plus the coin balance a full node adds.
fn object_message(object: &Object, mask: &FieldMaskTree) -> proto::Object {
    let mut message = proto::Object::merge_from(object.clone(), mask);
    if mask.contains("balance") {
        message.balance = coin_type_of(object).map(|(_, b)| b);
    }
    message
}

/// A checkpoint as a message, with only the fields `mask` asks for (see [`executed`]).
fn checkpoint_message(full: &FullCheckpoint, mask: &FieldMaskTree) -> proto::Checkpoint {
    let mut c = proto::Checkpoint::default();
    c.merge(&full.checkpoint.summary, mask);
    if mask.contains("contents") {
        c.merge(full.checkpoint.contents.clone(), mask);
    }
    if let Some(m) = mask.subtree("transactions") {
        c.transactions = full.transactions.iter().map(|t| executed(t, &[], &m)).collect();
    }
    c
}

impl Services {
    fn full_checkpoint(&self, sequence: u64) -> Option<FullCheckpoint> {
        self.chain.ledger().full_checkpoint(sequence)
    }

    /// Objects a transaction wrote, at their versions after it, when still current.
    fn written_objects(&self, record: &TransactionRecord) -> Vec<Object> {
        let ledger = self.chain.ledger();
        let digest = record.transaction.digest();
        changed_objects(&record.effects)
            .iter()
            .filter_map(|c| ledger.object(&c.object_id))
            .filter(|o| o.previous_transaction() == digest)
            .cloned()
            .collect()
    }
}

fn decode_transaction(t: Option<&proto::Transaction>) -> Result<sui_sdk_types::Transaction, Status> {
    let t = t.ok_or_else(|| Status::invalid_argument("missing transaction"))?;
    if let Some(bcs) = &t.bcs
        && bcs.value.as_ref().is_some_and(|v| v.len() > MAX_TRANSACTION_SIZE)
    {
        return Err(Status::invalid_argument(format!("transaction is over the {MAX_TRANSACTION_SIZE}-byte limit")));
    }
    sui_sdk_types::Transaction::try_from(t).map_err(|e| Status::invalid_argument(format!("malformed transaction: {e}")))
}

#[tonic::async_trait]
impl proto::ledger_service_server::LedgerService for Services {
    async fn get_service_info(&self, _: Request<proto::GetServiceInfoRequest>) -> Reply<proto::GetServiceInfoResponse> {
        let ledger = self.chain.ledger();
        let latest = &ledger.latest_checkpoint().summary;
        let mut r = proto::GetServiceInfoResponse::default();
        r.chain_id = Some(ledger.chain_id().to_string());
        r.chain = Some("kubectl-sui-devnet".into());
        r.epoch = Some(0);
        r.checkpoint_height = Some(latest.sequence_number);
        r.timestamp = Some(timestamp(latest.timestamp_ms));
        r.lowest_available_checkpoint = Some(0);
        r.lowest_available_checkpoint_objects = Some(0);
        r.server = Some(format!("kubectl-sui-devnet/{}", env!("CARGO_PKG_VERSION")));
        Ok(Response::new(r))
    }

    async fn get_object(&self, request: Request<proto::GetObjectRequest>) -> Reply<proto::GetObjectResponse> {
        let r = request.into_inner();
        let id = parse_address("object_id", r.object_id.as_deref())?;
        let mask = mask(r.read_mask, "object_id,version,digest");
        let ledger = self.chain.ledger();
        let o = ledger.object(&id).ok_or_else(|| Status::not_found(format!("object {id} not found")))?;
        if let Some(v) = r.version
            && v != o.version()
        {
            return Err(Status::not_found(format!(
                "object {id} version {v} is not available (current: {})",
                o.version()
            )));
        }
        let mut response = proto::GetObjectResponse::default();
        response.object = Some(object_message(o, &mask));
        Ok(Response::new(response))
    }

    async fn batch_get_objects(
        &self,
        request: Request<proto::BatchGetObjectsRequest>,
    ) -> Reply<proto::BatchGetObjectsResponse> {
        let r = request.into_inner();
        let mask = mask(r.read_mask, "object_id,version,digest");
        let ledger = self.chain.ledger();
        let mut response = proto::BatchGetObjectsResponse::default();
        response.objects = r
            .requests
            .iter()
            .map(|q| {
                let mut result = proto::GetObjectResult::default();
                result.result = Some(match parse_address("object_id", q.object_id.as_deref()) {
                    Ok(id) => match ledger.object(&id) {
                        Some(o) if q.version.is_none_or(|v| v == o.version()) => {
                            proto::get_object_result::Result::Object(object_message(o, &mask))
                        }
                        _ => proto::get_object_result::Result::Error(error_status(
                            tonic::Code::NotFound,
                            format!("object {id} not found"),
                        )),
                    },
                    Err(s) => proto::get_object_result::Result::Error(error_status(s.code(), s.message().to_string())),
                });
                result
            })
            .collect();
        Ok(Response::new(response))
    }

    async fn get_transaction(
        &self,
        request: Request<proto::GetTransactionRequest>,
    ) -> Reply<proto::GetTransactionResponse> {
        let r = request.into_inner();
        let digest = parse_digest(r.digest.as_deref())?;
        let mask = mask(r.read_mask, "digest");
        let record = self.chain.ledger().transaction(&digest).cloned();
        let record = record.ok_or_else(|| Status::not_found(format!("transaction {digest} not found")))?;
        let objects = if mask.contains("objects") { self.written_objects(&record) } else { vec![] };
        let mut response = proto::GetTransactionResponse::default();
        response.transaction = Some(executed(&record, &objects, &mask));
        Ok(Response::new(response))
    }

    async fn batch_get_transactions(
        &self,
        request: Request<proto::BatchGetTransactionsRequest>,
    ) -> Reply<proto::BatchGetTransactionsResponse> {
        let r = request.into_inner();
        let mask = mask(r.read_mask, "digest");
        let mut response = proto::BatchGetTransactionsResponse::default();
        response.transactions = r
            .digests
            .iter()
            .map(|d| {
                let mut result = proto::GetTransactionResult::default();
                let found = parse_digest(Some(d)).ok().and_then(|d| self.chain.ledger().transaction(&d).cloned());
                result.result = Some(match found {
                    Some(record) => proto::get_transaction_result::Result::Transaction(executed(&record, &[], &mask)),
                    None => proto::get_transaction_result::Result::Error(error_status(
                        tonic::Code::NotFound,
                        format!("transaction {d} not found"),
                    )),
                });
                result
            })
            .collect();
        Ok(Response::new(response))
    }

    async fn get_checkpoint(
        &self,
        request: Request<proto::GetCheckpointRequest>,
    ) -> Reply<proto::GetCheckpointResponse> {
        let r = request.into_inner();
        let mask = mask(r.read_mask, "sequence_number,digest");
        let sequence = match r.checkpoint_id {
            Some(proto::get_checkpoint_request::CheckpointId::SequenceNumber(s)) => s,
            Some(proto::get_checkpoint_request::CheckpointId::Digest(d)) => {
                let digest = parse_digest(Some(&d))?;
                let ledger = self.chain.ledger();
                (0..=ledger.latest_checkpoint().summary.sequence_number)
                    .find(|s| ledger.checkpoint(*s).is_some_and(|c| c.summary.digest() == digest))
                    .ok_or_else(|| Status::not_found(format!("checkpoint {digest} not found")))?
            }
            _ => self.chain.ledger().latest_checkpoint().summary.sequence_number,
        };
        let full = self
            .full_checkpoint(sequence)
            .ok_or_else(|| Status::not_found(format!("checkpoint {sequence} not found")))?;
        let mut response = proto::GetCheckpointResponse::default();
        response.checkpoint = Some(checkpoint_message(&full, &mask));
        Ok(Response::new(response))
    }

    async fn get_epoch(&self, request: Request<proto::GetEpochRequest>) -> Reply<proto::GetEpochResponse> {
        let r = request.into_inner();
        if r.epoch.is_some_and(|e| e != 0) {
            return Err(Status::not_found("the devnet has only epoch 0"));
        }
        let ledger = self.chain.ledger();
        let mut epoch = proto::Epoch::default();
        epoch.epoch = Some(0);
        epoch.first_checkpoint = Some(0);
        epoch.start = ledger.checkpoint(0).map(|c| timestamp(c.summary.timestamp_ms));
        epoch.reference_gas_price = Some(REFERENCE_GAS_PRICE);
        let mut config = proto::ProtocolConfig::default();
        config.protocol_version = Some(1);
        for (k, v) in [
            ("max_tx_size_bytes", MAX_TRANSACTION_SIZE as u64),
            ("max_pure_argument_size", MAX_PURE_ARGUMENT_SIZE as u64),
            ("max_event_emit_size", 250 * 1024),
            ("max_num_event_emit", 1024),
            ("max_move_object_size", 250 * 1024),
        ] {
            config.attributes.insert(k.into(), v.to_string());
        }
        epoch.protocol_config = Some(config);
        let mask = mask(r.read_mask, "epoch,first_checkpoint,start,reference_gas_price,protocol_config");
        let mut response = proto::GetEpochResponse::default();
        response.epoch = Some(proto::Epoch::merge_from(&epoch, &mask));
        Ok(Response::new(response))
    }

    async fn list_checkpoints(
        &self,
        request: Request<proto::ListCheckpointsRequest>,
    ) -> Reply<BoxStream<proto::ListCheckpointsResponse>> {
        let r = request.into_inner();
        let mask = mask(r.read_mask, "sequence_number,digest");
        let latest = self.chain.ledger().latest_checkpoint().summary.sequence_number;
        let start = r.start_checkpoint.unwrap_or(0);
        let end = r.end_checkpoint.unwrap_or(latest).min(latest);
        let services = self.clone();
        let stream = futures::stream::iter(start..=end).filter_map(move |s| {
            let full = services.full_checkpoint(s);
            let mask = mask.clone();
            async move {
                full.map(|f| {
                    let mut item = proto::ListCheckpointsResponse::default();
                    item.checkpoint = Some(checkpoint_message(&f, &mask));
                    Ok(item)
                })
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

fn error_status(code: tonic::Code, message: String) -> sui_rpc::proto::google::rpc::Status {
    sui_rpc::proto::google::rpc::Status { code: code as i32, message, ..Default::default() }
}

fn matches_type(object: &Object, filter: Option<&StructTag>) -> bool {
    let Some(filter) = filter else { return true };
    object.as_struct().is_some_and(|s| {
        let t = s.object_type();
        t == filter
            || (filter.type_params().is_empty()
                && t.address() == filter.address()
                && t.module() == filter.module()
                && t.name() == filter.name())
    })
}

fn coin_type_of(object: &Object) -> Option<(String, u64)> {
    let s = object.as_struct()?;
    let inner = s.object_type().is_coin()?;
    let coin: CoinContents = bcs::from_bytes(s.contents()).ok()?;
    Some((inner.to_string(), coin.balance))
}

#[tonic::async_trait]
impl proto::state_service_server::StateService for Services {
    async fn list_owned_objects(
        &self,
        request: Request<proto::ListOwnedObjectsRequest>,
    ) -> Reply<proto::ListOwnedObjectsResponse> {
        let r = request.into_inner();
        let owner = parse_address("owner", r.owner.as_deref())?;
        let filter = r
            .object_type
            .as_deref()
            .map(|t| {
                StructTag::from_str(t).map_err(|e| Status::invalid_argument(format!("invalid object_type {t:?}: {e}")))
            })
            .transpose()?;
        let mask = mask(r.read_mask, "object_id,version,object_type");
        let page_size = r.page_size.unwrap_or(50).clamp(1, 1000) as usize;
        let after = r.page_token.as_deref().and_then(|t| <[u8; 32]>::try_from(t).ok()).map(Address::new);
        let ledger = self.chain.ledger();
        let owned: Vec<&Object> = ledger
            .owned_by(&owner)
            .into_iter()
            .filter(|(id, _)| after.is_none_or(|a| *id > a))
            .map(|(_, o)| o)
            .filter(|o| matches_type(o, filter.as_ref()))
            .take(page_size + 1)
            .collect();
        let mut response = proto::ListOwnedObjectsResponse::default();
        if owned.len() > page_size {
            response.next_page_token = Some(owned[page_size - 1].object_id().into_inner().to_vec().into());
        }
        response.objects = owned.into_iter().take(page_size).map(|o| object_message(o, &mask)).collect();
        Ok(Response::new(response))
    }

    async fn get_balance(&self, request: Request<proto::GetBalanceRequest>) -> Reply<proto::GetBalanceResponse> {
        let r = request.into_inner();
        let owner = parse_address("owner", r.owner.as_deref())?;
        let coin_type = r.coin_type.unwrap_or_else(|| "0x2::sui::SUI".into());
        let wanted = sui_sdk_types::TypeTag::from_str(&coin_type)
            .map_err(|e| Status::invalid_argument(format!("invalid coin_type {coin_type:?}: {e}")))?
            .to_string();
        let ledger = self.chain.ledger();
        let total: u64 = ledger
            .owned_by(&owner)
            .values()
            .filter_map(|o| coin_type_of(o))
            .filter(|(t, _)| *t == wanted)
            .map(|(_, b)| b)
            .sum();
        let mut balance = proto::Balance::default();
        balance.coin_type = Some(wanted);
        balance.balance = Some(total);
        balance.coin_balance = Some(total);
        balance.address_balance = Some(0);
        let mut response = proto::GetBalanceResponse::default();
        response.balance = Some(balance);
        Ok(Response::new(response))
    }

    async fn list_balances(&self, request: Request<proto::ListBalancesRequest>) -> Reply<proto::ListBalancesResponse> {
        let r = request.into_inner();
        let owner = parse_address("owner", r.owner.as_deref())?;
        let ledger = self.chain.ledger();
        let mut totals = std::collections::BTreeMap::<String, u64>::new();
        for (t, b) in ledger.owned_by(&owner).values().filter_map(|o| coin_type_of(o)) {
            *totals.entry(t).or_default() += b;
        }
        let mut response = proto::ListBalancesResponse::default();
        response.balances = totals
            .into_iter()
            .map(|(t, b)| {
                let mut balance = proto::Balance::default();
                balance.coin_type = Some(t);
                balance.balance = Some(b);
                balance.coin_balance = Some(b);
                balance.address_balance = Some(0);
                balance
            })
            .collect();
        Ok(Response::new(response))
    }
}

#[tonic::async_trait]
impl proto::transaction_execution_service_server::TransactionExecutionService for Services {
    async fn execute_transaction(
        &self,
        request: Request<proto::ExecuteTransactionRequest>,
    ) -> Reply<proto::ExecuteTransactionResponse> {
        let r = request.into_inner();
        let transaction = decode_transaction(r.transaction.as_ref())?;
        let signatures = r
            .signatures
            .iter()
            .map(|s| {
                sui_sdk_types::UserSignature::try_from(s)
                    .map_err(|e| Status::invalid_argument(format!("malformed signature: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mask = mask(r.read_mask, "effects.status,checkpoint");
        let record = self.chain.execute(transaction, signatures).await?;
        let objects = if mask.contains("objects") { self.written_objects(&record) } else { vec![] };
        let mut response = proto::ExecuteTransactionResponse::default();
        response.transaction = Some(executed(&record, &objects, &mask));
        Ok(Response::new(response))
    }

    async fn simulate_transaction(
        &self,
        request: Request<proto::SimulateTransactionRequest>,
    ) -> Reply<proto::SimulateTransactionResponse> {
        let r = request.into_inner();
        let mut unresolved = r.transaction.ok_or_else(|| Status::invalid_argument("missing transaction"))?;
        let needs_budget =
            unresolved.bcs.is_none() && unresolved.gas_payment.as_ref().is_none_or(|g| g.budget.is_none());
        if unresolved.bcs.is_none() {
            self.resolve(&mut unresolved)?;
        }
        let mut transaction = decode_transaction(Some(&unresolved))?;
        let mut outcome = self.chain.simulate(transaction.clone())?;
        if needs_budget {
            // The budget a client leaves open is what the simulation cost, with a margin,
            // within what the gas coins hold.
            let used = outcome.record.effects.gas_summary();
            let cost = used.computation_cost + used.storage_cost;
            transaction.gas_payment.budget = (cost + cost / 5).max(COMPUTATION_FLOOR * transaction.gas_payment.price);
            outcome = self.chain.simulate(transaction.clone())?;
        }
        let mask = mask(r.read_mask, "transaction.effects.status");
        let mut executed = executed(&outcome.record, &outcome.written, &FieldMaskTree::new_wildcard());
        executed.transaction = Some(proto::Transaction::merge_from(transaction, &FieldMaskTree::new_wildcard()));
        let mut response = proto::SimulateTransactionResponse::default();
        response.merge_transaction(executed, &mask);
        response.suggested_gas_price = Some(REFERENCE_GAS_PRICE);
        Ok(Response::new(response))
    }
}

/// Gas units charged at least, so a suggested budget is never below the minimum.
const COMPUTATION_FLOOR: u64 = super::execute::COMPUTATION_UNITS;

impl Services {
    /// Completes a transaction a client sent for resolution, as a full node's simulation
    /// does: the kind tag, object inputs given by id only, gas price, owner and coins, and a
    /// provisional budget (the caller replaces it with the simulated cost).
    fn resolve(&self, t: &mut proto::Transaction) -> Result<(), Status> {
        use proto::input::InputKind;
        use proto::transaction_kind::{Data, Kind};
        let ledger = self.chain.ledger();
        let sender = parse_address("sender", t.sender.as_deref())?;
        let kind = t.kind.get_or_insert_with(Default::default);
        if kind.kind.is_none() && matches!(kind.data, Some(Data::ProgrammableTransaction(_))) {
            kind.kind = Some(Kind::ProgrammableTransaction as i32);
        }
        let mut used_objects = std::collections::BTreeSet::new();
        if let Some(Data::ProgrammableTransaction(ptb)) = kind.data.as_mut() {
            for input in &mut ptb.inputs {
                if input.kind.is_some() || input.object_id.is_none() {
                    if let Some(id) = input.object_id.as_deref().and_then(|s| Address::from_str(s).ok()) {
                        used_objects.insert(id);
                    }
                    continue;
                }
                let id = parse_address("input object_id", input.object_id.as_deref())?;
                used_objects.insert(id);
                let o = ledger.object(&id).ok_or_else(|| Status::not_found(format!("input object {id} not found")))?;
                match o.owner() {
                    sui_sdk_types::Owner::Shared(initial) => {
                        input.kind = Some(InputKind::Shared as i32);
                        input.version = Some(*initial);
                        input.mutable = Some(input.mutable.unwrap_or(true));
                    }
                    _ => {
                        input.kind = Some(InputKind::ImmutableOrOwned as i32);
                        input.version = Some(o.version());
                        input.digest = Some(o.digest().to_string());
                    }
                }
            }
        }
        let gas = t.gas_payment.get_or_insert_with(Default::default);
        gas.owner.get_or_insert_with(|| sender.to_string());
        gas.price.get_or_insert(REFERENCE_GAS_PRICE);
        if gas.objects.is_empty() {
            let owner = parse_address("gas owner", gas.owner.as_deref())?;
            gas.objects = ledger
                .owned_by(&owner)
                .into_values()
                .filter(|o| {
                    !used_objects.contains(&o.object_id())
                        && o.as_struct().is_some_and(|s| s.object_type() == &StructTag::gas_coin())
                })
                .take(MAX_GAS_COINS)
                .map(|o| {
                    proto::ObjectReference::from(sui_sdk_types::ObjectReference::new(
                        o.object_id(),
                        o.version(),
                        o.digest(),
                    ))
                })
                .collect();
            if gas.objects.is_empty() {
                return Err(Status::failed_precondition(format!(
                    "{owner} owns no SUI coins to pay gas; ask the faucet"
                )));
            }
        }
        if gas.budget.is_none() {
            let owner = parse_address("gas owner", gas.owner.as_deref())?;
            let balance: u64 = ledger.owned_by(&owner).values().filter_map(|o| coin_type_of(o)).map(|(_, b)| b).sum();
            gas.budget = Some(balance.min(super::execute::MAX_GAS_BUDGET));
        }
        if t.expiration.is_none() {
            let mut expiration = proto::TransactionExpiration::default();
            expiration.kind = Some(proto::transaction_expiration::TransactionExpirationKind::None as i32);
            t.expiration = Some(expiration);
        }
        t.version.get_or_insert(1);
        Ok(())
    }
}

/// Most gas coins a resolved transaction pays with.
const MAX_GAS_COINS: usize = 255;

trait MergeTransaction {
    fn merge_transaction(&mut self, executed: proto::ExecutedTransaction, mask: &FieldMaskTree);
}

impl MergeTransaction for proto::SimulateTransactionResponse {
    fn merge_transaction(&mut self, executed: proto::ExecutedTransaction, mask: &FieldMaskTree) {
        if let Some(sub) = mask.subtree("transaction") {
            self.transaction = Some(proto::ExecutedTransaction::merge_from(&executed, &sub));
        }
    }
}

#[tonic::async_trait]
impl proto::subscription_service_server::SubscriptionService for Services {
    async fn subscribe_checkpoints(
        &self,
        request: Request<proto::SubscribeCheckpointsRequest>,
    ) -> Reply<BoxStream<proto::SubscribeCheckpointsResponse>> {
        let r = request.into_inner();
        let mask = mask(r.read_mask, "sequence_number,digest");
        let feed = tokio_stream::wrappers::BroadcastStream::new(self.chain.subscribe());
        // On shutdown the stream ends, so subscribers notice at once and reconnect.
        let mut stop = self.stop.clone();
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let stream = feed.take_until(stopped).map(move |item| match item {
            Ok(full) => {
                let mut response = proto::SubscribeCheckpointsResponse::default();
                response.cursor = Some(full.checkpoint.summary.sequence_number);
                response.checkpoint = Some(checkpoint_message(&full, &mask));
                Ok(response)
            }
            // A subscriber that fell behind is told so and reconnects with a backfill, as
            // with a real full node.
            Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                Err(Status::data_loss(format!("subscriber lagged by {n} checkpoints; resubscribe and backfill")))
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use sui_sdk_types::{Event, Identifier, TransactionEvents};

    use super::*;
    use crate::devnet::package_id;

    /// Building only the masked fields answers exactly what building everything and then
    /// masking did, for the masks the proxy, the node and the audit ask for and some others.
    #[tokio::test]
    async fn a_masked_message_is_the_full_one_masked() {
        let dir = tempfile::tempdir().unwrap();
        let chain = Chain::open(dir.path()).await.unwrap();
        let recipient = Address::from([7u8; 32]);
        let (coin, digest) = chain.faucet(recipient, 1_000).await.unwrap();
        chain.checkpoint().await.unwrap();
        let (mut record, coin, sequence) = {
            let ledger = chain.ledger();
            let record = ledger.transaction(&digest).unwrap().clone();
            (record.clone(), ledger.object(&coin).unwrap().clone(), record.checkpoint.unwrap())
        };
        // The faucet's transfer emits no event; give it two so events masks have something.
        let event = |n: u8| Event {
            package_id: package_id(),
            module: Identifier::new("request").unwrap(),
            sender: recipient,
            type_: StructTag::new(
                package_id(),
                Identifier::new("request").unwrap(),
                Identifier::new("E").unwrap(),
                vec![],
            ),
            contents: vec![n; 40],
        };
        record.events = Some(TransactionEvents(vec![event(1), event(2)]));
        let mut full = chain.ledger().full_checkpoint(sequence).unwrap();
        full.transactions = vec![record.clone(), record.clone()];

        let all = FieldMaskTree::new_wildcard();
        let masks = [
            "digest,effects.bcs,events.bcs",
            "effects.status,checkpoint",
            "effects",
            "events.events.contents",
            "transaction.bcs,signatures",
            "digest,timestamp,objects",
            "objects.objects.object_id,objects.objects.version",
            "checkpoint",
        ];
        let everything = executed(&record, std::slice::from_ref(&coin), &all);
        for paths in masks {
            let mask = FieldMaskTree::from_field_mask(&FieldMask::from_str(paths));
            let built = executed(&record, std::slice::from_ref(&coin), &mask);
            assert_eq!(built, proto::ExecutedTransaction::merge_from(&everything, &mask), "transaction mask {paths}");
            assert_ne!(built, proto::ExecutedTransaction::default(), "{paths} selects something");
        }
        let checkpoint_masks = [
            "sequence_number,summary.timestamp,transactions.events.bcs",
            "sequence_number,summary.timestamp,transactions.digest,transactions.transaction.bcs,transactions.effects.bcs,transactions.events.bcs",
            "sequence_number,digest",
            "contents,summary",
            "transactions",
        ];
        let everything = checkpoint_message(&full, &all);
        for paths in checkpoint_masks {
            let mask = FieldMaskTree::from_field_mask(&FieldMask::from_str(paths));
            assert_eq!(
                checkpoint_message(&full, &mask),
                proto::Checkpoint::merge_from(&everything, &mask),
                "checkpoint mask {paths}"
            );
        }
    }
}
