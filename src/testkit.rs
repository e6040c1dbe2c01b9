//! What the crate's unit tests share to run against the in-process devnet
//! ([`crate::devnet::InProcess`]): a fresh chain, funded keys, and a cluster made through the
//! contract as a client would. Compiled for tests only; the integration tests have their own
//! fixtures (`tests/fixtures.rs`) over a devnet on sockets.

use std::time::Duration;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, Owner};
use sui_transaction_builder::TransactionBuilder;

use crate::chain::{ChainClient, Executed};
use crate::contract::objects::Policy;
use crate::contract::{Contract, Role};
use crate::devnet::{InProcess, package_id};

/// An in-process devnet with its ledger in a fresh directory (removed on drop).
pub struct Chain {
    /// The devnet.
    pub devnet: InProcess,
    _dir: tempfile::TempDir,
}

impl Chain {
    /// A fresh chain forming checkpoints at most every 2 ms.
    pub async fn new() -> Chain {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let devnet = InProcess::open(dir.path(), Duration::from_millis(2)).await.expect("the devnet opens");
        Chain { devnet, _dir: dir }
    }

    /// A client of it.
    pub fn client(&self) -> ChainClient {
        self.devnet.client()
    }

    /// A fresh key holding one faucet coin (100 SUI).
    pub async fn funded(&self) -> Ed25519PrivateKey {
        let key = Ed25519PrivateKey::generate(rand_core::OsRng);
        self.devnet.fund(address(&key)).await.expect("the faucet pays");
        key
    }

    /// Executes `tx` signed by `key`, paying with its first coin.
    pub async fn execute(
        &self,
        key: &Ed25519PrivateKey,
        tx: TransactionBuilder,
    ) -> Result<Executed, crate::chain::ChainError> {
        let mut client = self.client();
        let gas = client.gas_coins(address(key)).await?.remove(0);
        client.execute(tx, key, gas).await
    }

    /// Creates a cluster of `policy` as `admin`; returns the cluster and its admin capability.
    pub async fn cluster(&self, admin: &Ed25519PrivateKey, policy: &Policy) -> (Address, Address) {
        let mut tx = TransactionBuilder::new();
        Contract::new(package_id()).create_cluster(&mut tx, "unit", policy).expect("a call");
        let created = self.execute(admin, tx).await.expect("the cluster is created").created();
        let shared = created.iter().find(|(_, o)| matches!(o, Owner::Shared(_))).expect("the cluster").0;
        let owned = created.iter().find(|(_, o)| matches!(o, Owner::Address(_))).expect("the admin cap").0;
        (shared, owned)
    }
}

/// The Sui address of `key`.
pub fn address(key: &Ed25519PrivateKey) -> Address {
    key.public_key().derive_address()
}

/// A policy allowing debug nodes and self-service up to `role`, with no write stake.
pub fn policy(role: Role) -> Policy {
    Policy {
        min_write_stake: 0,
        token_lifetime_ms: 3_600_000,
        unstake_lock_ms: 0,
        allow_debug_nodes: true,
        self_service_role: role.code(),
        slashing_enabled: true,
        protected_namespaces: crate::contract::access::default_protected_namespaces(),
        enclaves: vec![],
        require_attestation_nonce: true,
    }
}
