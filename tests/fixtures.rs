//! Chain fixtures shared by the integration tests and the benchmarks (which include this file
//! with `#[path]`): devnets, funded keys, clusters, nodes and tokens, made through the contract
//! as a real client would.

#![allow(dead_code)]

use std::time::Duration;

use kubectl_sui::chain::{ChainClient, Executed};
use kubectl_sui::contract::events::TokenIssued;
use kubectl_sui::contract::objects::Policy;
use kubectl_sui::contract::{CallArg, Contract, ObjectArg, Role};
use kubectl_sui::devnet::{Devnet, DevnetConfig, package_id};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, Owner};
use sui_transaction_builder::TransactionBuilder;

/// One SUI in MIST.
pub const SUI: u64 = 1_000_000_000;

/// A devnet on free loopback ports, its ledger in `data_dir`.
pub async fn start_devnet(data_dir: &std::path::Path, checkpoint_interval: Duration) -> Devnet {
    Devnet::start(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faucet_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        checkpoint_interval,
        finality: std::time::Duration::ZERO,
    })
    .await
    .expect("devnet starts")
}

/// The faucet client of `devnet` (`sui-rpc`'s own).
pub fn faucet(devnet: &Devnet) -> sui_rpc::faucet::FaucetClient {
    sui_rpc::faucet::FaucetClient::new(format!("{}/", devnet.faucet_url())).unwrap()
}

/// A fresh key.
pub fn new_key() -> Ed25519PrivateKey {
    Ed25519PrivateKey::generate(rand_core::OsRng)
}

/// The Sui address of a key.
pub fn address(key: &Ed25519PrivateKey) -> Address {
    key.public_key().derive_address()
}

/// A fresh key with 100 SUI from the faucet.
pub async fn funded(faucet: &sui_rpc::faucet::FaucetClient) -> Ed25519PrivateKey {
    let key = new_key();
    faucet.request(address(&key)).await.expect("faucet");
    key
}

/// Executes `tx` signed by `key`, paying with its first coin.
pub async fn execute(client: &mut ChainClient, key: &Ed25519PrivateKey, tx: TransactionBuilder) -> Executed {
    let gas = client.gas_coins(address(key)).await.unwrap().remove(0);
    client.execute(tx, key, gas).await.expect("transaction")
}

/// A policy allowing debug nodes, self-service up to `self_service_role`, no lock, no slashing.
pub fn policy(min_write_stake: u64, self_service_role: Role) -> Policy {
    Policy {
        min_write_stake,
        token_lifetime_ms: 3_600_000,
        unstake_lock_ms: 0,
        allow_debug_nodes: true,
        self_service_role: self_service_role.code(),
        slashing_enabled: true,
        protected_namespaces: kubectl_sui::contract::access::default_protected_namespaces(),
        enclaves: vec![],
        require_attestation_nonce: true,
        auditors: vec![],
    }
}

/// Creates a cluster; returns its id and the admin capability's id.
pub async fn create_cluster(
    client: &mut ChainClient,
    admin: &Ed25519PrivateKey,
    policy: &Policy,
) -> (Address, Address) {
    let mut tx = TransactionBuilder::new();
    Contract::new(package_id()).create_cluster(&mut tx, "test", policy).unwrap();
    let created = execute(client, admin, tx).await.created();
    let shared = created.iter().find(|(_, o)| matches!(o, Owner::Shared(_))).expect("the cluster").0;
    let owned = created.iter().find(|(_, o)| matches!(o, Owner::Address(_))).expect("the admin cap").0;
    (shared, owned)
}

/// Registers a debug node with its keys.
pub async fn register_node(
    client: &mut ChainClient,
    admin: &Ed25519PrivateKey,
    (cluster, cap): (Address, Address),
    node: &Ed25519PrivateKey,
    sealing_key: &[u8],
) {
    let mut tx = TransactionBuilder::new();
    let (cap, cluster) = (client.object_arg(cap).await.unwrap(), client.object_arg(cluster).await.unwrap());
    Contract::new(package_id())
        .register_debug_node(&mut tx, cap, cluster, address(node), node.public_key().inner(), sealing_key)
        .unwrap();
    execute(client, admin, tx).await;
}

