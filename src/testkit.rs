//! What the crate's unit tests share to run against the in-process devnet
//! ([`crate::devnet::InProcess`]): a fresh chain, funded keys, and a cluster made through the
//! contract as a client would; a node run by [`run_with`] against an API server in the process
//! ([`api_server`]); requesters with the proxy's [`RoundTrip`]. Compiled for tests only; the integration tests have their own
//! fixtures (`tests/fixtures.rs`) over a devnet on sockets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, Owner};
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::watch;

use crate::chain::{ChainClient, Executed};
use crate::contract::events::TokenIssued;
use crate::contract::objects::Policy;
use crate::contract::{CallArg, Contract, Role};
use crate::devnet::{InProcess, package_id};
use crate::envelope::RequestEnvelope;
use crate::node::{DEFAULT_MAX_BODY, NodeConfig, NodeError, NodeLimits, run_with};
use crate::proxy::RoundTrip;

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

/// A node task started by [`Rig::start`].
pub type Node = tokio::task::JoinHandle<Result<(), NodeError>>;

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
        auditors: vec![],
    }
}

/// What the API server was sent as some requester (the node's own calls are left out).
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    /// The HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The impersonated user.
    pub user: String,
    /// Bytes of body sent.
    pub body_len: usize,
}

/// An API server in the process: records each impersonated request and answers 200 (201 to
/// a POST) with a small JSON object; access reviews are allowed, and the node's own
/// server-side applies (its RBAC objects) are answered with the object applied.
pub fn api_server() -> (crate::node::kube::KubeApi, Arc<Mutex<Vec<Ran>>>) {
    api_server_hanging(false)
}

/// [`api_server`], never answering a requester's POST once `hang_writes` (a node that
/// crashes during such a call leaves its outcome unknown).
pub fn api_server_hanging(hang_writes: bool) -> (crate::node::kube::KubeApi, Arc<Mutex<Vec<Ran>>>) {
    let ran: Arc<Mutex<Vec<Ran>>> = Arc::default();
    let record = ran.clone();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let record = record.clone();
        async move {
            let (parts, body) = request.into_parts();
            let sent = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let path = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let user = parts.headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string);
            let (status, body) = if path.contains("accessreviews") {
                (201, bytes::Bytes::from_static(br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{},"status":{"allowed":true}}"#))
            } else if user.is_none() && parts.method == http::Method::PATCH {
                (200, sent.clone())
            } else {
                let status = if parts.method == http::Method::POST { 201 } else { 200 };
                (
                    status,
                    bytes::Bytes::from_static(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"seen"}}"#),
                )
            };
            if let Some(user) = user {
                record.lock().unwrap().push(Ran { method: parts.method.to_string(), path, user, body_len: sent.len() });
                if hang_writes && parts.method == http::Method::POST {
                    std::future::pending::<()>().await;
                }
            }
            let response = http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(body))
                .unwrap();
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    (crate::node::kube::KubeApi::from_client(kube::Client::new(service, "default")), ran)
}

/// A chain with a cluster (self-service up to edit, no write stake) and a registered, funded
/// debug node whose keys are in `node_dir`.
pub struct Rig {
    /// The chain.
    pub chain: Chain,
    /// The cluster.
    pub cluster: Address,
    /// The node's data directory.
    pub node_dir: tempfile::TempDir,
}

impl Drop for Rig {
    /// A node's task can outlive the test by a moment and write its cursor while the directory
    /// is being removed; the new file then keeps the directory in `/tmp`, so removal is tried
    /// again until the directory is gone.
    fn drop(&mut self) {
        for _ in 0..20 {
            match std::fs::remove_dir_all(self.node_dir.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => std::thread::sleep(Duration::from_millis(5)),
                _ => return,
            }
        }
    }
}

