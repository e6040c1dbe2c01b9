//! Watch benchmark: the latency from an object change on the API server to the watcher
//! reading it, through the chain against a direct watch in the same run, and what a busy
//! watch costs on chain.
//!
//! Starts a real control plane, the devnet (`BENCH_FINALITY_MS` of finality, default 0) and
//! a node in this process, opens one watch on a config map through the chain (the proxy's
//! round trip) and one straight to the API server as the same impersonated user, then patches
//! the config map `BENCH_CHANGES` times (default 200, 20 ms apart) and times each change from
//! the patch being sent to each watcher reading its event. Reported: p50 and p99 of both, the
//! added latency, and the frames, bytes and gas per minute of the watch through the chain.
//!
//! Run: `cargo bench --bench watch`.

use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use kubectl_sui::contract::Role;
use kubectl_sui::controlplane::{ControlPlane, ControlPlaneSpec};
use kubectl_sui::devnet::{Devnet, DevnetConfig};
use kubectl_sui::envelope::{RequestEnvelope, RequestInfo};
use kubectl_sui::node;
use kubectl_sui::node::kube::{Caller, KubeApi, impersonated_groups};
use kubectl_sui::proxy::{Reply, RoundTrip, StreamItem};
use tokio::sync::mpsc;

#[path = "../tests/fixtures.rs"]
mod fixtures;

const PATH: &str = "/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dbench";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Sends the `data.k` value of every MODIFIED event found in `bytes` (JSON lines).
fn forward(partial: &mut Vec<u8>, bytes: &[u8], seen: &mpsc::UnboundedSender<(u64, Instant)>) {
    partial.extend_from_slice(bytes);
    while let Some(end) = partial.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = partial.drain(..=end).collect();
        let Ok(event) = serde_json::from_slice::<serde_json::Value>(&line) else { continue };
        if event["type"] == "MODIFIED"
            && let Some(k) = event["object"]["data"]["k"].as_str().and_then(|k| k.parse().ok())
        {
            let _ = seen.send((k, Instant::now()));
        }
    }
}

