//! The node under hostile load and after lost state: every request ends, none runs twice or
//! after its cancel, and one requester cannot stall the others. The API server's audit log
//! says what ran.

use std::time::{Duration, Instant};

use kubectl_sui::chain::ChainClient;
use kubectl_sui::contract::calls::Submission;
use kubectl_sui::contract::events::RequestSubmitted;
use kubectl_sui::contract::{Contract, Role, Verb};
use kubectl_sui::devnet::package_id;
use kubectl_sui::proxy::{GaveUp, RoundTripError};
use sui_transaction_builder::TransactionBuilder;

use crate::fixtures::{self, SUI, address};
use crate::node::{request, setup};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

async fn metrics(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines().find(|l| l.starts_with(line_start)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_requester_cannot_stall_the_node_or_make_it_hold_what_never_ends() {
    let setup = setup().await;
    let mut config = setup.node_config();
    config.limits.max_open_per_requester = 4;
    config.limits.upload_ttl_secs = 2;
    config.limits.max_streams_per_requester = 2;
    config.limits.stream_max_secs = 3;
    let (_node, addr) = setup.start_node_serving_metrics(config).await;
    let attacker = std::sync::Arc::new(setup.requester(Role::Edit, 2 * SUI).await);
    let honest = setup.requester(Role::Edit, 2 * SUI).await;
    let get = request("GET", &format!("{CONFIGMAPS}/kube-root-ca.crt"), "");

    // Baseline: the honest requester's latency alone.
    let mut alone = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(honest.call(&get).await.unwrap().status, 200);
        alone.push(started.elapsed());
    }

    // The flood: 24 year-long watches and followed logs, and 24 lists at once. A watch the
    // node takes is a stream it ends at its limit (3 s here); past two streams, 429.
    let mut flood = Vec::new();
    for i in 0..48 {
        let attacker = attacker.clone();
        flood.push(tokio::spawn(async move {
            let envelope = match i % 3 {
                0 => request("GET", &format!("{CONFIGMAPS}?watch=true&timeoutSeconds=31536000"), ""),
                1 => request("GET", "/api/v1/namespaces/default/pods/x/log?follow=true", ""),
                _ => request("GET", CONFIGMAPS, ""),
            };
            attacker.call(&envelope).await
        }));
    }
    let mut during = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(honest.call(&get).await.unwrap().status, 200);
        during.push(started.elapsed());
    }
    let mut statuses = std::collections::BTreeMap::new();
    for call in flood {
        let response = call.await.unwrap().expect("every flooded request is answered");
        if response.status == 429 {
            assert!(response.headers.iter().any(|(k, v)| k == "retry-after" && v == "5"), "{:?}", response.headers);
        }
        *statuses.entry(response.status).or_insert(0) += 1;
    }
    // Within its share of 4 open requests and 2 streams, lists are answered, watches stream
    // until the node's limit, the log of a missing pod is a 404; past it, everything is
    // refused with 429 and Retry-After. Nothing waits past the limit.
    assert!(statuses.keys().all(|s| [200, 404, 429].contains(s)), "{statuses:?}");
    assert!(statuses.get(&429).is_some_and(|n| *n >= 12), "{statuses:?}");
    // The median honest call is not stalled (the first may share the two cores with the
    // flood's burst of sealing and submitting, all in this one process). The allowance is
    // 1.5 s over twice the median alone: with the whole suite sharing two cores, honest calls
    // made while the flood is answered took 0.8-1.3 s at the median in some runs (a queueing
    // effect under CPU contention, left open in docs/benchmarks.md), where a stall behind the
    // flood's streams takes their full 3 s.
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (m_alone, m_during) = (median(&mut alone), median(&mut during));
    assert!(m_during < m_alone * 2 + Duration::from_millis(1500), "alone {alone:?}, during the flood {during:?}");
    assert!(during.iter().all(|d| *d < Duration::from_secs(10)), "{during:?}");

    // A free GET whose body inflates to 16 MiB: refused unopened past 1 MiB.
    let mut bomb = request("GET", CONFIGMAPS, "");
    bomb.body = vec![0; 16 * 1024 * 1024];
    let refused = honest.call(&bomb).await.unwrap();
    assert_eq!(refused.status, 400, "{}", String::from_utf8_lossy(&refused.body));

    // An upload announcing 1000 chunks (16 MB, within the node's limit) that never come: it
    // expires, and frees the memory and the cursor.
    let mut client = ChainClient::new(&setup.devnet.grpc_url(), package_id()).unwrap();
    let node = kubectl_sui::node::keys::NodeKeys::load_or_create(setup.node_dir()).unwrap();
    let (cluster, token) =
        (client.object_arg(setup.cluster).await.unwrap(), client.object_arg(attacker.token).await.unwrap());
    let mut tx = TransactionBuilder::new();
    let submission = Submission {
        node: node.address(),
        sealing_key: node.sealing.public_key().to_bytes().to_vec(),
        reply_key: vec![9; 32],
        verb: Verb::Create,
        group: String::new(),
        resource: "configmaps".into(),
        namespace: "default".into(),
        name: String::new(),
        body_len: 1000 * 16_000,
        body_digest: [1; 32],
        chunk_count: 1000,
        chunks: vec![vec![0; 16_000]],
    };
    Contract::new(package_id()).submit(&mut tx, cluster, token, &submission).unwrap();
    fixtures::execute(&mut client, &attacker.key, tx).await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while metric(&metrics(addr, "/metrics").await.1, "nautilus_buffered_bytes") == 0.0 {
        assert!(Instant::now() < deadline, "the node keeps the chunks of an upload in progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(honest.call(&get).await.unwrap().status, 200, "still serving");
    let (_, text) = metrics(addr, "/metrics").await;
    assert_eq!(metric(&text, "nautilus_buffered_bytes"), 0.0, "{text}");
    assert!(metric(&text, "nautilus_refusals_total{cause=\"upload_expired\"}") >= 1.0, "{text}");
    assert!(metric(&text, "nautilus_refusals_total{cause=\"too_many_open\"}") >= 1.0, "{text}");
    let cursor: u64 = std::fs::read_to_string(setup.node_dir().join("cursor")).unwrap().trim().parse().unwrap();
    let tip = client.latest_checkpoint().await.unwrap();
    assert!(tip.saturating_sub(cursor) < 50, "the cursor follows the chain: {cursor} of {tip}");

    // The API server ran only what the chain approved: lists, gets, the watches the node
    // took (at most its limit at once), nothing for the bomb.
    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    assert!(ran.iter().all(|e| ["get", "list", "watch"].contains(&e.verb.as_str())), "{ran:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelled_requests_and_lost_state_never_run_a_write() {
    let setup = setup().await;
    // The node is down; the requester gives up after 2 s and cancels on chain.
    let impatient = setup.requester_waiting(Role::Edit, 2 * SUI, Duration::from_secs(2)).await;
    let create = request("POST", CONFIGMAPS, r#"{"metadata":{"name":"cancelled"}}"#);
    match impatient.call(&create).await {
        Err(e @ RoundTripError::Timeout { gave_up: GaveUp::Cancelled, .. }) => {
            assert!(e.to_string().contains("cancelled on chain, so it will not run"), "{e}")
        }
        other => panic!("expected a cancelled timeout, got {other:?}"),
    }
    // A write the node started before the cancel cannot be cancelled: the proxy says so and
    // waits for the answer, and a node without a journal of it never runs it again.
    let node_keys = kubectl_sui::node::keys::NodeKeys::load_or_create(setup.node_dir()).unwrap();
    let (events, mut seen) = tokio::sync::mpsc::channel(64);
    let chain = ChainClient::new(&setup.devnet.grpc_url(), package_id()).unwrap();
    // After the checkpoint that may still hold the cancelled request's submit.
    let from = chain.clone().latest_checkpoint().await.unwrap() + 1;
    let follower = tokio::spawn(kubectl_sui::chain::follow::follow(chain.clone(), package_id(), from, events));
    let impatient_user = format!("sui:{}", address(&impatient.key));
    let raced = tokio::spawn({
        let create = request("POST", CONFIGMAPS, r#"{"metadata":{"name":"raced"}}"#);
        async move { impatient.call(&create).await.map(|r| (r.status, String::from_utf8_lossy(&r.body).into_owned())) }
    });
    let mut client = chain.clone();
    let request_arg = loop {
        let checkpoint = tokio::time::timeout(Duration::from_secs(10), seen.recv()).await.unwrap().unwrap();
        let found = checkpoint.events.iter().find_map(kubectl_sui::contract::events::decode::<RequestSubmitted>);
        // The open request of this call (a request already gone is not it).
        if let Some(s) = found
            && let Ok(arg) = client.object_arg(s.request_id).await
        {
            break arg;
        }
    };
    follower.abort();
    let cluster_arg = client.object_arg(setup.cluster).await.unwrap();
    let mut tx = TransactionBuilder::new();
    Contract::new(package_id()).start(&mut tx, request_arg, cluster_arg).unwrap();
    let gas = client.gas_coins(node_keys.address()).await.unwrap().remove(0);
    client.execute(tx, &node_keys.signing, gas).await.unwrap();
    // The proxy's cancel (after 2 s) is refused; the node, up after 3 s, answers from what the
    // chain says: started by a life of it it has no record of, so not run again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The node comes up and backfills past it: it is gone from the chain, so it never runs.
    let (stop, node) = setup.start_node();
    let (status, text) = raced.await.unwrap().expect("the started write is answered, not given up");
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("outcome is unknown and it was not run again"), "{text}");
    let patient = setup.requester(Role::Edit, 2 * SUI).await;
    let made = patient.call(&request("POST", CONFIGMAPS, r#"{"metadata":{"name":"kept"}}"#)).await.unwrap();
    assert_eq!(made.status, 201);
    assert!(setup.plane.kubectl(&["get", "configmap", "cancelled"]).is_err(), "the cancelled write never ran");
    assert!(setup.plane.kubectl(&["get", "configmap", "raced"]).is_err(), "the started write was never run");
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();

    // The node's volume is lost (cursor and journal gone, keys kept). Started as a new node
    // would be, it starts at the chain's tip: nothing before it is looked at.
    let lose_state = || {
        std::fs::remove_file(setup.node_dir().join("cursor")).unwrap();
        std::fs::remove_file(setup.node_dir().join("executions.journal")).unwrap();
    };
    lose_state();
    let tip = ChainClient::new(&setup.devnet.grpc_url(), package_id()).unwrap().latest_checkpoint().await.unwrap();
    let mut fresh = setup.node_config();
    fresh.from_checkpoint = None;
    let (stop, node) = setup.start_node_with(fresh, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    let cursor = loop {
        if let Some(c) =
            std::fs::read_to_string(setup.node_dir().join("cursor")).ok().and_then(|t| t.trim().parse::<u64>().ok())
        {
            break c;
        }
        assert!(Instant::now() < deadline, "the node writes its cursor at start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(cursor >= tip, "started at the tip ({tip}), not at {cursor}");
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();
    // With an operator's backfill from checkpoint 0: the answered write is gone from the
    // chain, so it is not run again.
    lose_state();
    let (_stop, _node) = setup.start_node();
    let after = patient.call(&request("GET", &format!("{CONFIGMAPS}/kept"), "")).await.unwrap();
    assert_eq!(after.status, 200);
    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    let creates: Vec<_> = ran.iter().filter(|e| e.verb == "create").collect();
    assert_eq!(creates.len(), 1, "{creates:#?}");
    assert!(!ran.iter().any(|e| e.user == impatient_user), "nothing ran for the cancelled requester: {ran:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_too_large_and_an_empty_gas_pool_still_end_every_request() {
    let setup = setup().await;
    let mut config = setup.node_config();
    config.limits.max_response = 2048;
    config.concurrency = 2;
    let (_node, addr) = setup.start_node_serving_metrics(config).await;
    // A Kubernetes call past its deadline ends as a timeout, whatever the API server does.
    let kube = kubectl_sui::node::kube::KubeApi::connect(Some(setup.plane.kubeconfig())).await.unwrap();
    let get = request("GET", CONFIGMAPS, "");
    let info = kubectl_sui::envelope::RequestInfo::parse(&get.method, &get.path).unwrap();
    let groups = vec!["system:authenticated".to_string()];
    let caller = kubectl_sui::node::kube::Caller { user: "sui:0x1", groups: &groups, user_agent: "test" };
    // A deadline already past: the first poll finds it elapsed (1 ns was rounded up to the
    // timer's millisecond, and on a loaded machine the answer could arrive first).
    let late = kube.execute(&info, &get, &caller, (Duration::ZERO, 1 << 20)).await;
    assert!(matches!(late, Err(kubectl_sui::node::kube::KubeFailure::Timeout(_))), "{late:?}");
    assert_eq!(late.unwrap_err().to_status().status, 504);

    let user = setup.requester(Role::Edit, 2 * SUI).await;
    let listed = user.call(&request("GET", "/api/v1/namespaces/kube-system/configmaps", "")).await;
    let listed = listed.unwrap();
    assert_eq!(listed.status, 507, "{}", String::from_utf8_lossy(&listed.body));
    assert!(String::from_utf8_lossy(&listed.body).contains("larger than the 2048 bytes"));
    setup.plane.kubectl(&["create", "configmap", "tiny", "--from-literal=k=v"]).unwrap();

    // Take every gas coin from under the node: it says it is not ready, and why.
    let node = kubectl_sui::node::keys::NodeKeys::load_or_create(setup.node_dir()).unwrap();
    let mut client = ChainClient::new(&setup.devnet.grpc_url(), package_id()).unwrap();
    let sink = address(&fixtures::new_key());
    tokio::time::sleep(Duration::from_millis(500)).await;
    for coin in client.gas_coins(node.address()).await.unwrap() {
        let mut tx = TransactionBuilder::new();
        let to = tx.pure(&sink);
        let gas_arg = tx.gas();
        tx.transfer_objects(vec![gas_arg], to);
        client.execute(tx, &node.signing, coin).await.unwrap();
    }
    let pending = tokio::spawn({
        let get = request("GET", "/api/v1/namespaces/default/configmaps/tiny", "");
        async move { user.call(&get).await }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let reason = loop {
        let (code, text) = metrics(addr, "/readyz").await;
        if code == 503 {
            break text;
        }
        assert!(Instant::now() < deadline, "the node never said it cannot pay");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(reason.contains("no gas coin") && reason.contains("send it SUI"), "{reason}");
    // Funded again, it finds the coin by itself and answers.
    fixtures::faucet(&setup.devnet).request(node.address()).await.unwrap();
    let answered = pending.await.unwrap().expect("answered once funded");
    assert_eq!(answered.status, 200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics(addr, "/readyz").await != (200, "ok".into()) {
        assert!(Instant::now() < deadline, "ready again once it has gas");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `level` GETs at once through the proxy of `user`'s kubeconfig (one HTTP/2 client, as
/// kubectl's informers make them); their statuses.
async fn burst(user: &crate::kubectl::User, level: usize) -> Vec<u16> {
    let client = proxy_client(user).await;
    let calls = (0..level).map(|_| {
        let client = client.clone();
        async move {
            let request = http::Request::get(format!("{CONFIGMAPS}/kube-root-ca.crt")).body(Vec::new()).unwrap();
            match client.request_text(request).await {
                Ok(_) => 200,
                Err(kube::Error::Api(status)) => status.code,
                Err(e) => panic!("{e}"),
            }
        }
    });
    futures::future::join_all(calls).await
}

/// A `kube` client from `user`'s kubeconfig: to the proxy, with the exec entry login wrote
/// (which carries the user's home for the credential command).
async fn proxy_client(user: &crate::kubectl::User) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(user.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// The proxy of `user` in the foreground with `--max-in-flight max`, once it listens, and
/// where it serves its metrics (`--metrics-addr 127.0.0.1:0`, as `kubectl sui status` shows).
fn proxy(user: &crate::kubectl::User, max: u16) -> (std::process::Child, std::net::SocketAddr) {
    let mut command = user.command(env!("CARGO_BIN_EXE_kubectl-sui"));
    command
        .args(["proxy", "--max-in-flight", &max.to_string(), "--metrics-addr", "127.0.0.1:0"])
        .stdout(std::process::Stdio::null());
    let child = command.spawn().unwrap();
    let started = |dir: &std::fs::DirEntry| {
        std::fs::read_to_string(dir.path().join("proxy.pid")).is_ok_and(|p| p.trim() == child.id().to_string())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let dir = loop {
        let dirs = std::fs::read_dir(user.home().join("data/proxy")).into_iter().flatten().flatten();
        if let Some(dir) = dirs.into_iter().find(started) {
            break dir;
        }
        assert!(Instant::now() < deadline, "the proxy did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let addr = std::fs::read_to_string(dir.path().join("metrics.addr")).unwrap();
    let status = user.sui(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains(&format!("metrics http://{}/metrics", addr.trim())), "{status}");
    (child, addr.trim().parse().unwrap())
}

fn stop(mut proxy: std::process::Child) {
    let pid = nix::unistd::Pid::from_raw(proxy.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    proxy.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_from_kubectl_waits_in_the_proxy_instead_of_drawing_the_nodes_429() {
    let setup = setup().await;
    let mut config = setup.node_config();
    config.limits.max_open_per_requester = 3;
    let (_node, addr) = setup.start_node_serving_metrics(config).await;
    let user = crate::kubectl::User::new();
    user.login(&setup, setup.cluster, &[]);
    let refused =
        async || metric(&metrics(addr, "/metrics").await.1, "nautilus_refusals_total{cause=\"too_many_open\"}");

    // Within the node's share: twelve at once all wait their turn in the proxy, which says so
    // in its own metrics.
    let (within, proxy_addr) = proxy(&user, 3);
    let statuses = burst(&user, 12).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(refused().await, 0.0, "the proxy kept to the node's share");
    let proxy_metric = async |name: &str| crate::streams::metric(proxy_addr, name).await;
    assert!(proxy_metric("kubectl_sui_proxy_slot_waits_total").await >= 1.0, "the burst waited for slots");
    assert_eq!(proxy_metric("kubectl_sui_proxy_requests_total{code=\"200\"}").await, 12.0);
    assert_eq!(proxy_metric("kubectl_sui_proxy_in_flight ").await, 0.0, "nothing left on chain");
    assert_eq!(proxy_metric("kubectl_sui_proxy_waiting ").await, 0.0, "nothing left waiting");
    // A body past the proxy's `max_body` (8 MiB) is refused with 413 before anything is paid,
    // and counted against its limit.
    let client = proxy_client(&user).await;
    let huge = http::Request::put(format!("{CONFIGMAPS}/huge")).body(vec![b' '; 9 << 20]).unwrap();
    // The proxy answers from the announced length and closes, so the client may still be
    // writing the body when the answer comes (a broken pipe): refused either way, and the
    // refusal is counted.
    match client.request_text(huge).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 413, "{status:?}"),
        Err(kube::Error::Service(_) | kube::Error::HyperError(_)) => {}
        other => panic!("a 9 MiB body must be refused: {other:?}"),
    }
    assert_eq!(proxy_metric("kubectl_sui_proxy_refusals_total{limit=\"too_large\"}").await, 1.0);
    stop(within);

    // Control: a proxy allowed more than the node's share draws its refusals, and never waits.
    let (beyond, proxy_addr) = proxy(&user, 12);
    let _ = burst(&user, 12).await;
    assert!(refused().await >= 1.0, "past its share, the node refuses");
    assert_eq!(crate::streams::metric(proxy_addr, "kubectl_sui_proxy_slot_waits_total").await, 0.0);
    stop(beyond);
    // The refused body never reached the API server: it ran only what the chain approved.
    setup.cluster_ran_only_what_the_chain_approved().await;
}
