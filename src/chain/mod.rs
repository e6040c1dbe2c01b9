//! The chain client: reads objects, executes signed transactions and follows checkpoints over
//! Sui's gRPC API (`sui.rpc.v2`), against the embedded devnet or any Sui full node alike.
//!
//! This module owns the `sui-rpc` client and the conversion of its messages to domain types;
//! `proto` types do not leave it. It turns a failed execution into [`ChainError`], naming the
//! contract abort when there is one. It holds no keys of its own: callers pass the signer.
//! The same client runs over services in this process ([`ChainClient::in_process`], the
//! embedded devnet's), which is the seam the node's, the proxy's and the gas pool's unit tests
//! use: nothing else in the crate needs a second chain implementation.

mod amount;
mod error;
pub mod follow;
mod gas;

use std::str::FromStr;

use prost_types::FieldMask;
use serde::de::DeserializeOwned;
use sui_crypto::SuiSigner;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{
    Address, Digest, Event, ExecutionError, ExecutionStatus, Object, ObjectReference, Owner, StructTag,
    TransactionEffects, TransactionEvents,
};
use sui_transaction_builder::TransactionBuilder;

pub use amount::{MIST_PER_SUI, format_sui, parse_sui};
pub use error::{ChainError, RpcCode};
pub use gas::GasPool;

use crate::contract::{ObjectArg, lookup_abort};

/// Largest gRPC message the client accepts (tonic's default is 4 MiB).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;
/// Gas budget of one transaction, in MIST.
pub const DEFAULT_GAS_BUDGET: u64 = 100_000_000;
/// How long [`ChainClient::execute_settled`] waits for its transaction's checkpoint.
pub const SETTLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// When an execution returns: with its effects, or once it is in a checkpoint.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Effects,
    Checkpoint,
}

/// A transaction the chain executed.
#[derive(Debug, Clone)]
pub struct Executed {
    /// Its digest.
    pub digest: Digest,
    /// Its effects.
    pub effects: TransactionEffects,
    /// Its events.
    pub events: Vec<Event>,
    /// The contract package of the client that executed it: [`Executed::events_of`] reads
    /// only events this package emitted.
    pub package: Address,
}

impl Executed {
    /// What the transaction cost its sender, in MIST: computation and storage, less the
    /// storage rebate.
    pub fn gas_paid(&self) -> u64 {
        let gas = self.effects.gas_summary();
        (gas.computation_cost + gas.storage_cost).saturating_sub(gas.storage_rebate)
    }

    /// Objects the transaction created, with their owners; a published package is immutable.
    pub fn created(&self) -> Vec<(Address, Owner)> {
        match &self.effects {
            TransactionEffects::V2(e) => e
                .changed_objects
                .iter()
                .filter(|c| matches!(c.id_operation, sui_sdk_types::IdOperation::Created))
                .filter_map(|c| match &c.output_state {
                    sui_sdk_types::ObjectOut::ObjectWrite { owner, .. } => Some((c.object_id, *owner)),
                    sui_sdk_types::ObjectOut::PackageWrite { .. } => Some((c.object_id, Owner::Immutable)),
                    _ => None,
                })
                .collect(),
            TransactionEffects::V1(_) => vec![],
        }
    }

    /// The events of `T` the contract package emitted, decoded.
    pub fn events_of<T: crate::contract::objects::MoveType + DeserializeOwned>(&self) -> Vec<T> {
        self.events
            .iter()
            .filter(|e| e.package_id == self.package)
            .filter_map(crate::contract::events::decode)
            .collect()
    }

    /// The new reference of an object this transaction wrote.
    pub fn written(&self, id: Address) -> Option<ObjectReference> {
        match &self.effects {
            TransactionEffects::V2(e) => {
                e.changed_objects.iter().find(|c| c.object_id == id).and_then(|c| match c.output_state {
                    sui_sdk_types::ObjectOut::ObjectWrite { digest, .. } => {
                        Some(ObjectReference::new(id, e.lamport_version, digest))
                    }
                    _ => None,
                })
            }
            TransactionEffects::V1(_) => None,
        }
    }
}

/// A client of one chain, for one contract package.
#[derive(Clone)]
pub struct ChainClient {
    rpc: sui_rpc::Client,
    package: Address,
    /// The reference gas price and when it was read, shared by every clone: callers clone
    /// the client for each transaction, and a cache of its own would be empty every time.
    gas_price: std::sync::Arc<std::sync::Mutex<Option<(u64, std::time::Instant)>>>,
}

/// How long a reference gas price read is reused. It changes only at an epoch's start (a
/// day on Sui's networks); a transaction priced below a new one is refused, and the price is
/// read again at most this long after.
const GAS_PRICE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient").field("url", self.rpc.uri()).field("package", &self.package).finish()
    }
}