async fn metric(addr: std::net::SocketAddr, name: &str) -> f64 {
    let text = reqwest::get(format!("http://{addr}/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()?.parse().ok()).unwrap_or(0.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let changes: u64 = std::env::var("BENCH_CHANGES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let finality =
        Duration::from_millis(std::env::var("BENCH_FINALITY_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(0));
    let bin_dir = kubectl_sui::controlplane::build::ensure(&mut |p| eprintln!("control plane: {p:?}")).unwrap();
    let plane_dir = tempfile::tempdir().unwrap();
    let plane =
        ControlPlane::start(&ControlPlaneSpec { bin_dir, work_dir: plane_dir.path().into(), nodes: 1 }).unwrap();
    plane.kubectl_stdin(&["apply", "-f", "-"], kubectl_sui::node::kube::GROUP_BINDINGS).unwrap();
    plane.kubectl(&["create", "configmap", "bench", "--from-literal=k=0"]).unwrap();

    let chain_dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faucet_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: chain_dir.path().into(),
        checkpoint_interval: kubectl_sui::devnet::DEFAULT_CHECKPOINT_INTERVAL,
        finality,
    })
    .await
    .unwrap();
    let faucet = fixtures::faucet(&devnet);
    let fixtures::ClusterWithNode { mut client, cluster, node_dir, keys, .. } =
        fixtures::cluster_with_node(&devnet, &fixtures::policy(0, Role::View)).await;
    let (bound, metrics) = tokio::sync::oneshot::channel();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    let config = fixtures::node_config(&devnet, cluster, node_dir.path(), plane.kubeconfig(), 8);
    tokio::spawn(node::run(config, stopped, Some(bound)));
    let metrics = metrics.await.unwrap();

    let key = fixtures::funded(&faucet).await;
    let cluster_arg = client.object_arg(cluster).await.unwrap();
    let (token, _) = fixtures::stake(&mut client, &key, cluster_arg, Role::View, 0).await;
    let trip = RoundTrip::connect(client.clone(), key, cluster, token, Duration::from_secs(30)).await.unwrap();

    let envelope = RequestEnvelope {
        method: "GET".into(),
        path: PATH.into(),
        headers: vec![("accept".into(), "application/json".into())],
        body: vec![],
    };
    let info = RequestInfo::parse("GET", PATH).unwrap();
    let Reply::Stream(mut chain_watch) = trip.exchange(&envelope, info.attributes()).await.unwrap() else {
        panic!("the watch is a stream")
    };
    let watch_id = chain_watch.request;
    let (chain_tx, mut chain_seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut partial = Vec::new();
        while let Some(Ok(StreamItem::Data(bytes))) = chain_watch.next().await {
            forward(&mut partial, &bytes, &chain_tx);
        }
    });
    let kube = KubeApi::connect(Some(plane.kubeconfig())).await.unwrap();
    let groups = impersonated_groups(Role::View);
    let caller = Caller { user: "sui:bench", groups: &groups, user_agent: "bench" };
    let direct = kube.open(&info, &envelope, &caller, Duration::from_secs(30)).await.unwrap();
    let (direct_tx, mut direct_seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut body = direct.into_body();
        let mut partial = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(bytes) = frame.into_data() {
                forward(&mut partial, &bytes, &direct_tx);
            }
        }
    });

    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = kube::Api::namespaced(kube.client(), "default");
    let node_address = keys.address();
    let (frames0, bytes0) =
        (metric(metrics, "nautilus_stream_frames_total").await, metric(metrics, "nautilus_stream_bytes_total").await);
    let balance0 = client.balance(node_address).await.unwrap();
    let started = Instant::now();
    let (mut through_chain, mut straight) = (Vec::new(), Vec::new());
    for k in 1..=changes {
        let patch = serde_json::json!({"data": {"k": k.to_string()}});
        let sent = Instant::now();
        configmaps.patch("bench", &kube::api::PatchParams::default(), &kube::api::Patch::Merge(&patch)).await.unwrap();
        for (seen, latencies) in [(&mut chain_seen, &mut through_chain), (&mut direct_seen, &mut straight)] {
            loop {
                let (got, at) = tokio::time::timeout(Duration::from_secs(30), seen.recv())
                    .await
                    .expect("a watcher stalled")
                    .expect("a watcher ended");
                if got == k {
                    latencies.push(at.duration_since(sent));
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let frames = metric(metrics, "nautilus_stream_frames_total").await - frames0;
    let bytes = metric(metrics, "nautilus_stream_bytes_total").await - bytes0;
    let gas = balance0.saturating_sub(client.balance(node_address).await.unwrap());
    through_chain.sort();
    straight.sort();
    let added: Vec<Duration> = {
        let mut a: Vec<Duration> = through_chain.iter().zip(&straight).map(|(c, d)| c.saturating_sub(*d)).collect();
        a.sort();
        a
    };
    println!("changes: {changes}, finality: {} ms", finality.as_millis());
    println!("| watch | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!("| direct (API server) | {} | {} |", ms(percentile(&straight, 0.5)), ms(percentile(&straight, 0.99)));
    println!(
        "| through the chain | {} | {} |",
        ms(percentile(&through_chain, 0.5)),
        ms(percentile(&through_chain, 0.99))
    );
    println!(
        "| added (p50 of the per-quantile difference) | {} | {} |",
        ms(percentile(&added, 0.5)),
        ms(percentile(&through_chain, 0.99).saturating_sub(percentile(&straight, 0.99)))
    );
    println!(
        "ratio p50: {:.2}x; busy watch per minute: {:.0} frames, {:.0} KiB, {:.4} SUI of node gas",
        percentile(&through_chain, 0.5).as_secs_f64() / percentile(&straight, 0.5).as_secs_f64(),
        frames / minutes,
        bytes / 1024.0 / minutes,
        gas as f64 / 1e9 / minutes
    );
    let _ = trip.hang_up(watch_id).await;
}