/// A cluster of `policy` with a registered, funded debug node whose keys are in a fresh
/// directory; what the node and its requesters need.
pub struct ClusterWithNode {
    /// A client of the devnet.
    pub client: ChainClient,
    /// The cluster's admin.
    pub admin: Ed25519PrivateKey,
    /// The cluster object.
    pub cluster: Address,
    /// The cluster's admin capability.
    pub cap: Address,
    /// The node's keys.
    pub keys: kubectl_sui::node::keys::NodeKeys,
    /// The node's data directory.
    pub node_dir: tempfile::TempDir,
}

/// Creates a [`ClusterWithNode`] on `devnet`.
pub async fn cluster_with_node(devnet: &Devnet, policy: &Policy) -> ClusterWithNode {
    let faucet = faucet(devnet);
    let mut client = ChainClient::new(&devnet.grpc_url(), package_id()).unwrap();
    let admin = funded(&faucet).await;
    let (cluster, cap) = create_cluster(&mut client, &admin, policy).await;
    let node_dir = tempfile::tempdir().unwrap();
    let keys = kubectl_sui::node::keys::NodeKeys::load_or_create(node_dir.path()).unwrap();
    faucet.request(keys.address()).await.unwrap();
    register_node(&mut client, &admin, (cluster, cap), &keys.signing, &keys.sealing.public_key().to_bytes()).await;
    ClusterWithNode { client, admin, cluster, cap, keys, node_dir }
}

/// Stakes `stake` for a token of `role`; returns the token id and the staking transaction.
pub async fn stake(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    cluster: ObjectArg,
    role: Role,
    stake: u64,
) -> (Address, Executed) {
    let mut tx = TransactionBuilder::new();
    let amount = tx.pure(&stake);
    let gas_arg = tx.gas();
    let coin = tx.split_coins(gas_arg, vec![amount]).remove(0);
    Contract::new(package_id()).stake(&mut tx, cluster, CallArg::Result(coin), role).unwrap();
    let staked = execute(client, key, tx).await;
    let issued: Vec<TokenIssued> = staked.events_of();
    assert_eq!(issued.len(), 1);
    (issued[0].token_id, staked)
}

/// A node's configuration for `cluster` on `devnet`, against the cluster of `kubeconfig`,
/// backfilling from checkpoint 0, with the default limits and `concurrency`.
/// `nautilus run` (this package's binary) serving `cluster` from `devnet` with the node keys in
/// `data_dir`, 32 requests at once, its metrics on `metrics_listen`; warnings only.
pub fn nautilus_run(
    devnet: &Devnet,
    cluster: Address,
    data_dir: &std::path::Path,
    kubeconfig: &std::path::Path,
    metrics_listen: std::net::SocketAddr,
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_nautilus"));
    command
        .args(["run", "--chain-url", &devnet.grpc_url(), "--package", &package_id().to_string()])
        .args(["--cluster", &cluster.to_string(), "--concurrency", "32", "--from-checkpoint", "0"])
        .args(["--metrics-listen", &metrics_listen.to_string()])
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--data-dir")
        .arg(data_dir)
        .env("NAUTILUS_LOG", "warn");
    command
}

pub fn node_config(
    devnet: &Devnet,
    cluster: Address,
    data_dir: &std::path::Path,
    kubeconfig: &std::path::Path,
    concurrency: usize,
) -> kubectl_sui::node::NodeConfig {
    kubectl_sui::node::NodeConfig {
        chain_url: devnet.grpc_url(),
        package: package_id(),
        cluster,
        data_dir: data_dir.into(),
        kubeconfig: Some(kubeconfig.into()),
        concurrency,
        metrics_listen: Some("127.0.0.1:0".parse().expect("address")),
        max_body: kubectl_sui::node::DEFAULT_MAX_BODY,
        rotate_sealing_key: false,
        from_checkpoint: Some(0),
        limits: kubectl_sui::node::NodeLimits::default(),
    }
}