fn mask(paths: &str) -> FieldMask {
    FieldMask::from_str(paths)
}

impl ChainClient {
    /// A client of the gRPC endpoint at `url`; connects lazily.
    pub fn new(url: &str, package: Address) -> Result<ChainClient, ChainError> {
        let rpc = sui_rpc::Client::new(url)
            .map_err(|e| ChainError::Connect { url: url.to_string(), message: e.to_string() })?
            .with_max_decoding_message_size(MAX_MESSAGE_SIZE);
        Ok(ChainClient { rpc, package, gas_price: Default::default() })
    }

    /// A client whose requests go to `services` in this process, never to a socket: the
    /// embedded devnet's own services ([`crate::devnet::InProcess`]), for fast tests.
    pub fn in_process(services: tonic::service::Routes, package: Address) -> ChainClient {
        // The URI is never dialled: the layer answers every request and drops the channel.
        let rpc = sui_rpc::Client::new("http://in-process.invalid")
            .expect("a valid URI")
            .with_max_decoding_message_size(MAX_MESSAGE_SIZE)
            .request_layer(tower::layer::layer_fn(move |_channel| services.clone()));
        ChainClient { rpc, package, gas_price: Default::default() }
    }

    /// The endpoint's URL, for messages.
    pub fn url(&self) -> String {
        self.rpc.uri().to_string()
    }

    /// The contract package.
    pub fn package(&self) -> Address {
        self.package
    }

    /// The underlying `sui-rpc` client, for streams.
    pub fn rpc(&mut self) -> &mut sui_rpc::Client {
        &mut self.rpc
    }

    /// The chain id.
    pub async fn chain_id(&mut self) -> Result<String, ChainError> {
        let info = self
            .rpc
            .ledger_client()
            .get_service_info(proto::GetServiceInfoRequest::default())
            .await
            .map_err(|status| ChainError::rpc("GetServiceInfo", status))?;
        Ok(info.into_inner().chain_id.unwrap_or_default())
    }

    /// The sequence number of the newest checkpoint.
    pub async fn latest_checkpoint(&mut self) -> Result<u64, ChainError> {
        let mut request = proto::GetCheckpointRequest::default();
        request.read_mask = Some(mask("sequence_number"));
        let response = self
            .rpc
            .ledger_client()
            .get_checkpoint(request)
            .await
            .map_err(|status| ChainError::rpc("GetCheckpoint", status))?;
        response
            .into_inner()
            .checkpoint
            .and_then(|c| c.sequence_number)
            .ok_or(ChainError::Missing { what: "checkpoint" })
    }

    /// The current version of an object.
    pub async fn object(&mut self, id: Address) -> Result<Object, ChainError> {
        let mut request = proto::GetObjectRequest::default();
        request.object_id = Some(id.to_string());
        request.read_mask = Some(mask("bcs"));
        let response = self
            .rpc
            .ledger_client()
            .get_object(request)
            .await
            .map_err(|status| ChainError::rpc("GetObject", status))?;
        let bcs = response.into_inner().object.and_then(|o| o.bcs).ok_or(ChainError::Missing { what: "object bcs" })?;
        bcs.deserialize().map_err(|e| ChainError::Decode { what: "object", message: e.to_string() })
    }

    /// An object's Move contents decoded as `T`.
    pub async fn move_object<T: DeserializeOwned>(&mut self, id: Address) -> Result<T, ChainError> {
        Ok(self.move_object_and_arg(id).await?.0)
    }

    /// An object's Move contents decoded as `T`, and its call argument, from one read.
    pub async fn move_object_and_arg<T: DeserializeOwned>(
        &mut self,
        id: Address,
    ) -> Result<(T, ObjectArg), ChainError> {
        let object = self.object(id).await?;
        let s = object.as_struct().ok_or(ChainError::Missing { what: "Move struct" })?;
        let value = bcs::from_bytes(s.contents())
            .map_err(|e| ChainError::Decode { what: "object contents", message: e.to_string() })?;
        Ok((value, arg_of(id, &object)))
    }

    /// A call argument for an object: shared by initial version, owned by current reference.
    pub async fn object_arg(&mut self, id: Address) -> Result<ObjectArg, ChainError> {
        let object = self.object(id).await?;
        Ok(arg_of(id, &object))
    }

