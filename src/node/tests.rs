//! The node's rules in milliseconds: [`run_with`] over the in-process devnet (the contract's
//! real execution, no sockets) and an API server in the process that records what it is sent,
//! with requests made by the proxy's [`RoundTrip`]. The same rules are tested end to end
//! against a real kube-apiserver in `tests/node.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::watch;

use super::*;
use crate::chain::ChainError;
use crate::contract::events::TokenIssued;
use crate::contract::{Abort, CallArg, Contract, Role};
use crate::devnet::package_id;
use crate::envelope::{RequestAttributes, RequestEnvelope};
use crate::proxy::{RoundTrip, RoundTripError};
use crate::testkit::{self, address};

/// What the API server was sent as some requester (the node's own calls are left out).
#[derive(Debug, Clone, PartialEq)]
struct Ran {
    method: String,
    path: String,
    user: String,
}

/// An API server in the process: records each impersonated request and answers 200 (201 to
/// a POST) with a small JSON object; access reviews are allowed, and the node's own
/// server-side applies (its RBAC objects) are answered with the object applied.
fn api_server() -> (kube::KubeApi, Arc<Mutex<Vec<Ran>>>) {
    api_server_hanging(false)
}

/// [`api_server`], never answering a requester's POST once `hang_writes` (a node that
/// crashes during such a call leaves its outcome unknown).
fn api_server_hanging(hang_writes: bool) -> (kube::KubeApi, Arc<Mutex<Vec<Ran>>>) {
    let ran: Arc<Mutex<Vec<Ran>>> = Arc::default();
    let record = ran.clone();
    let service = tower::service_fn(move |request: http::Request<::kube::client::Body>| {
        let record = record.clone();
        async move {
            let (parts, body) = request.into_parts();
            let sent = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            let path = parts.uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
            let user = parts.headers.get("impersonate-user").and_then(|v| v.to_str().ok()).map(str::to_string);
            let (status, body) = if path.contains("accessreviews") {
                (201, bytes::Bytes::from_static(br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{},"status":{"allowed":true}}"#))
            } else if user.is_none() && parts.method == http::Method::PATCH {
                (200, sent)
            } else {
                let status = if parts.method == http::Method::POST { 201 } else { 200 };
                (
                    status,
                    bytes::Bytes::from_static(br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"seen"}}"#),
                )
            };
            if let Some(user) = user {
                record.lock().unwrap().push(Ran { method: parts.method.to_string(), path, user });
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
    (kube::KubeApi::from_client(::kube::Client::new(service, "default")), ran)
}

/// A chain with a cluster (self-service up to edit, no write stake) and a registered, funded
/// debug node whose keys are in `node_dir`.
struct Rig {
    chain: testkit::Chain,
    cluster: Address,
    node_dir: tempfile::TempDir,
}

impl Rig {
    async fn new() -> Rig {
        let chain = testkit::Chain::new().await;
        let admin = chain.funded().await;
        let (cluster, cap) = chain.cluster(&admin, &testkit::policy(Role::Edit)).await;
        let node_dir = tempfile::tempdir().unwrap();
        let keys = keys::NodeKeys::load_or_create(node_dir.path()).unwrap();
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
    fn start(&self, api: kube::KubeApi) -> (watch::Sender<bool>, tokio::task::JoinHandle<Result<(), NodeError>>) {
        let config = NodeConfig {
            chain_url: "in-process".into(),
            package: package_id(),
            cluster: self.cluster,
            data_dir: self.node_dir.path().into(),
            kubeconfig: None,
            concurrency: 4,
            metrics_listen: None,
            max_body: DEFAULT_MAX_BODY,
            rotate_sealing_key: false,
            from_checkpoint: Some(0),
            limits: NodeLimits::default(),
        };
        let (stop, stopped) = watch::channel(false);
        let node = tokio::spawn(run_with(config, self.chain.client(), api, stopped, None));
        (stop, node)
    }

    /// A requester holding a token of `role` (1 SUI staked), and its round trip.
    async fn requester(&self, role: Role) -> (RoundTrip, Ed25519PrivateKey) {
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

fn request(method: &str, path: &str) -> RequestEnvelope {
    RequestEnvelope {
        method: method.into(),
        path: path.into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: vec![],
    }
}

const CONFIGMAP: &str = "/api/v1/namespaces/default/configmaps/seen";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_runs_once_as_its_requester_exactly_as_the_chain_approved_it() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, key) = rig.requester(Role::Edit).await;
    let answer = user.call(&request("GET", CONFIGMAP)).await.unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains(r#""name":"seen""#));
    let expected = Ran { method: "GET".into(), path: CONFIGMAP.into(), user: kube::impersonated_user(&address(&key)) };
    assert_eq!(*ran.lock().unwrap(), [expected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_unlike_its_approval_is_refused_and_nothing_runs() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, _) = rig.requester(Role::Edit).await;
    // The sealed envelope deletes; the attributes the chain approved say "get".
    let approved = RequestAttributes::from_http("GET", CONFIGMAP).unwrap();
    let answer = user.call_with_attributes(&request("DELETE", CONFIGMAP), approved).await.unwrap();
    assert_eq!(answer.status, 403, "{}", String::from_utf8_lossy(&answer.body));
    assert!(ran.lock().unwrap().is_empty(), "the API server was sent {:?}", ran.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_contract_refuses_never_reaches_the_node() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (viewer, _) = rig.requester(Role::View).await;
    let refused = viewer.call(&request("DELETE", CONFIGMAP)).await;
    assert!(
        matches!(&refused, Err(RoundTripError::Chain(ChainError::Abort { abort: Some(a), .. })) if a.kind == Abort::EPermissionDenied),
        "{refused:?}"
    );
    assert!(ran.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_made_while_the_node_is_down_run_once_each_after_it_restarts() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (stop, node) = rig.start(api.clone());
    let (user, _) = rig.requester(Role::Edit).await;
    let user = Arc::new(user);
    assert_eq!(user.call(&request("GET", CONFIGMAP)).await.unwrap().status, 200);
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();

    let calls: Vec<_> = (0..3)
        .map(|i| {
            let user = user.clone();
            tokio::spawn(async move { user.call(&request("GET", &format!("{CONFIGMAP}-{i}"))).await })
        })
        .collect();
    // Submitted on chain while no node runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ran.lock().unwrap().len(), 1);
    let (_stop, _node) = rig.start(api);
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }
    let mut paths: Vec<String> = ran.lock().unwrap().iter().map(|r| r.path.clone()).collect();
    paths.sort();
    let expected: Vec<String> =
        std::iter::once(CONFIGMAP.to_string()).chain((0..3).map(|i| format!("{CONFIGMAP}-{i}"))).collect();
    assert_eq!(paths, expected, "each ran once, the first not again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_a_crash_interrupted_is_never_run_again_and_is_answered_as_unknown() {
    let rig = Rig::new().await;
    let (hanging, ran) = api_server_hanging(true);
    let (_stop, node) = rig.start(hanging);
    let (user, _) = rig.requester(Role::Edit).await;
    let user = Arc::new(user);
    let create = RequestEnvelope {
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"metadata":{"name":"once"}}"#.to_vec(),
        ..request("POST", "/api/v1/namespaces/default/configmaps")
    };
    let call = tokio::spawn({
        let (user, create) = (user.clone(), create.clone());
        async move { user.call(&create).await }
    });
    // The write reached the API server; the node dies before it hears back.
    while ran.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.abort();
    let _ = node.await;

    let (api, ran_after) = api_server();
    let (_stop, _node) = rig.start(api);
    let answer = call.await.unwrap().unwrap();
    assert_eq!(answer.status, 500, "{}", String::from_utf8_lossy(&answer.body));
    assert!(
        String::from_utf8_lossy(&answer.body).contains("not run again"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(ran_after.lock().unwrap().is_empty(), "ran again: {:?}", ran_after.lock().unwrap());
    assert_eq!(ran.lock().unwrap().len(), 1);
}