impl Rig {
    /// A fresh chain, cluster and registered node (not running).
    pub async fn new() -> Rig {
        let chain = Chain::new().await;
        let admin = chain.funded().await;
        let (cluster, cap) = chain.cluster(&admin, &policy(Role::Edit)).await;
        let node_dir = tempfile::tempdir().unwrap();
        let keys = crate::node::keys::NodeKeys::load_or_create(node_dir.path()).unwrap();
        chain.devnet.fund(keys.address()).await.unwrap();
        let mut client = chain.client();
        let mut tx = TransactionBuilder::new();
        let (cap, cluster_arg) = (client.object_arg(cap).await.unwrap(), client.object_arg(cluster).await.unwrap());
        Contract::new(package_id())
            .register_debug_node(
                &mut tx,
                cap,
                cluster_arg,
                keys.address(),
                keys.signing.public_key().inner(),
                &keys.sealing.public_key().to_bytes(),
            )
            .unwrap();
        chain.execute(&admin, tx).await.unwrap();
        Rig { chain, cluster, node_dir }
    }

    /// Starts the node against `api`; it stops when the sender is dropped or sends true.
    pub fn start(&self, api: crate::node::kube::KubeApi) -> (watch::Sender<bool>, Node) {
        self.start_with(api, false)
    }

    /// [`Rig::start`], rotating the node's sealing key first (`nautilus run --rotate-sealing-key`).
    pub fn start_rotating(&self, api: crate::node::kube::KubeApi) -> (watch::Sender<bool>, Node) {
        self.start_with(api, true)
    }

    fn start_with(&self, api: crate::node::kube::KubeApi, rotate_sealing_key: bool) -> (watch::Sender<bool>, Node) {
        let config = NodeConfig {
            chain_url: "in-process".into(),
            package: package_id(),
            cluster: self.cluster,
            data_dir: self.node_dir.path().into(),
            kubeconfig: None,
            concurrency: 4,
            metrics_listen: None,
            max_body: DEFAULT_MAX_BODY,
            rotate_sealing_key,
            from_checkpoint: Some(0),
            limits: NodeLimits::default(),
        };
        let (stop, stopped) = watch::channel(false);
        let node = tokio::spawn(run_with(config, self.chain.client(), api, stopped, None));
        (stop, node)
    }

    /// The sealing key the cluster holds for its first node.
    pub async fn published_sealing_key(&self) -> Vec<u8> {
        let cluster: crate::contract::objects::Cluster =
            self.chain.client().move_object(self.cluster).await.expect("the cluster");
        cluster.nodes.contents.first().expect("a node").value.sealing_key.clone()
    }

    /// Waits until the cluster holds a sealing key other than `previous` for its node.
    pub async fn wait_for_sealing_key_other_than(&self, previous: &[u8]) {
        for _ in 0..2000 {
            if self.published_sealing_key().await != previous {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the node never published a new sealing key");
    }

    /// A requester holding a token of `role` (1 SUI staked), and its round trip.
    pub async fn requester(&self, role: Role) -> (RoundTrip, Ed25519PrivateKey) {
        let key = self.chain.funded().await;
        let mut client = self.chain.client();
        let mut tx = TransactionBuilder::new();
        let amount = tx.pure(&1_000_000_000u64);
        let gas = tx.gas();
        let coin = tx.split_coins(gas, vec![amount]).remove(0);
        let cluster = client.object_arg(self.cluster).await.unwrap();
        Contract::new(package_id()).stake(&mut tx, cluster, CallArg::Result(coin), role).unwrap();
        let token = self.chain.execute(&key, tx).await.unwrap().events_of::<TokenIssued>()[0].token_id;
        let trip = RoundTrip::connect(client, key.clone(), self.cluster, token, Duration::from_secs(20)).await.unwrap();
        (trip, key)
    }
}

/// A request envelope with no body, asking for JSON.
pub fn request(method: &str, path: &str) -> RequestEnvelope {
    RequestEnvelope {
        method: method.into(),
        path: path.into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: vec![],
    }
}