    /// The `Coin<SUI>` objects of `owner`.
    pub async fn gas_coins(&mut self, owner: Address) -> Result<Vec<ObjectReference>, ChainError> {
        let mut request = proto::ListOwnedObjectsRequest::default();
        request.owner = Some(owner.to_string());
        request.object_type = Some(StructTag::gas_coin().to_string());
        request.read_mask = Some(mask("object_id,version,digest"));
        request.page_size = Some(1000);
        let response = self
            .rpc
            .state_client()
            .list_owned_objects(request)
            .await
            .map_err(|status| ChainError::rpc("ListOwnedObjects", status))?;
        response
            .into_inner()
            .objects
            .iter()
            .map(|o| {
                let id = o.object_id.as_deref().and_then(|s| Address::from_str(s).ok());
                let digest = o.digest.as_deref().and_then(|s| Digest::from_str(s).ok());
                match (id, o.version, digest) {
                    (Some(id), Some(v), Some(d)) => Ok(ObjectReference::new(id, v, d)),
                    _ => Err(ChainError::Missing { what: "coin reference" }),
                }
            })
            .collect()
    }

    /// The SUI balance of `owner`, in MIST.
    pub async fn balance(&mut self, owner: Address) -> Result<u64, ChainError> {
        let mut request = proto::GetBalanceRequest::default();
        request.owner = Some(owner.to_string());
        request.coin_type = Some("0x2::sui::SUI".into());
        let response = self
            .rpc
            .state_client()
            .get_balance(request)
            .await
            .map_err(|status| ChainError::rpc("GetBalance", status))?;
        Ok(response.into_inner().balance.and_then(|b| b.balance).unwrap_or(0))
    }

    /// The reference gas price, read once every [`GAS_PRICE_TTL`] by this client and all its
    /// clones.
    pub async fn gas_price(&mut self) -> Result<u64, ChainError> {
        if let Some((price, read)) = *self.gas_price.lock().expect("gas price lock")
            && read.elapsed() < GAS_PRICE_TTL
        {
            return Ok(price);
        }
        let price = self.rpc.get_reference_gas_price().await.map_err(|status| ChainError::rpc("GetEpoch", status))?;
        *self.gas_price.lock().expect("gas price lock") = Some((price, std::time::Instant::now()));
        Ok(price)
    }

    /// Signs `tx` with `signer`, pays with `gas`, executes it and decodes the outcome. A
    /// failed execution is an error; a contract abort names its constant.
    pub async fn execute(
        &mut self,
        tx: TransactionBuilder,
        signer: &Ed25519PrivateKey,
        gas: ObjectReference,
    ) -> Result<Executed, ChainError> {
        self.execute_with_budget(tx, signer, gas, DEFAULT_GAS_BUDGET).await
    }

    /// [`ChainClient::execute`] with a gas budget other than the default (a publish).
    pub async fn execute_with_budget(
        &mut self,
        tx: TransactionBuilder,
        signer: &Ed25519PrivateKey,
        gas: ObjectReference,
        budget: u64,
    ) -> Result<Executed, ChainError> {
        self.execute_as(tx, signer, gas, budget, Settle::Effects).await
    }

    /// [`ChainClient::execute_with_budget`], returning only once the transaction is in a
    /// checkpoint, so that what it wrote is readable (its objects, the owner's coins) on the
    /// node that answered: a real full node returns effects before it has indexed them.
    pub async fn execute_settled(
        &mut self,
        tx: TransactionBuilder,
        signer: &Ed25519PrivateKey,
        gas: ObjectReference,
        budget: u64,
    ) -> Result<Executed, ChainError> {
        self.execute_as(tx, signer, gas, budget, Settle::Checkpoint).await
    }

    /// [`ChainClient::execute_settled`] paying with the signer's first coin: for one-off
    /// commands (a login, a registration), not for a signer with transactions in flight
    /// (those take their coin from a [`GasPool`]).
    pub async fn execute_settled_with_own_coin(
        &mut self,
        tx: TransactionBuilder,
        signer: &Ed25519PrivateKey,
        budget: u64,
    ) -> Result<Executed, ChainError> {
        let owner = signer.public_key().derive_address();
        let gas = self.gas_coins(owner).await?.into_iter().next().ok_or(ChainError::NoGas { owner })?;
        self.execute_settled(tx, signer, gas, budget).await
    }

