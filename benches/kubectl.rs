//! The whole chain path against the direct path, in the same run: real kubectl (and a
//! `kube` client for throughput) through the local proxy → devnet → contract → node → API
//! server, against the same calls straight to the API server. Also: the proxy's memory,
//! transactions, bytes and gas on chain per kubectl command, envelope sizes with and without
//! compression, and the sealing cost per MiB.
//!
//! Run: `cargo bench --bench kubectl` (the control plane is built first, as `kubectl sui control-plane build` does;
//! `BENCH_RUNS` kubectl runs per command, default 20, twice that for `get pods`; `BENCH_SECONDS` per throughput level,
//! default 5).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kubectl_sui::chain::ChainClient;
use kubectl_sui::contract::Role;
use kubectl_sui::controlplane::{ControlPlane, ControlPlaneSpec};
use kubectl_sui::devnet::{Devnet, DevnetConfig};
use kubectl_sui::envelope::{Binding, PublicKey, ResponseEnvelope, Sealed, SecretKey};
use kubectl_sui::node;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, TransactionEffects};

#[path = "../tests/fixtures.rs"]
mod fixtures;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Sorts `(direct, chain)` times and gives their table cells: direct p50 and p99, chain p50
/// and p99, and the p50 ratio.
fn compared(times: &mut (Vec<Duration>, Vec<Duration>)) -> String {
    times.0.sort();
    times.1.sort();
    let p50 = |t: &[Duration]| percentile(t, 0.5);
    format!(
        "{} | {} | {} | {} | {:.2}×",
        ms(p50(&times.0)),
        ms(percentile(&times.0, 0.99)),
        ms(p50(&times.1)),
        ms(percentile(&times.1, 0.99)),
        p50(&times.1).as_secs_f64() / p50(&times.0).as_secs_f64()
    )
}

fn rss_mib(pid: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The kubectl built with the control plane, run with a user's home.
struct Kubectl<'a> {
    program: &'a Path,
    home: &'a Path,
}

