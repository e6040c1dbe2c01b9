//! Watches and followed logs through the chain: a stream opened once by the contract, carried
//! in sealed numbered frames, and ended on chain by each of its causes (the API server, the
//! requester hanging up, a revoked token, a node limit, a node restart); then real kubectl
//! (`get -w`, `logs -f`, `rollout status`, `wait`) and Helm (`install --wait`) through the whole
//! path.

use std::io::BufRead;
use std::time::{Duration, Instant};

use kubectl_sui::contract::{EndReason, Role};
use kubectl_sui::proxy::{OpenStream, Reply, StreamItem};

use crate::fixtures::SUI;
use crate::kubectl::User;
use crate::node::{Requester, request, setup};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

/// The node's metric `name` (a line's start), 0 when absent.
pub(crate) async fn metric(addr: std::net::SocketAddr, name: &str) -> f64 {
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0)
}

/// Waits until the node's metric `name` satisfies `want` (within 60 s).
pub(crate) async fn until_metric(addr: std::net::SocketAddr, name: &str, want: impl Fn(f64) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !want(metric(addr, name).await) {
        assert!(Instant::now() < deadline, "{name} = {}", metric(addr, name).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open(user: &Requester, path: &str) -> OpenStream {
    let info = kubectl_sui::envelope::RequestInfo::parse("GET", path).unwrap();
    match user.exchange(&request("GET", &info.uri(), ""), info.attributes()).await.unwrap() {
        Reply::Stream(stream) => *stream,
        Reply::Response(r) => panic!("not a stream: {} {}", r.status, String::from_utf8_lossy(&r.body)),
    }
}

/// Reads the stream until `until` holds for the watch events read so far (or it ends).
async fn events_until(
    stream: &mut OpenStream,
    seen: &mut Vec<(String, String)>,
    until: impl Fn(&[(String, String)]) -> bool,
) -> Option<(Option<EndReason>, u32)> {
    let mut partial = Vec::new();
    while !until(seen) {
        let item = tokio::time::timeout(Duration::from_secs(30), stream.next()).await.expect("stream stalled");
        match item.expect("stream open").unwrap() {
            StreamItem::Data(bytes) => {
                partial.extend_from_slice(&bytes);
                while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=end).collect();
                    let event: serde_json::Value = serde_json::from_slice(&line).unwrap();
                    let name = event["object"]["metadata"]["name"].as_str().unwrap_or("").to_string();
                    seen.push((event["type"].as_str().unwrap().to_string(), name));
                }
            }
            StreamItem::End { reason, frames } => return Some((reason, frames)),
            other => panic!("a watch carries no session frames: {other:?}"),
        }
    }
    None
}

async fn end_of(stream: &mut OpenStream) -> (Option<EndReason>, u32) {
    let mut seen = Vec::new();
    events_until(stream, &mut seen, |_| false).await.expect("an end")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_watch_sees_every_change_in_order_and_ends_on_chain_for_each_cause() {
    let setup = setup().await;
    let (_node, addr) = setup.start_node_serving_metrics(setup.node_config()).await;
    let user = setup.requester(Role::Edit, 2 * SUI).await;

    // Changes made by another user, seen in order.
    let mut stream = open(&user, &format!("{CONFIGMAPS}?watch=true&fieldSelector=metadata.name%3Dwatched")).await;
    assert_eq!(stream.status, 200);
    assert!(stream.headers.iter().any(|(n, v)| n == "content-type" && v.starts_with("application/json")));
    setup.plane.kubectl(&["create", "configmap", "watched", "--from-literal=k=1"]).unwrap();
    setup.plane.kubectl(&["patch", "configmap", "watched", "-p", r#"{"data":{"k":"2"}}"#]).unwrap();
    setup.plane.kubectl(&["delete", "configmap", "watched"]).unwrap();
    let mut seen = Vec::new();
    let end = events_until(&mut stream, &mut seen, |s| s.iter().any(|(t, _)| t == "DELETED")).await;
    assert!(end.is_none(), "the stream ended early: {end:?}");
    let kinds: Vec<&str> = seen.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"], "{seen:?}");
    assert!(seen.iter().all(|(_, n)| n == "watched"));
    assert_eq!(metric(addr, "nautilus_streams_open").await, 1.0);

    // The requester hangs up: the request is gone from the chain and the node stops.
    let id = stream.request;
    user.hang_up(id).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(addr, "nautilus_streams_open").await != 0.0 {
        assert!(Instant::now() < deadline, "the node kept streaming after the hang-up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = kubectl_sui::chain::ChainClient::new(&setup.devnet.grpc_url(), kubectl_sui::devnet::package_id())
        .unwrap()
        .move_object::<kubectl_sui::contract::objects::Request>(id)
        .await;
    assert!(gone.is_err(), "the hung-up request is still on chain");
    assert_eq!(metric(addr, "nautilus_stream_ends_total{reason=\"client\"}").await, 1.0);

    // The API server ends it (timeoutSeconds): completed.
    let mut stream = open(&user, &format!("{CONFIGMAPS}?watch=true&timeoutSeconds=1")).await;
    let (reason, frames) = end_of(&mut stream).await;
    assert_eq!(reason, Some(EndReason::Completed));
    assert!(frames >= 1, "the head frame at least");

    // The admin downgrades the token to a role that may not watch secrets: that watch ends.
    let mut stream = open(&user, "/api/v1/namespaces/default/secrets?watch=true").await;
    setup.grant_role(user.token, Role::View).await;
    let started = Instant::now();
    assert_eq!(end_of(&mut stream).await.0, Some(EndReason::Token));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // The admin revokes the token mid-stream: the node ends it, naming the cause.
    let mut stream = open(&user, &format!("{CONFIGMAPS}?watch=true")).await;
    setup.revoke(user.token).await;
    let started = Instant::now();
    let (reason, _) = end_of(&mut stream).await;
    assert_eq!(reason, Some(EndReason::Token));
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    // The API server logs a watch when it ends: each of the three, as the chain approved it.
    setup.ran_once_done(|ran| ran.iter().filter(|e| e.verb == "watch").count() >= 3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn node_limits_end_streams_and_a_stop_or_a_restart_ends_those_left_open() {
    let setup = setup().await;
    let mut config = setup.node_config();
    config.limits.stream_max_secs = 2;
    config.limits.max_streams_per_requester = 1;
    let (stop, node) = setup.start_node_with(config.clone(), None);
    let user = setup.requester(Role::Edit, 2 * SUI).await;

    // One stream per requester: a second is answered 429, and the first ends at the limit.
    let mut first = open(&user, &format!("{CONFIGMAPS}?watch=true")).await;
    let info = kubectl_sui::envelope::RequestInfo::parse("GET", &format!("{CONFIGMAPS}?watch=true")).unwrap();
    let second = user.call_with_attributes(&request("GET", &info.uri(), ""), info.attributes()).await.unwrap();
    assert_eq!(second.status, 429, "{}", String::from_utf8_lossy(&second.body));
    assert!(second.headers.iter().any(|(n, _)| n == "retry-after"));
    let started = Instant::now();
    assert_eq!(end_of(&mut first).await.0, Some(EndReason::Limit));
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());

    // The node dies with a stream open (no end on chain); after a restart it ends it.
    let mut open_one = open(&user, &format!("{CONFIGMAPS}?watch=true")).await;
    node.abort();
    drop(stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut config = setup.node_config();
    config.from_checkpoint = None;
    let (stop, node) = setup.start_node_with(config, None);
    assert_eq!(end_of(&mut open_one).await.0, Some(EndReason::Node));

    // A node stopped on purpose ends its streams on chain before it exits.
    let mut open_two = open(&user, &format!("{CONFIGMAPS}?watch=true")).await;
    stop.send(true).unwrap();
    assert_eq!(end_of(&mut open_two).await.0, Some(EndReason::Node));
    node.await.unwrap().unwrap();
}

/// Reads kubectl's stdout lines on a thread, so a test can wait for a line with a deadline.
fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_and_helm_watch_follow_roll_out_and_wait_through_the_chain() {
    let setup = setup().await;
    let (_node, addr) = setup.start_node_serving_metrics(setup.node_config()).await;
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);

    // `kubectl get pods -w` sees a pod made by another user appear, run and disappear.
    let mut command = user.command(crate::util::kubectl());
    command.args([
        "get",
        "pods",
        "--watch",
        "--output-watch-events",
        "-o",
        "jsonpath={.type} {.object.metadata.name} {.object.status.phase}{\"\\n\"}",
    ]);
    let mut watch = command.spawn().unwrap();
    let lines = lines_of(&mut watch);
    let deadline = Instant::now() + Duration::from_secs(60);
    until_metric(addr, "nautilus_streams_open", |open| open >= 1.0).await;
    setup
        .plane
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c, image: busybox}]\n",
        )
        .unwrap();
    let wait = user.kubectl(&["wait", "--for=condition=Ready", "pod/p", "--timeout=60s"], "");
    assert!(wait.status.success(), "{}", String::from_utf8_lossy(&wait.stderr));
    assert_eq!(String::from_utf8_lossy(&wait.stdout), "pod/p condition met\n");
    // `kubectl logs -f` prints the log and every line added to it, in order.
    let mut command = user.command(crate::util::kubectl());
    command.args(["logs", "-f", "p"]);
    let mut follow = command.spawn().unwrap();
    let log = lines_of(&mut follow);
    let next = |what: &str| {
        log.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| panic!("kubectl logs -f printed no {what}"))
    };
    assert!(next("first line").starts_with("kwok container started"));
    next("second line");
    for i in 0..5 {
        let line = format!("line {i} through the chain");
        setup.plane.log_line(&line).unwrap();
        assert_eq!(next(&line), line);
    }
    follow.kill().unwrap();
    let _ = follow.wait();

    setup.plane.kubectl(&["delete", "pod", "p", "--grace-period=0", "--force"]).unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("DELETED p")) {
        let line = lines.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("kubectl printed");
        seen.push(line);
    }
    assert!(seen[0].starts_with("ADDED p"), "{seen:?}");
    assert!(seen.iter().any(|l| l == "MODIFIED p Running"), "{seen:?}");

    // Killing kubectl hangs its streams up on chain (the watch, and the followed log).
    let killed = Instant::now();
    watch.kill().unwrap();
    let _ = watch.wait();
    while metric(addr, "nautilus_streams_open").await != 0.0 {
        assert!(killed.elapsed() < Duration::from_secs(10), "the stream outlived kubectl");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metric(addr, "nautilus_stream_ends_total{reason=\"client\"}").await >= 2.0);

    // `kubectl rollout status` returns when the rollout completes.
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n";
    let applied = user.kubectl(&["apply", "-f", "-"], deployment);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    let rollout = user.kubectl(&["rollout", "status", "deployment/web", "--timeout=90s"], "");
    assert!(rollout.status.success(), "{}", String::from_utf8_lossy(&rollout.stderr));
    assert!(
        String::from_utf8_lossy(&rollout.stdout).contains("successfully rolled out"),
        "{}",
        String::from_utf8_lossy(&rollout.stdout)
    );

    // Helm installs a chart and waits for it to be ready, all through the chain.
    let chart = tempfile::tempdir().unwrap();
    std::fs::create_dir(chart.path().join("templates")).unwrap();
    std::fs::write(chart.path().join("Chart.yaml"), "apiVersion: v2\nname: shop\nversion: 0.1.0\n").unwrap();
    std::fs::write(
        chart.path().join("templates/deployment.yaml"),
        deployment.replace("name: web", "name: shop").replace("app: web", "app: shop"),
    )
    .unwrap();
    let helm_home = tempfile::tempdir().unwrap();
    let mut helm = user.command(crate::util::helm());
    helm.args(["install", "shop"])
        .arg(chart.path())
        .args(["--wait", "--timeout", "120s"])
        .env("HELM_CACHE_HOME", helm_home.path().join("cache"))
        .env("HELM_CONFIG_HOME", helm_home.path().join("config"))
        .env("HELM_DATA_HOME", helm_home.path().join("data"));
    let installed = User::run(helm, "");
    assert!(installed.status.success(), "helm install --wait: {}", String::from_utf8_lossy(&installed.stderr));
    assert!(String::from_utf8_lossy(&installed.stdout).contains("STATUS: deployed"));
    let ready = setup.plane.kubectl(&["get", "deployment", "shop", "-o", "jsonpath={.status.readyReplicas}"]).unwrap();
    assert_eq!(ready, "2");

    // One audit line per stream, with its frame count.
    let trail = user.audit();
    let streams: Vec<_> = trail.iter().filter(|r| r["outcome"]["kind"] == "streamed").collect();
    assert!(!streams.is_empty(), "{trail:#?}");
    assert!(streams.iter().any(|r| r["outcome"]["ended"] == "client" && r["outcome"]["frames"].as_u64() > Some(1)));
    setup.cluster_ran_only_what_the_chain_approved().await;

    // The admin revokes the token while kubectl watches: kubectl prints why, and stops.
    let status: serde_json::Value = serde_json::from_slice(&user.sui(&["status", "-o", "json"]).stdout).unwrap();
    let token: sui_sdk_types::Address = status["logins"][0]["token"].as_str().unwrap().parse().unwrap();
    let open_before = metric(addr, "nautilus_streams_open").await;
    let mut command = user.command(crate::util::kubectl());
    command.args(["get", "configmaps", "--watch"]);
    let watch = command.spawn().unwrap();
    until_metric(addr, "nautilus_streams_open", |open| open > open_before).await;
    setup.revoke(token).await;
    let ended = tokio::task::spawn_blocking(move || watch.wait_with_output()).await.unwrap().unwrap();
    // kubectl prints the watch's ERROR event as the API server's own: the Status, and ends.
    let said = String::from_utf8_lossy(&ended.stdout);
    assert!(said.contains("Forbidden") && said.contains(&format!("seal token {token} was revoked")), "{said}");
}

#[test]
fn helm_is_built_from_its_pinned_module() {
    let out = std::process::Command::new(crate::util::helm()).args(["version", "--short"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("v3.18"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_past_the_nodes_byte_limit_is_ended_and_sends_nothing_beyond_it() {
    let setup = setup().await;
    let mut config = setup.node_config();
    config.limits.stream_max_bytes = 64;
    let (_node, addr) = setup.start_node_serving_metrics(config).await;
    let user = setup.requester(Role::Edit, 2 * SUI).await;
    // The watch's first event (the existing kube-root-ca.crt config map) is over 64 bytes.
    let mut stream = open(&user, &format!("{CONFIGMAPS}?watch=true")).await;
    let (reason, frames) = end_of(&mut stream).await;
    assert_eq!(reason, Some(EndReason::Limit));
    assert_eq!(frames, 1, "only the head frame: nothing past the limit was sent");
    assert_eq!(metric(addr, "nautilus_stream_bytes_total").await, 0.0);
    setup.cluster_ran_only_what_the_chain_approved().await;
}
