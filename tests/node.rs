//! The Nautilus node against the devnet and a real control plane, with requests submitted as a
//! client would (`proxy::RoundTrip`).

use std::time::Duration;

use kubectl_sui::audit::cluster_log;
use kubectl_sui::chain::ChainClient;
use kubectl_sui::chain::ChainError;
use kubectl_sui::contract::Role;
use kubectl_sui::controlplane::ControlPlane;
use kubectl_sui::devnet::{Devnet, DevnetConfig, package_id};
use kubectl_sui::envelope::{RequestAttributes, RequestEnvelope};
use kubectl_sui::node::{self, NodeConfig};
use kubectl_sui::proxy::{RoundTrip, RoundTripError};
use sui_sdk_types::Address;
use tokio::sync::watch;

pub(crate) use crate::fixtures::SUI;
use crate::fixtures::{self, address, funded, policy, start_devnet};
use crate::util::start_control_plane;

pub(crate) struct Setup {
    pub(crate) plane: ControlPlane,
    _plane_dir: tempfile::TempDir,
    pub(crate) devnet: Devnet,
    pub(crate) chain_dir: tempfile::TempDir,
    node_dir: tempfile::TempDir,
    pub(crate) cluster: Address,
    faucet: sui_rpc::faucet::FaucetClient,
    /// The cluster's admin key and capability.
    pub(crate) admin: (sui_crypto::ed25519::Ed25519PrivateKey, Address),
}

pub(crate) async fn setup() -> Setup {
    setup_with(&policy(SUI, Role::Edit)).await
}

/// A control plane, a devnet and a cluster of `policy` with a registered node (not running).
pub(crate) async fn setup_with(policy: &kubectl_sui::contract::objects::Policy) -> Setup {
    let (plane, plane_dir) = start_control_plane(1);
    plane.kubectl_stdin(&["apply", "-f", "-"], kubectl_sui::node::kube::GROUP_BINDINGS).unwrap();
    let chain_dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(chain_dir.path(), Duration::from_millis(20)).await;
    let faucet = fixtures::faucet(&devnet);
    let fixtures::ClusterWithNode { cluster, node_dir, admin, cap, .. } =
        fixtures::cluster_with_node(&devnet, policy).await;
    Setup { plane, _plane_dir: plane_dir, devnet, chain_dir, node_dir, cluster, faucet, admin: (admin, cap) }
}

impl Setup {
    pub(crate) fn node_config(&self) -> NodeConfig {
        fixtures::node_config(&self.devnet, self.cluster, self.node_dir.path(), self.plane.kubeconfig(), 8)
    }

    /// Starts the node; dropping the sender stops it.
    pub(crate) fn start_node(&self) -> (watch::Sender<bool>, tokio::task::JoinHandle<Result<(), node::NodeError>>) {
        self.start_node_with(self.node_config(), None)
    }

    /// Starts the node with `config`; `bound` receives its metrics address.
    pub(crate) fn start_node_with(
        &self,
        config: NodeConfig,
        bound: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
    ) -> (watch::Sender<bool>, tokio::task::JoinHandle<Result<(), node::NodeError>>) {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(node::run(config, stopped, bound));
        (stop, task)
    }

    /// Starts the node with `config` once its metrics listen; with their address.
    pub(crate) async fn start_node_serving_metrics(
        &self,
        config: NodeConfig,
    ) -> ((watch::Sender<bool>, tokio::task::JoinHandle<Result<(), node::NodeError>>), std::net::SocketAddr) {
        let (bound, addr) = tokio::sync::oneshot::channel();
        let node = self.start_node_with(config, Some(bound));
        (node, addr.await.expect("the node's metrics address"))
    }

    /// The node's data directory.
    pub(crate) fn node_dir(&self) -> &std::path::Path {
        self.node_dir.path()
    }

    /// A requester with a token of `role` and `stake`, and its round trip to the node.
    pub(crate) async fn requester(&self, role: Role, stake: u64) -> Requester {
        self.requester_waiting(role, stake, Duration::from_secs(30)).await
    }

    /// As [`Setup::requester`], giving up on an answer after `timeout`.
    pub(crate) async fn requester_waiting(&self, role: Role, stake: u64, timeout: Duration) -> Requester {
        let key = funded(&self.faucet).await;
        let mut client = ChainClient::new(&self.devnet.grpc_url(), package_id()).unwrap();
        let cluster_arg = client.object_arg(self.cluster).await.unwrap();
        let (token, _) = fixtures::stake(&mut client, &key, cluster_arg, role, stake).await;
        let trip = RoundTrip::connect(client, key.clone(), self.cluster, token, timeout).await.unwrap();
        Requester { trip, key, token }
    }
}