impl Kubectl<'_> {
    fn run(&self, kubeconfig: &Path, args: &[&str], stdin: &str) -> Duration {
        use std::io::Write;
        let started = Instant::now();
        let mut child = Command::new(self.program)
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECTL_SUI_HOME", self.home)
            .env("KUBECTL_SUI_KEY_STORE", "file")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        started.elapsed()
    }

    /// The round trip of each of `count` typed lines through `kubectl exec -i pod -- cat`:
    /// from writing the line to reading its echo.
    fn keystrokes(&self, kubeconfig: &Path, pod: &str, count: usize) -> Vec<Duration> {
        use std::io::{BufRead, Write};
        let mut child = Command::new(self.program)
            .env("KUBECONFIG", kubeconfig)
            .env("KUBECTL_SUI_HOME", self.home)
            .env("KUBECTL_SUI_KEY_STORE", "file")
            .args(["exec", "-i", pod, "--", "cat"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut keys = child.stdin.take().unwrap();
        let mut echo = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut times = Vec::with_capacity(count);
        let mut line = String::new();
        // The first line also waits for the session to open: not counted.
        for i in 0..=count {
            let started = Instant::now();
            keys.write_all(format!("k{i}\n").as_bytes()).unwrap();
            keys.flush().unwrap();
            line.clear();
            echo.read_line(&mut line).unwrap();
            assert_eq!(line.trim_end(), format!("k{i}"));
            if i > 0 {
                times.push(started.elapsed());
            }
        }
        // kwok never closes an exec's stdin: the session ends with kubectl.
        let _ = child.kill();
        let _ = child.wait();
        times
    }
}

/// Transactions, their BCS bytes (transaction + events) and net gas in checkpoints `from..`.
async fn chain_cost(client: &mut ChainClient, from: u64) -> (usize, usize, i64) {
    let to = client.latest_checkpoint().await.unwrap();
    let mut request = proto::ListCheckpointsRequest::default();
    request.start_checkpoint = Some(from);
    request.end_checkpoint = Some(to);
    request.read_mask = Some(prost_types::FieldMask::from_str(
        "transactions.transaction.bcs,transactions.effects.bcs,transactions.events.bcs",
    ));
    let mut stream = client.rpc().ledger_client().list_checkpoints(request).await.unwrap().into_inner();
    let (mut txs, mut bytes, mut gas) = (0, 0, 0i64);
    while let Some(Ok(item)) = stream.next().await {
        for t in item.checkpoint.unwrap_or_default().transactions {
            txs += 1;
            bytes += t.transaction.and_then(|t| t.bcs).and_then(|b| b.value).map(|v| v.len()).unwrap_or(0);
            bytes += t.events.and_then(|e| e.bcs).and_then(|b| b.value).map(|v| v.len()).unwrap_or(0);
            if let Some(effects) =
                t.effects.and_then(|e| e.bcs).and_then(|b| b.deserialize::<TransactionEffects>().ok())
            {
                let g = effects.gas_summary();
                gas += (g.computation_cost + g.storage_cost) as i64 - g.storage_rebate as i64;
            }
        }
    }
    (txs, bytes, gas)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let seconds: u64 = std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let bin_dir = kubectl_sui::controlplane::build::ensure(&mut |p| eprintln!("control plane: {p:?}")).unwrap();
    let plane_dir = tempfile::tempdir().unwrap();
    let plane =
        ControlPlane::start(&ControlPlaneSpec { bin_dir, work_dir: plane_dir.path().into(), nodes: 2 }).unwrap();
    plane.kubectl_stdin(&["apply", "-f", "-"], node::kube::GROUP_BINDINGS).unwrap();
    plane.kubectl(&["create", "configmap", "bench", "--from-literal=k=v"]).unwrap();
    plane.kubectl(&["create", "deployment", "web", "--image=nginx", "--replicas=5"]).unwrap();

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
    let fixtures::ClusterWithNode { mut client, cluster, node_dir, .. } =
        fixtures::cluster_with_node(&devnet, &fixtures::policy(fixtures::SUI, Role::Edit)).await;
    // The node as its own process (the release `nautilus` of this package), so its memory and
    // CPU are measured apart from the devnet's and the load's in this process.
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let node = Child(
        fixtures::nautilus_run(&devnet, cluster, node_dir.path(), plane.kubeconfig(), metrics)
            .spawn()
            .expect("the nautilus binary of this package"),
    );
    let node_pid = node.0.id().to_string();

    let home = tempfile::tempdir().unwrap();
    let user_kubeconfig = home.path().join("kubeconfig");
    let login = Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .args(["login", "--cluster", &cluster.to_string(), "--network", &devnet.grpc_url()])
        .args(["--faucet", &devnet.faucet_url(), "--yes"])
        .env("KUBECONFIG", &user_kubeconfig)
        .env("KUBECTL_SUI_HOME", home.path())
        .env("KUBECTL_SUI_KEY_STORE", "file")
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", String::from_utf8_lossy(&login.stderr));
    let kubectl = Kubectl { program: plane.kubectl_path(), home: home.path() };
    let direct = plane.kubeconfig().to_path_buf();
    // Warm both paths (discovery caches, the proxy's start).
    for _ in 0..2 {
        kubectl.run(&user_kubeconfig, &["get", "pods"], "");
        kubectl.run(&direct, &["get", "pods"], "");
    }

    // The exec credential command as kubectl runs it before a process's first call: the
    // through-the-chain column pays it, the direct one does not.
    let context = kube::config::Kubeconfig::read_from(&user_kubeconfig).unwrap().current_context.unwrap();
    let mut credential: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
                .args(["credential", "--cluster", &context])
                .env("KUBECTL_SUI_HOME", home.path())
                .env("KUBECTL_SUI_KEY_STORE", "file")
                .env("KUBERNETES_EXEC_INFO", EXEC_INFO)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            started.elapsed()
        })
        .collect();
    credential.sort();

    // The login's kubeconfig with its exec entry replaced by the token the entry returns: the
    // same path through the chain, without kubectl running the credential command.
    let token = Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .args(["credential", "--cluster", &context])
        .env("KUBECTL_SUI_HOME", home.path())
        .env("KUBECTL_SUI_KEY_STORE", "file")
        .output()
        .unwrap();
    let token = serde_json::from_slice::<serde_json::Value>(&token.stdout).unwrap()["status"]["token"].clone();
    let mut without_exec: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&user_kubeconfig).unwrap()).unwrap();
    for user in without_exec["users"].as_sequence_mut().unwrap() {
        user["user"] = serde_yaml::to_value(serde_json::json!({ "token": token })).unwrap();
    }
    let token_kubeconfig = home.path().join("token-instead-of-exec.kubeconfig");
    std::fs::write(&token_kubeconfig, serde_yaml::to_string(&without_exec).unwrap()).unwrap();

    let apply =
        |i: usize| format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: applied}}\ndata: {{run: \"{i}\"}}\n");
    println!(
        "| command | direct p50 ms | direct p99 ms | chain p50 ms | chain p99 ms | p50 ratio | tx per command | bytes on chain | gas (MIST) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    // `get pods` three ways in one loop, twice as many runs as the other commands: straight to
    // the API server, through the chain, and through the chain with the exec entry's token
    // written in its place. The order turns each round, so the machine's drift (10-20% within
    // a minute here) falls on the three alike, and what the exec entry costs is the difference
    // of two columns measured side by side.
    let variants = [&direct, &user_kubeconfig, &token_kubeconfig];
    let mut pods: [Vec<Duration>; 3] = Default::default();
    for round in 0..2 * runs {
        for k in 0..3 {
            let v = (round + k) % 3;
            pods[v].push(kubectl.run(variants[v], &["get", "pods"], ""));
        }
    }
    let commands: [(&str, Vec<&str>); 3] = [
        ("kubectl get pods", vec!["get", "pods"]),
        ("raw GET configmap", vec!["get", "--raw", "/api/v1/namespaces/default/configmaps/bench"]),
        ("kubectl apply -f configmap", vec!["apply", "-f", "-"]),
    ];
    for (name, args) in &commands {
        let mut times = (Vec::new(), Vec::new());
        if *name == "kubectl get pods" {
            times = (pods[0].clone(), pods[1].clone());
        } else {
            for i in 0..runs {
                let stdin = if name.contains("apply") { apply(i) } else { String::new() };
                times.0.push(kubectl.run(&direct, args, &stdin));
                times.1.push(kubectl.run(&user_kubeconfig, args, &stdin));
            }
        }
        let cells = compared(&mut times);
        let before = client.latest_checkpoint().await.unwrap() + 1;
        let stdin = if name.contains("apply") { apply(runs + 1) } else { String::new() };
        kubectl.run(&user_kubeconfig, args, &stdin);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (txs, bytes, gas) = chain_cost(&mut client, before).await;
        println!("| {name} | {cells} | {txs} | {bytes} | {gas} |");
    }
    let mut times = (pods[0].clone(), pods[2].clone());
    println!(
        "| kubectl get pods, the same token without the exec entry (same rounds as `get pods`) | {} | 2 | | |",
        compared(&mut times)
    );
    println!(
        "| exec credential command alone (`kubectl-sui credential`) | — | — | {} | {} | | 0 | 0 | 0 |",
        ms(percentile(&credential, 0.5)),
        ms(percentile(&credential, 0.99))
    );

    // Sessions: a typed line's round trip through `kubectl exec -i … -- cat`, and `kubectl cp`
    // of 1 MiB into a pod, through the chain against straight to the API server.
    let pod = plane.kubectl(&["get", "pods", "-l", "app=web", "-o", "name"]).unwrap();
    let pod = pod.lines().next().expect("a web pod").trim_start_matches("pod/").to_string();
    plane.kubectl(&["wait", "--for=condition=Ready", &format!("pod/{pod}"), "--timeout=60s"]).unwrap();
    println!();
    println!("| session | direct p50 ms | direct p99 ms | chain p50 ms | chain p99 ms | p50 ratio |");
    println!("|---|---|---|---|---|---|");
    let mut typed = (kubectl.keystrokes(&direct, &pod, runs), kubectl.keystrokes(&user_kubeconfig, &pod, runs));
    let copies = tempfile::tempdir().unwrap();
    let file = copies.path().join("one-mib");
    let mut data = vec![0u8; 1 << 20];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut data);
    std::fs::write(&file, &data).unwrap();
    let target = format!("{pod}:{}/copied", copies.path().display());
    let mut copied = (Vec::new(), Vec::new());
    for _ in 0..runs.div_ceil(4).max(3) {
        copied.0.push(kubectl.run(&direct, &["cp", file.to_str().unwrap(), &target], ""));
        copied.1.push(kubectl.run(&user_kubeconfig, &["cp", file.to_str().unwrap(), &target], ""));
    }
    assert!(std::fs::read(copies.path().join("copied")).unwrap() == data);
    for (name, times) in
        [("a typed line and its echo (`exec -i … cat`)", &mut typed), ("`kubectl cp` 1 MiB in", &mut copied)]
    {
        println!("| {name} | {} |", compared(times));
    }

    // Throughput of one GET at several concurrencies, with kube clients (HTTP/2) from the
    // two kubeconfigs: the proxy's (exec credential and all) and the admin's.
    let proxy_client = kube_client(&user_kubeconfig).await;
    let direct_client = kube_client(&direct).await;
    println!();
    println!(
        "| concurrency | direct req/s | direct p50 ms | chain req/s | chain p50 ms | chain p99 ms | proxy RSS MiB | node RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let pid = std::fs::read_to_string(home.path().join("data/proxy/sui-test/proxy.pid")).unwrap();
    let pid = pid.trim().to_string();
    let (apiserver, etcd) = (pid_of("kube-apiserver"), pid_of("etcd"));
    let processes = [
        ("machine", None),
        ("proxy", Some(pid.as_str())),
        ("node", Some(node_pid.as_str())),
        ("kube-apiserver", apiserver.as_deref()),
        ("etcd", etcd.as_deref()),
    ];
    let mut cpu = Vec::new();
    for level in [1usize, 8, 32] {
        let before = processes.map(|(_, p)| cpu_ticks(p));
        let direct = load(&direct_client, level, seconds).await;
        let between = processes.map(|(_, p)| cpu_ticks(p));
        let chain = load(&proxy_client, level, seconds).await;
        let after = processes.map(|(_, p)| cpu_ticks(p));
        if level == 32 {
            let per_request = |from: &[u64; 5], to: &[u64; 5], requests: f64| {
                from.iter().zip(to).map(|(a, b)| (b - a) as f64 * 10.0 / requests).collect::<Vec<f64>>()
            };
            cpu.push(("direct", direct.0, per_request(&before, &between, direct.0 * seconds as f64)));
            cpu.push(("through the chain", chain.0, per_request(&between, &after, chain.0 * seconds as f64)));
        }
        println!(
            "| {level} | {:.0} | {} | {:.0} | {} | {} | {:.1} | {:.1} |",
            direct.0,
            ms(direct.1),
            chain.0,
            ms(chain.1),
            ms(chain.2),
            rss_mib(&pid),
            rss_mib(&node_pid)
        );
    }

    // What saturates at concurrency 32: CPU time per request, of the machine and by process
    // (the bench process holds the devnet and the load's clients).
    println!();
    println!(
        "| concurrency 32 | req/s | CPU ms per request | proxy | node | kube-apiserver | etcd | the rest (bench process: devnet, load client; kwok) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, rate, ms) in &cpu {
        println!(
            "| {name} | {rate:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ms[0],
            ms[1],
            ms[2],
            ms[3],
            ms[4],
            ms[0] - ms[1] - ms[2] - ms[3] - ms[4]
        );
    }

    // Envelope sizes for typical answers, and sealing cost.
    let pods = plane.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods"]).unwrap();
    let deployment = plane.kubectl(&["get", "deployment", "web", "-o", "json"]).unwrap();
    let recipient = SecretKey::generate();
    let binding = Binding::Response { cluster, request: Address::ZERO };
    println!();
    println!("| body | JSON bytes | envelope uncompressed | sealed (zstd + HPKE) | saved |");
    println!("|---|---|---|---|---|");
    for (name, body) in [("pod list (5 pods)", pods.as_bytes()), ("deployment", deployment.as_bytes())] {
        let envelope = ResponseEnvelope {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
        };
        let plain = bcs::to_bytes(&envelope).unwrap().len();
        let sealed = Sealed::seal(&envelope, &recipient.public_key(), &binding).unwrap().0.len();
        println!(
            "| {name} | {} | {plain} | {sealed} | {:.0}% |",
            body.len(),
            100.0 * (1.0 - sealed as f64 / plain as f64)
        );
    }
    println!();
    println!("| 8 MiB body | seal ms | open ms | MiB/s (seal+open) |");
    println!("|---|---|---|---|");
    let json_like: Vec<u8> = pods.as_bytes().iter().cycle().take(8 << 20).copied().collect();
    let mut random = vec![0u8; 8 << 20];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut random);
    for (name, body) in [("JSON (repetitive)", json_like), ("random", random)] {
        let envelope = ResponseEnvelope { status: 200, headers: vec![], body };
        let key: PublicKey = recipient.public_key();
        let t = Instant::now();
        let sealed = Sealed::seal(&envelope, &key, &binding).unwrap();
        let seal = t.elapsed();
        let t = Instant::now();
        let opened: ResponseEnvelope = sealed.open(&recipient, &binding, 64 << 20).unwrap();
        let open = t.elapsed();
        assert_eq!(opened.body.len(), 8 << 20);
        println!("| {name} | {} | {} | {:.0} |", ms(seal), ms(open), 8.0 / (seal + open).as_secs_f64());
    }
    // The proxy the credential command started outlives this process otherwise.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.parse().expect("a pid")),
        nix::sys::signal::Signal::SIGTERM,
    );
}

