//! Node benchmark: requests a single `nautilus` process sustains, and its own overhead per
//! request, against the API server's latency for the same call in the same run.
//!
//! Starts a real control plane (built from its Go modules on first use), the devnet, and
//! `nautilus run` as a separate process (release build of this package), then has 1, 8 and 32
//! requesters send `GET configmap` through the chain for `BENCH_SECONDS` (default 5) each.
//! Reported: end-to-end round trips per second and latency through the chain; the same GET
//! sent straight to the API server as the same impersonated user, at the same concurrency
//! (the direct path); the node's overhead (a complete request
//! seen on chain → its response on chain, minus the Kubernetes call) from its own metrics; and
//! the node's resident memory after each level. Then a run under attack: one requester keeps
//! 32 free reads in flight (year-long watches, followed logs, lists) while 8 others measure,
//! against the same 8 alone.
//!
//! Run: `cargo bench --bench node`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kubectl_sui::chain::ChainClient;
use kubectl_sui::contract::Role;
use kubectl_sui::controlplane::{ControlPlane, ControlPlaneSpec};
use kubectl_sui::devnet::{Devnet, DevnetConfig, package_id};
use kubectl_sui::envelope::{RequestEnvelope, RequestInfo};
use kubectl_sui::node::kube::{Caller, KubeApi, impersonated_groups};
use kubectl_sui::proxy::{Reply, RoundTrip};

#[path = "../tests/fixtures.rs"]
mod fixtures;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A histogram's quantile from Prometheus text, by linear interpolation inside its bucket.
fn metric_quantile(text: &str, name: &str, q: f64) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    let total = buckets.last()?.1;
    let rank = q * total;
    let mut previous = (0.0, 0.0);
    for (le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return Some(previous.0);
            }
            let fraction = if count > previous.1 { (rank - previous.1) / (count - previous.1) } else { 1.0 };
            return Some(previous.0 + (le - previous.0) * fraction);
        }
        previous = (le, count);
    }
    None
}