    async fn execute_as(
        &mut self,
        mut tx: TransactionBuilder,
        signer: &Ed25519PrivateKey,
        gas: ObjectReference,
        budget: u64,
        settle: Settle,
    ) -> Result<Executed, ChainError> {
        let sender = signer.public_key().derive_address();
        tx.set_sender(sender);
        tx.set_gas_budget(budget);
        tx.set_gas_price(self.gas_price().await?);
        tx.add_gas_objects([sui_transaction_builder::ObjectInput::owned(
            *gas.object_id(),
            gas.version(),
            *gas.digest(),
        )]);
        let transaction = tx.try_build().map_err(|e| ChainError::Build(e.to_string()))?;
        let signature = signer.sign_transaction(&transaction).map_err(|e| ChainError::Sign(e.to_string()))?;
        let mut request = proto::ExecuteTransactionRequest::default();
        request.transaction = Some(transaction.into());
        request.signatures = vec![signature.into()];
        request.read_mask = Some(mask("digest,effects.bcs,events.bcs"));
        let response = match settle {
            Settle::Effects => self
                .rpc
                .execution_client()
                .execute_transaction(request)
                .await
                .map_err(|status| ChainError::rpc("ExecuteTransaction", status))?,
            Settle::Checkpoint => {
                use sui_rpc::client::ExecuteAndWaitError as E;
                match self.rpc.execute_transaction_and_wait_for_checkpoint(request, SETTLE_TIMEOUT).await {
                    Ok(response) => response,
                    Err(E::RpcError(status)) => return Err(ChainError::rpc("ExecuteTransaction", status)),
                    Err(E::CheckpointTimeout(_)) => return Err(ChainError::Unsettled { waited: SETTLE_TIMEOUT }),
                    Err(E::CheckpointStreamError { error, .. }) => {
                        return Err(ChainError::rpc("SubscribeCheckpoints", error));
                    }
                    Err(e) => return Err(ChainError::Build(e.to_string())),
                }
            }
        };
        let executed = response.into_inner().transaction.ok_or(ChainError::Missing { what: "executed transaction" })?;
        let effects: TransactionEffects = executed
            .effects
            .and_then(|e| e.bcs)
            .ok_or(ChainError::Missing { what: "effects" })?
            .deserialize()
            .map_err(|e| ChainError::Decode { what: "effects", message: e.to_string() })?;
        let events: Vec<Event> = match executed.events.and_then(|e| e.bcs) {
            Some(bcs) => {
                bcs.deserialize::<TransactionEvents>()
                    .map_err(|e| ChainError::Decode { what: "events", message: e.to_string() })?
                    .0
            }
            None => vec![],
        };
        let digest = *effects.transaction_digest();
        match effects.status() {
            ExecutionStatus::Success => Ok(Executed { digest, effects, events, package: self.package }),
            ExecutionStatus::Failure { error: ExecutionError::MoveAbort { location, code }, .. }
                if location.package == self.package =>
            {
                Err(ChainError::Abort {
                    module: location.module.to_string(),
                    code: *code,
                    abort: lookup_abort(location.module.as_str(), *code),
                    digest,
                })
            }
            ExecutionStatus::Failure { error: ExecutionError::MoveAbort { location, code }, .. }
                if location.package == Address::TWO
                    && location.module.as_str() == crate::contract::calls::NITRO_MODULE =>
            {
                Err(ChainError::Attestation { code: *code, digest })
            }
            ExecutionStatus::Failure { error, .. } => {
                Err(ChainError::Failed { error: Box::new(error.clone()), digest })
            }
        }
    }
}

/// Asks the faucet at `url` (a Sui faucet's `/v2/gas`, as the devnet's) to fund `address`;
/// returns once the faucet answered (its transfer executed).
pub async fn request_from_faucet(url: &str, address: Address) -> Result<(), ChainError> {
    let refused = |e: &dyn std::fmt::Display| ChainError::Faucet { url: url.to_string(), message: e.to_string() };
    let base = if url.ends_with('/') { url.to_string() } else { format!("{url}/") };
    let faucet = sui_rpc::faucet::FaucetClient::new(base).map_err(|e| refused(&e))?;
    faucet.request(address).await.map(|_| ()).map_err(|e| refused(&e))
}

/// The call argument of `object`: a shared one by its initial version (which never changes,
/// so the argument stays valid), an owned one by its current reference.
fn arg_of(id: Address, object: &Object) -> ObjectArg {
    match object.owner() {
        Owner::Shared(initial_shared_version) => {
            ObjectArg::Shared { id, initial_shared_version: *initial_shared_version }
        }
        _ => ObjectArg::Owned { id, version: object.version(), digest: object.digest() },
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn every_clone_reuses_the_gas_price_one_of_them_read() {
        let chain = crate::testkit::Chain::new().await;
        let client = chain.client();
        // As the proxy and the node do: a clone per transaction.
        let price = client.clone().gas_price().await.unwrap();
        assert!(price > 0);
        let cached = *client.gas_price.lock().unwrap();
        assert_eq!(cached.map(|(p, _)| p), Some(price), "the original sees what a clone read");
        let mut later = client.clone();
        assert_eq!(later.gas_price.lock().unwrap().map(|(p, _)| p), Some(price), "a new clone starts with it");
        assert_eq!(later.gas_price().await.unwrap(), price);
    }
}