impl Setup {
    /// The requests the API server ran for `sui:*` users (its audit log), after checking
    /// that each is exactly what the chain approved, and ran once.
    pub(crate) async fn cluster_ran_only_what_the_chain_approved(&self) -> Vec<cluster_log::Execution> {
        let log = std::fs::read_to_string(self.plane.audit_log()).expect("the API server's audit log");
        let executions = cluster_log::executions(&log).expect("audit events");
        let client = ChainClient::new(&self.devnet.grpc_url(), package_id()).unwrap();
        let trail = kubectl_sui::audit::read_trail(client, self.cluster).await.expect("the chain's trail");
        let found = cluster_log::verify(&trail, &executions);
        assert!(found.is_empty(), "the cluster ran what the chain did not approve: {found:#?}");
        executions
    }

    /// What the API server ran (checked against the chain as
    /// [`Setup::cluster_ran_only_what_the_chain_approved`] does) once `done` holds of it; the
    /// API server logs a stream or a session when it ends, a moment after the node's end.
    pub(crate) async fn ran_once_done(
        &self,
        done: impl Fn(&[cluster_log::Execution]) -> bool,
    ) -> Vec<cluster_log::Execution> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let executions = self.cluster_ran_only_what_the_chain_approved().await;
            if done(&executions) {
                return executions;
            }
            assert!(tokio::time::Instant::now() < deadline, "{executions:#?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The admin gives `token` a predefined role.
    pub(crate) async fn grant_role(&self, token: Address, role: Role) {
        self.admin_token_call(token, |contract, tx, cap, cluster, token| {
            contract.grant_role(tx, cap, cluster, token, role)
        })
        .await;
    }

    /// The admin names the cluster's auditors.
    pub(crate) async fn set_auditors(&self, auditors: &[[u8; 32]]) {
        let mut client = ChainClient::new(&self.devnet.grpc_url(), package_id()).unwrap();
        let (cap, cluster) =
            (client.object_arg(self.admin.1).await.unwrap(), client.object_arg(self.cluster).await.unwrap());
        let mut tx = sui_transaction_builder::TransactionBuilder::new();
        kubectl_sui::contract::Contract::new(package_id()).set_auditors(&mut tx, cap, cluster, auditors).unwrap();
        fixtures::execute(&mut client, &self.admin.0, tx).await;
    }

    /// The admin revokes `token`.
    pub(crate) async fn revoke(&self, token: Address) {
        self.admin_token_call(token, |contract, tx, cap, cluster, token| contract.revoke(tx, cap, cluster, token))
            .await;
    }

    async fn admin_token_call(
        &self,
        token: Address,
        build: impl FnOnce(
            &kubectl_sui::contract::Contract,
            &mut sui_transaction_builder::TransactionBuilder,
            kubectl_sui::contract::ObjectArg,
            kubectl_sui::contract::ObjectArg,
            kubectl_sui::contract::ObjectArg,
        ) -> Result<sui_transaction_builder::Argument, kubectl_sui::contract::ContractError>,
    ) {
        let mut client = ChainClient::new(&self.devnet.grpc_url(), package_id()).unwrap();
        let (cap, cluster, token) = (
            client.object_arg(self.admin.1).await.unwrap(),
            client.object_arg(self.cluster).await.unwrap(),
            client.object_arg(token).await.unwrap(),
        );
        let mut tx = sui_transaction_builder::TransactionBuilder::new();
        build(&kubectl_sui::contract::Contract::new(package_id()), &mut tx, cap, cluster, token).unwrap();
        fixtures::execute(&mut client, &self.admin.0, tx).await;
    }

    /// The admin replaces `token`'s permissions with explicit rules.
    pub(crate) async fn grant_rules(&self, token: Address, rules: &[kubectl_sui::contract::objects::Rule]) {
        self.admin_token_call(token, |contract, tx, cap, cluster, token| {
            contract.grant_rules(tx, cap, cluster, token, rules)
        })
        .await;
    }
}

/// A requester's round trip, with the key and token it was made from.
pub(crate) struct Requester {
    pub(crate) trip: RoundTrip,
    pub(crate) key: sui_crypto::ed25519::Ed25519PrivateKey,
    pub(crate) token: Address,
}

impl std::ops::Deref for Requester {
    type Target = RoundTrip;
    fn deref(&self) -> &RoundTrip {
        &self.trip
    }
}

pub(crate) fn request(method: &str, path: &str, body: &str) -> RequestEnvelope {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    if !body.is_empty() {
        let ct = if method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
        headers.push(("content-type".to_string(), ct.to_string()));
    }
    RequestEnvelope { method: method.into(), path: path.into(), headers, body: body.as_bytes().to_vec() }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|_| panic!("JSON body: {}", String::from_utf8_lossy(body)))
}

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test(flavor = "multi_thread")]
async fn get_list_create_patch_delete_through_the_chain() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    let user = setup.requester(Role::Edit, 2 * SUI).await;

    let created = user
        .call(&request("POST", CONFIGMAPS, r#"{"metadata":{"name":"via-chain"},"data":{"k":"v1"}}"#))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", String::from_utf8_lossy(&created.body));
    assert_eq!(setup.plane.kubectl(&["get", "configmap", "via-chain", "-o", "jsonpath={.data.k}"]).unwrap(), "v1");

    let got = user.call(&request("GET", &format!("{CONFIGMAPS}/via-chain"), "")).await.unwrap();
    assert_eq!((got.status, json(&got.body)["data"]["k"].as_str()), (200, Some("v1")));
    assert!(got.headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("application/json")));

    let patched =
        user.call(&request("PATCH", &format!("{CONFIGMAPS}/via-chain"), r#"{"data":{"k":"v2"}}"#)).await.unwrap();
    assert_eq!(patched.status, 200);
    assert_eq!(setup.plane.kubectl(&["get", "configmap", "via-chain", "-o", "jsonpath={.data.k}"]).unwrap(), "v2");

    let listed = user.call(&request("GET", CONFIGMAPS, "")).await.unwrap();
    let names: Vec<String> = json(&listed.body)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.contains(&"via-chain".to_string()), "{names:?}");

    let deleted = user.call(&request("DELETE", &format!("{CONFIGMAPS}/via-chain"), "")).await.unwrap();
    assert_eq!(deleted.status, 200);
    assert!(setup.plane.kubectl(&["get", "configmap", "via-chain"]).is_err());

    // Kubernetes' edit reads no cluster roles: refused on chain, before the cluster.
    let refused = user.call(&request("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", "")).await;
    assert!(
        matches!(&refused, Err(RoundTripError::Chain(ChainError::Abort { abort: Some(a), .. })) if a.kind == kubectl_sui::contract::Abort::EPermissionDenied),
        "{refused:?}"
    );
    // The API server ran the five calls, once each, as the requester (not the node).
    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    let verbs: Vec<&str> = ran.iter().map(|e| e.verb.as_str()).collect();
    assert_eq!(verbs, ["create", "get", "patch", "list", "delete"], "{ran:#?}");
    assert!(ran.iter().all(|e| e.user == format!("sui:{}", address(&user.key))), "{ran:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_does_not_match_its_approval_is_refused_and_not_run() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    setup.plane.kubectl(&["create", "configmap", "keep-me"]).unwrap();
    let user = setup.requester(Role::Edit, 2 * SUI).await;
    // The envelope deletes, the published metadata says "get".
    let lie = RequestAttributes::from_http("GET", &format!("{CONFIGMAPS}/keep-me")).unwrap();
    let response =
        user.call_with_attributes(&request("DELETE", &format!("{CONFIGMAPS}/keep-me"), ""), lie).await.unwrap();
    assert_eq!(response.status, 403);
    let message = json(&response.body)["message"].as_str().unwrap().to_string();
    assert!(message.contains("not executed") || message.contains("not the get"), "{message}");
    setup.plane.kubectl(&["get", "configmap", "keep-me"]).expect("still there");
    assert!(setup.cluster_ran_only_what_the_chain_approved().await.is_empty(), "nothing ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_node_misses_nothing_and_runs_nothing_twice() {
    let setup = setup().await;
    let (stop, node_task) = setup.start_node();
    let user = std::sync::Arc::new(setup.requester(Role::Edit, 2 * SUI).await);
    let create = |i: usize| {
        request(
            "POST",
            CONFIGMAPS,
            &format!(r#"{{"metadata":{{"generateName":"restart-","labels":{{"batch":"r"}}}},"data":{{"i":"{i}"}}}}"#),
        )
    };

    // One request answered while the node runs.
    assert_eq!(user.call(&create(0)).await.unwrap().status, 201);
    // Stop it; submit four more while it is down.
    stop.send(true).unwrap();
    node_task.await.unwrap().unwrap();
    let mut calls = Vec::new();
    for i in 1..5 {
        let (user, request) = (user.clone(), create(i));
        calls.push(tokio::spawn(async move { user.call(&request).await }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_stop, _node) = setup.start_node();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status, 201);
    }
    // generateName makes a second execution visible as a sixth object.
    let names = setup.plane.kubectl(&["get", "configmaps", "-l", "batch=r", "-o", "name"]).unwrap();
    assert_eq!(names.lines().count(), 5, "{names}");
    assert_eq!(setup.cluster_ran_only_what_the_chain_approved().await.len(), 5, "each ran once");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_reconnects_when_the_devnet_restarts_under_it() {
    let mut setup = setup().await;
    let (_stop, _node) = setup.start_node();
    let user = setup.requester(Role::Edit, 2 * SUI).await;
    let path = format!("{CONFIGMAPS}/before-restart");
    let first = user.call(&request("POST", CONFIGMAPS, r#"{"metadata":{"name":"before-restart"}}"#)).await.unwrap();
    assert_eq!(first.status, 201);

    // Same data directory, same addresses: the node's stream breaks, it backs off and resumes.
    let grpc: std::net::SocketAddr = setup.devnet.grpc_url().trim_start_matches("http://").parse().unwrap();
    let faucet: std::net::SocketAddr = setup.devnet.faucet_url().trim_start_matches("http://").parse().unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let old = std::mem::replace(
        &mut setup.devnet,
        Devnet::start(DevnetConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            faucet_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: other_dir.path().to_path_buf(),
            checkpoint_interval: Duration::from_millis(20),
            finality: std::time::Duration::ZERO,
        })
        .await
        .unwrap(),
    );
    old.shutdown().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = Devnet::start(DevnetConfig {
        listen: grpc,
        faucet_listen: faucet,
        data_dir: setup.chain_dir.path().to_path_buf(),
        checkpoint_interval: Duration::from_millis(20),
        finality: std::time::Duration::ZERO,
    })
    .await
    .expect("devnet restarts on its old addresses");
    let placeholder = std::mem::replace(&mut setup.devnet, restarted);
    placeholder.shutdown().await.unwrap();

    let after = user.call(&request("GET", &path, "")).await.unwrap();
    assert_eq!(after.status, 200, "{}", String::from_utf8_lossy(&after.body));
    let second = user.call(&request("POST", CONFIGMAPS, r#"{"metadata":{"name":"after-restart"}}"#)).await.unwrap();
    assert_eq!(second.status, 201);
}

/// `nautilus run` as a separate process, so it can be killed with SIGKILL.
fn spawn_nautilus(setup: &Setup) -> std::process::Child {
    let config = setup.node_config();
    std::process::Command::new(env!("CARGO_BIN_EXE_nautilus"))
        .args(["run", "--chain-url", &config.chain_url, "--package", &package_id().to_string()])
        .args(["--cluster", &setup.cluster.to_string(), "--metrics-listen", "127.0.0.1:0", "--concurrency", "8"])
        .args(["--from-checkpoint", "0"])
        .arg("--kubeconfig")
        .arg(setup.plane.kubeconfig())
        .arg("--data-dir")
        .arg(setup.node_dir.path())
        .env("NAUTILUS_LOG", "warn")
        .spawn()
        .expect("nautilus starts")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_any_moment_never_runs_a_request_twice() {
    let setup = setup().await;
    let user = std::sync::Arc::new(setup.requester(Role::Edit, 2 * SUI).await);
    let mut node = spawn_nautilus(&setup);
    let mut calls = Vec::new();
    for round in 0..3u64 {
        for i in 0..6 {
            let user = user.clone();
            let body = format!(
                r#"{{"metadata":{{"generateName":"kill-","labels":{{"batch":"k"}}}},"data":{{"n":"{round}-{i}"}}}}"#
            );
            calls.push(tokio::spawn(async move { user.call(&request("POST", CONFIGMAPS, &body)).await }));
        }
        // Kill at a different point of the pipeline each round.
        tokio::time::sleep(Duration::from_millis(300 + 400 * round)).await;
        node.kill().unwrap();
        node.wait().unwrap();
        node = spawn_nautilus(&setup);
    }
    let mut created = 0;
    let mut unknown = 0;
    let mut refused = 0;
    for call in calls {
        let response = call.await.unwrap().expect("every request is answered");
        match response.status {
            201 => created += 1,
            // Killed mid-execution: answered, never re-run.
            500 => unknown += 1,
            // Past the requester's share of open requests (16): answered, never run.
            429 => refused += 1,
            other => panic!("unexpected status {other}: {}", String::from_utf8_lossy(&response.body)),
        }
    }
    node.kill().unwrap();
    node.wait().unwrap();
    let objects = setup.plane.kubectl(&["get", "configmaps", "-l", "batch=k", "-o", "name"]).unwrap().lines().count();
    assert_eq!(created + unknown + refused, 18);
    assert!(
        objects >= created && objects <= created + unknown,
        "{objects} objects for {created} created and {unknown} unknown"
    );
    // The API server's own log: no approval ran twice, nothing ran unapproved, and every
    // object is one create it completed (a create cut off by the kill is logged as 504 and
    // made nothing).
    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    assert_eq!(ran.iter().filter(|e| e.verb == "create" && e.code == 201).count(), objects, "{ran:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_ready_together_share_transactions_and_metrics_say_so() {
    let setup = setup().await;
    let (stop, stopped) = watch::channel(false);
    let (bound_tx, bound) = tokio::sync::oneshot::channel();
    let _node = tokio::spawn(node::run(setup.node_config(), stopped, Some(bound_tx)));
    let metrics = format!("http://{}", bound.await.expect("metrics address"));
    assert_eq!(reqwest::get(format!("{metrics}/healthz")).await.unwrap().text().await.unwrap(), "ok");
    let mut users = Vec::new();
    for _ in 0..8 {
        users.push(std::sync::Arc::new(setup.requester(Role::View, 0).await));
    }
    for _ in 0..2 {
        let calls: Vec<_> = users
            .iter()
            .map(|u| {
                let u = u.clone();
                tokio::spawn(async move { u.call(&request("GET", CONFIGMAPS, "")).await })
            })
            .collect();
        for c in calls {
            assert_eq!(c.await.unwrap().unwrap().status, 200);
        }
    }
    assert_eq!(reqwest::get(format!("{metrics}/readyz")).await.unwrap().status(), 200);
    let text = reqwest::get(format!("{metrics}/metrics")).await.unwrap().text().await.unwrap();
    let value = |name: &str| -> f64 {
        text.lines().filter(|l| l.starts_with(name)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    };
    let answered = value("nautilus_requests_total{");
    let transactions = value("nautilus_answer_transactions_total");
    assert_eq!(answered, 16.0, "{text}");
    assert!(transactions < answered, "{transactions} transactions for {answered} answers");
    stop.send(true).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_sealing_key_still_opens_requests_sealed_to_the_previous_one() {
    let setup = setup().await;
    let (stop, node) = setup.start_node();
    let early = setup.requester(Role::Edit, SUI).await;
    let get = request("GET", "/api/v1/namespaces/default/configmaps", "");
    assert_eq!(early.call(&get).await.unwrap().status, 200);
    let before = early.node().await.unwrap().sealing_key;
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();

    let mut config = setup.node_config();
    config.rotate_sealing_key = true;
    let (stop, stopped) = watch::channel(false);
    let node = tokio::spawn(node::run(config, stopped, None));
    let mut client = ChainClient::new(&setup.devnet.grpc_url(), package_id()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let rotated = loop {
        let cluster: kubectl_sui::contract::objects::Cluster = client.move_object(setup.cluster).await.unwrap();
        let info = cluster.nodes.contents[0].value.clone();
        if info.sealing_key != before.to_bytes() {
            break info;
        }
        assert!(std::time::Instant::now() < deadline, "the node publishes its new key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(rotated.previous_sealing_key, before.to_bytes(), "the contract keeps the previous key");

    // The early requester still seals to the previous key: answered.
    assert_eq!(early.node().await.unwrap().sealing_key, before);
    assert_eq!(early.call(&get).await.unwrap().status, 200);
    // A new requester reads and uses the new key.
    let late = setup.requester(Role::Edit, SUI).await;
    assert_ne!(late.node().await.unwrap().sealing_key, before);
    assert_eq!(late.call(&get).await.unwrap().status, 200);
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();
}