/// Each of `requesters` sends `get` in a loop for `seconds`; every latency, sorted.
async fn load(requesters: &[Arc<RoundTrip>], get: &RequestEnvelope, seconds: u64) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = requesters
        .iter()
        .map(|r| {
            let (r, get) = (r.clone(), get.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    assert_eq!(r.call(&get).await.unwrap().status, 200);
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let bin_dir = kubectl_sui::controlplane::build::ensure(&mut |p| eprintln!("control plane: {p:?}")).unwrap();
    let plane_dir = tempfile::tempdir().unwrap();
    let plane =
        ControlPlane::start(&ControlPlaneSpec { bin_dir, work_dir: plane_dir.path().into(), nodes: 1 }).unwrap();
    plane
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: sui-view}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: \"sui:view\"}]\n",
        )
        .unwrap();
    plane.kubectl(&["create", "configmap", "bench", "--from-literal=k=v"]).unwrap();

    let chain_dir = tempfile::tempdir_in(".").unwrap();
    let devnet = Devnet::start(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faucet_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: chain_dir.path().into(),
        checkpoint_interval: kubectl_sui::devnet::DEFAULT_CHECKPOINT_INTERVAL,
        finality: bench_finality(),
    })
    .await
    .unwrap();
    let faucet = fixtures::faucet(&devnet);
    let fixtures::ClusterWithNode { mut client, cluster, node_dir, .. } =
        fixtures::cluster_with_node(&devnet, &fixtures::policy(0, Role::View)).await;
    let cluster_arg = client.object_arg(cluster).await.unwrap();

    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = std::net::SocketAddr::from(([127, 0, 0, 1], metrics_port));
    let mut node = fixtures::nautilus_run(&devnet, cluster, node_dir.path(), plane.kubeconfig(), listen)
        .spawn()
        .expect("the nautilus binary of this package");

    let levels = [1usize, 8, 32];
    let mut requesters = Vec::new();
    // The last one is the attacker of the run under attack.
    for _ in 0..*levels.iter().max().unwrap() + 1 {
        let key = fixtures::funded(&faucet).await;
        let (token, _) = fixtures::stake(&mut client, &key, cluster_arg, Role::View, 0).await;
        let chain = ChainClient::new(&devnet.grpc_url(), package_id()).unwrap();
        requesters
            .push(Arc::new(RoundTrip::connect(chain, key, cluster, token, Duration::from_secs(30)).await.unwrap()));
    }
    let get = RequestEnvelope {
        method: "GET".into(),
        path: "/api/v1/namespaces/default/configmaps/bench".into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: vec![],
    };
    let attacker = requesters.pop().expect("an attacker");
    let kube = KubeApi::connect(Some(plane.kubeconfig())).await.unwrap();
    // Warm up the node (first request also loads the token's role).
    for r in &requesters {
        assert_eq!(r.call(&get).await.unwrap().status, 200);
    }

    println!(
        "| concurrency | through chain req/s | p50 ms | p99 ms | direct GET p50 ms | direct p99 ms | p50 ratio | node RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for level in levels {
        let all = load(&requesters[..level], &get, seconds).await;
        // The direct path, right after: the same GET, as the same impersonated user, from as
        // many concurrent clients straight to the API server.
        let direct_deadline = Instant::now() + Duration::from_secs(2);
        let direct_tasks: Vec<_> = (0..level)
            .map(|_| {
                let (kube, get) = (kube.clone(), get.clone());
                tokio::spawn(async move {
                    let groups = impersonated_groups(Role::View);
                    let info = RequestInfo::parse(&get.method, &get.path).unwrap();
                    let mut latencies = Vec::new();
                    while Instant::now() < direct_deadline {
                        let start = Instant::now();
                        assert_eq!(
                            kube.execute(
                                &info,
                                &get,
                                &Caller { user: "sui:bench", groups: &groups, user_agent: "bench" },
                                (Duration::from_secs(60), 1 << 26)
                            )
                            .await
                            .unwrap()
                            .status,
                            200
                        );
                        latencies.push(start.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut direct = Vec::new();
        for t in direct_tasks {
            direct.extend(t.await.unwrap());
        }
        direct.sort();
        let (p50, p99) = (percentile(&all, 0.5), percentile(&all, 0.99));
        println!(
            "| {level} | {:.1} | {} | {} | {} | {} | {:.1}x | {:.0} |",
            all.len() as f64 / seconds as f64,
            ms(p50),
            ms(p99),
            ms(percentile(&direct, 0.5)),
            ms(percentile(&direct, 0.99)),
            p50.as_secs_f64() / percentile(&direct, 0.5).as_secs_f64(),
            rss_mib(node.id())
        );
    }
    // Under attack: one requester keeps 32 free reads in flight (year-long watches, followed
    // logs, lists) while 8 others measure, against the same 8 without the flood.
    let quiet = load(&requesters[..8], &get, seconds).await;
    let flooding = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let attack: Vec<_> = (0..32)
        .map(|i| {
            let (attacker, flooding) = (attacker.clone(), flooding.clone());
            tokio::spawn(async move {
                let mut answered = std::collections::BTreeMap::<u16, usize>::new();
                let path = match i % 3 {
                    0 => "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=31536000",
                    1 => "/api/v1/namespaces/default/pods/x/log?follow=true",
                    _ => "/api/v1/namespaces/default/configmaps",
                };
                let envelope = RequestEnvelope {
                    method: "GET".into(),
                    path: path.into(),
                    headers: vec![("accept".into(), "application/json".into())],
                    body: vec![],
                };
                // Streams the node grants are held open (what an attacker wants), and hung
                // up when the flood stops; past the node's stream limits, each is a 429.
                let info = RequestInfo::parse(&envelope.method, &envelope.path).unwrap();
                let mut held = Vec::new();
                while flooding.load(std::sync::atomic::Ordering::Relaxed) {
                    match attacker.exchange(&envelope, info.attributes()).await {
                        Ok(Reply::Response(r)) => *answered.entry(r.status).or_default() += 1,
                        Ok(Reply::Stream(s)) => {
                            *answered.entry(s.status).or_default() += 1;
                            held.push(s.request);
                        }
                        Err(_) => {}
                    }
                }
                for request in held {
                    let _ = attacker.hang_up(request).await;
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attacked = load(&requesters[..8], &get, seconds).await;
    flooding.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut refused = std::collections::BTreeMap::<u16, usize>::new();
    for t in attack {
        for (status, n) in t.await.unwrap() {
            *refused.entry(status).or_default() += n;
        }
    }
    println!();
    println!("| 8 well-behaved requesters | p50 ms | p99 ms | req/s |");
    println!("|---|---|---|---|");
    for (label, run) in [("alone", &quiet), ("one requester flooding", &attacked)] {
        println!(
            "| {label} | {} | {} | {:.1} |",
            ms(percentile(run, 0.5)),
            ms(percentile(run, 0.99)),
            run.len() as f64 / seconds as f64
        );
    }
    println!(
        "\nunder attack / alone: p50 {:.2}x, p99 {:.2}x; the flood's answers by status: {refused:?}",
        percentile(&attacked, 0.5).as_secs_f64() / percentile(&quiet, 0.5).as_secs_f64(),
        percentile(&attacked, 0.99).as_secs_f64() / percentile(&quiet, 0.99).as_secs_f64()
    );

    let text = reqwest::get(format!("http://127.0.0.1:{metrics_port}/metrics")).await.unwrap().text().await.unwrap();
    let q = |name: &str, p: f64| {
        metric_quantile(&text, name, p).map(|s| format!("{:.2}", s * 1000.0)).unwrap_or("?".into())
    };
    println!();
    println!(
        "node, complete request seen → response on chain: p50 {} ms, p99 {} ms; of which the Kubernetes call: p50 {} ms, p99 {} ms (from its histograms)",
        q("nautilus_request_seconds", 0.5),
        q("nautilus_request_seconds", 0.99),
        q("nautilus_kube_seconds", 0.5),
        q("nautilus_kube_seconds", 0.99)
    );
    node.kill().unwrap();
    node.wait().unwrap();
    devnet.shutdown().await.unwrap();
}

/// `$BENCH_FINALITY_MS`: the devnet's delay from commit to checkpoint (0: the devnet's own
/// on-demand checkpoints; 400: a public network's finality).
fn bench_finality() -> std::time::Duration {
    std::time::Duration::from_millis(std::env::var("BENCH_FINALITY_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(0))
}