/// A `kube` client of `kubeconfig`; for the proxy's, its exec entry (with the environment
/// login wrote into it) supplies the credential.
async fn kube_client(kubeconfig: &Path) -> kube::Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

/// Requests per second and p50/p99 of `level` concurrent GET loops for `seconds`.
async fn load(client: &kube::Client, level: usize, seconds: u64) -> (f64, Duration, Duration) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let client = Arc::new(client.clone());
    let tasks: Vec<_> = (0..level)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let request =
                        http::Request::get("/api/v1/namespaces/default/configmaps/bench").body(Vec::new()).unwrap();
                    let t = Instant::now();
                    client.request_text(request).await.unwrap();
                    latencies.push(t.elapsed());
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
    (all.len() as f64 / seconds as f64, percentile(&all, 0.5), percentile(&all, 0.99))
}

/// Busy CPU ticks (1/100 s) of process `pid` (user + system), or of the whole machine.
fn cpu_ticks(pid: Option<&str>) -> u64 {
    match pid {
        Some(pid) => {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
            let fields: Vec<&str> =
                stat.rsplit_once(')').map(|(_, f)| f.split_whitespace().collect()).unwrap_or_default();
            fields.get(11..13).map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum()).unwrap_or(0)
        }
        None => {
            let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
            let cpu: Vec<u64> = stat
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect();
            // user nice system idle iowait irq softirq: all but idle and iowait.
            [0, 1, 2, 5, 6].iter().filter_map(|i| cpu.get(*i)).sum()
        }
    }
}

/// The pid of the one process named `name` (the control plane's), if any.
fn pid_of(name: &str) -> Option<String> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
        (comm.trim() == name).then(|| entry.file_name().to_string_lossy().into_owned())
    })
}

/// What kubectl passes the credential command.
const EXEC_INFO: &str =
    r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;

/// `$BENCH_FINALITY_MS`: the devnet's delay from commit to checkpoint (0: the devnet's own
/// on-demand checkpoints; 400: a public network's finality).
fn bench_finality() -> std::time::Duration {
    std::time::Duration::from_millis(std::env::var("BENCH_FINALITY_MS").ok().and_then(|s| s.parse().ok()).unwrap_or(0))
}
