//! Devnet benchmark: `ExecuteTransaction` throughput and latency for contract calls
//! (`request::submit`, read verb, one per transaction) at concurrency 1, 16 and 64, with the
//! journal on disk (fsync'd group commits), and checkpoint delivery latency to a subscriber.
//! Each figure is set against the direct path in the same run: a `GetServiceInfo` round trip
//! over the same gRPC connection, the floor any call pays.
//!
//! Run: `cargo bench --bench devnet` (prints a Markdown table; `docs/benchmarks.md` holds the
//! last run). `BENCH_SECONDS` sets the time per concurrency level (default 5).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kubectl_sui::chain::ChainClient;
use kubectl_sui::contract::calls::Submission;
use kubectl_sui::contract::{Contract, ObjectArg, Role, Verb};
use kubectl_sui::devnet::{Devnet, DevnetConfig, package_id};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Digest, ObjectReference};
use sui_transaction_builder::TransactionBuilder;

#[path = "../tests/fixtures.rs"]
mod fixtures;

struct Worker {
    key: Ed25519PrivateKey,
    gas: ObjectReference,
    token: ObjectArg,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let data = tempfile::tempdir_in(".").expect("a data directory on this disk");
    let devnet = Devnet::start(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faucet_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        checkpoint_interval: Duration::from_millis(100),
        finality: std::time::Duration::ZERO,
    })
    .await
    .unwrap();
    let url = devnet.grpc_url();
    let contract = Contract::new(package_id());
    let faucet = sui_rpc::faucet::FaucetClient::new(format!("{}/", devnet.faucet_url())).unwrap();
    let mut client = ChainClient::new(&url, package_id()).unwrap();

    // One cluster and node; one key, gas coin and view token per worker.
    let admin = fixtures::funded(&faucet).await;
    let node = fixtures::new_key();
    let addr = fixtures::address;
    let (cluster_id, cap_id) = fixtures::create_cluster(&mut client, &admin, &fixtures::policy(0, Role::View)).await;
    fixtures::register_node(&mut client, &admin, (cluster_id, cap_id), &node, &[7; 32]).await;
    let cluster = client.object_arg(cluster_id).await.unwrap();

    let levels = [1usize, 16, 64];
    let mut workers = Vec::new();
    for _ in 0..*levels.iter().max().unwrap() {
        let key = fixtures::funded(&faucet).await;
        let gas_id = *client.gas_coins(addr(&key)).await.unwrap()[0].object_id();
        let (token_id, staked) = fixtures::stake(&mut client, &key, cluster, Role::View, 0).await;
        let token = client.object_arg(token_id).await.unwrap();
        workers.push(Worker { gas: staked.written(gas_id).unwrap(), key, token });
    }

    // Checkpoint delivery: when each digest was acknowledged, and when a subscriber saw it.
    let acked: Arc<Mutex<HashMap<Digest, Instant>>> = Arc::default();
    let delivered: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let mut request = proto::SubscribeCheckpointsRequest::default();
    request.read_mask = Some(prost_types::FieldMask { paths: vec!["transactions.digest".into()] });
    let mut stream = client.rpc().subscription_client().subscribe_checkpoints(request).await.unwrap().into_inner();
    let (acked_sub, delivered_sub) = (acked.clone(), delivered.clone());
    tokio::spawn(async move {
        while let Some(Ok(item)) = stream.next().await {
            let now = Instant::now();
            for t in item.checkpoint.map(|c| c.transactions).unwrap_or_default() {
                let digest = t.digest.and_then(|d| d.parse::<Digest>().ok());
                if let Some(at) = digest.and_then(|d| acked_sub.lock().unwrap().remove(&d)) {
                    delivered_sub.lock().unwrap().push(now - at);
                }
            }
        }
    });

    println!("| concurrency | tx/s | p50 ms | p99 ms | GetServiceInfo p50 ms | p50 ratio |");
    println!("|---|---|---|---|---|---|");
    let mut workers: Vec<Option<Worker>> = workers.into_iter().map(Some).collect();
    for level in levels {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for slot in workers.iter_mut().take(level) {
            let mut w = slot.take().unwrap();
            let (url, acked) = (url.clone(), acked.clone());
            let node_addr = addr(&node);
            tasks.push(tokio::spawn(async move {
                let mut client = ChainClient::new(&url, package_id()).unwrap();
                let mut latencies = Vec::new();
                let mut floor = Vec::new();
                while Instant::now() < deadline {
                    let mut tx = TransactionBuilder::new();
                    let submission = Submission {
                        node: node_addr,
                        sealing_key: vec![7; 32],
                        reply_key: vec![9; 32],
                        verb: Verb::Get,
                        group: String::new(),
                        resource: "pods".into(),
                        namespace: "default".into(),
                        name: String::new(),
                        body_len: 0,
                        body_digest: [0; 32],
                        chunk_count: 0,
                        chunks: vec![],
                    };
                    contract.submit(&mut tx, cluster, w.token, &submission).unwrap();
                    let gas_id = *w.gas.object_id();
                    let start = Instant::now();
                    let executed = client.execute(tx, &w.key, w.gas.clone()).await.unwrap();
                    let took = start.elapsed();
                    acked.lock().unwrap().insert(executed.digest, Instant::now());
                    latencies.push(took);
                    w.gas = executed.written(gas_id).unwrap();
                    let start = Instant::now();
                    client.chain_id().await.unwrap();
                    floor.push(start.elapsed());
                }
                (w, latencies, floor)
            }));
        }
        let mut all = Vec::new();
        let mut floors = Vec::new();
        let mut returned = Vec::new();
        for t in tasks {
            let (w, l, f) = t.await.unwrap();
            returned.push(w);
            all.extend(l);
            floors.extend(f);
        }
        for (slot, w) in workers.iter_mut().zip(returned) {
            *slot = Some(w);
        }
        all.sort();
        floors.sort();
        let tps = all.len() as f64 / seconds as f64;
        let (p50, p99, f50) = (percentile(&all, 0.5), percentile(&all, 0.99), percentile(&floors, 0.5));
        println!(
            "| {level} | {tps:.0} | {} | {} | {} | {:.1}x |",
            ms(p50),
            ms(p99),
            ms(f50),
            p50.as_secs_f64() / f50.as_secs_f64()
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut d = delivered.lock().unwrap().clone();
    d.sort();
    println!();
    println!(
        "checkpoint delivery to a subscriber after acknowledgement ({} transactions, 100 ms checkpoint interval): p50 {} ms, p99 {} ms",
        d.len(),
        ms(percentile(&d, 0.5)),
        ms(percentile(&d, 0.99))
    );
    let journal = std::fs::metadata(data.path().join("ledger.journal")).map(|m| m.len()).unwrap_or(0);
    println!("journal size: {:.1} MiB", journal as f64 / (1024.0 * 1024.0));
    devnet.shutdown().await.unwrap();
}
