//! The whole path on a real Sui network, given a Sui toolchain (`$SUI_BIN` or `sui` on PATH
//! when the tests are built; `$SUI_FRAMEWORK` names the framework packages for an offline
//! build, see docs/devnet.md): a local network on free loopback ports, `sui move build` and
//! `sui move test` on `move/`, `kubectl sui contract publish`, a cluster, a node, a login,
//! kubectl get/apply/describe/delete through the chain against the real control plane, the
//! audit trail, and the contract's scenario table against the published Move code.
//!
//! Without a toolchain the test is ignored with `SKIPPED real-sui: …` as its reason, so it is
//! counted as skipped, never as passed.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::kubectl::User;
use crate::util::{repo_root, start_control_plane};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A child process killed (and reaped) when the test ends, passed or not.
struct Stopped(Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `sui start` network bound to loopback, stopped on drop.
struct LocalSui {
    child: Child,
    rpc: String,
    faucet: String,
    _dir: tempfile::TempDir,
}

impl Drop for LocalSui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LocalSui {
    fn start(sui: &Path) -> LocalSui {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config");
        // Sui 1.64 needs the directory to exist; 1.77 makes it.
        std::fs::create_dir_all(&config).unwrap();
        run(
            Command::new(sui).args(["genesis", "--force", "--working-dir"]).arg(&config).env("SUI_CONFIG_DIR", &config),
            "sui genesis",
        );
        // The full node's RPC on a free loopback port, never 0.0.0.0.
        let (rpc_port, faucet_port, metrics_port) = (free_port(), free_port(), free_port());
        let fullnode = config.join("fullnode.yaml");
        let text = std::fs::read_to_string(&fullnode).unwrap();
        let text = regex::Regex::new(r"(?m)^json-rpc-address:.*$")
            .unwrap()
            .replace(&text, format!("json-rpc-address: \"127.0.0.1:{rpc_port}\""));
        let text = regex::Regex::new(r"(?m)^metrics-address:.*$")
            .unwrap()
            .replace(&text, format!("metrics-address: \"127.0.0.1:{metrics_port}\""));
        std::fs::write(&fullnode, text.as_bytes()).unwrap();
        let log = std::fs::File::create(dir.path().join("sui.log")).unwrap();
        // Sui 1.64's `start` rewrites the full node's RPC address from its own flag (bound to
        // 0.0.0.0, the only choice it gives); 1.77 keeps the loopback address set above.
        let help = Command::new(sui).args(["start", "--help"]).output().expect("sui start --help");
        let port_flag = String::from_utf8_lossy(&help.stdout)
            .contains("--fullnode-rpc-port")
            .then(|| format!("--fullnode-rpc-port={rpc_port}"));
        let child = Command::new(sui)
            .args(["start", "--network.config"])
            .arg(&config)
            .arg(format!("--with-faucet=127.0.0.1:{faucet_port}"))
            .args(port_flag)
            .env("SUI_CONFIG_DIR", &config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("sui start");
        let network = LocalSui {
            child,
            rpc: format!("http://127.0.0.1:{rpc_port}"),
            faucet: format!("http://127.0.0.1:{faucet_port}/"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(180);
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            loop {
                let mut client =
                    kubectl_sui::chain::ChainClient::new(&network.rpc, kubectl_sui::devnet::package_id()).unwrap();
                if client.chain_id().await.is_ok() {
                    break;
                }
                assert!(Instant::now() < deadline, "the local Sui network never answered on {}", network.rpc);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        // The faucet comes up after the full node.
        while std::net::TcpStream::connect(("127.0.0.1", faucet_port)).is_err() {
            assert!(Instant::now() < deadline, "the local faucet never listened on {faucet_port}");
            std::thread::sleep(Duration::from_millis(500));
        }
        network
    }
}

/// A scratch copy of `move/`, made to build offline when `$SUI_FRAMEWORK` is set, with the
/// attestation tests rendered from `tests/move/` when the recorded documents are there.
fn move_package(framework: Option<&Path>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    run(Command::new("cp").arg("-r").arg(repo_root().join("move/.")).arg(dir.path()), "copying move/");
    match crate::attestation::rendered_move_tests() {
        Ok(text) => std::fs::write(dir.path().join("tests/attestation_tests.move"), text).unwrap(),
        Err(why) => println!("SKIPPED move attestation tests: {why}"),
    }
    if let Some(framework) = framework {
        let manifest = dir.path().join("Move.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(&manifest, kubectl_sui::contract::publish::offline_manifest(&text, framework)).unwrap();
    }
    dir
}

#[test]
#[cfg_attr(not(real_sui), ignore = "SKIPPED real-sui: no sui binary (set SUI_BIN)")]
fn the_whole_path_on_a_real_sui_network() {
    let sui = std::env::var_os("SUI_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("sui"));
    let framework = std::env::var_os("SUI_FRAMEWORK").map(PathBuf::from);
    let offline = match framework.is_some() && kubectl_sui::contract::publish::takes_build_env(&sui) {
        true => vec!["--build-env", "testnet"],
        false => vec![],
    };

    // The Move package builds and its tests pass on the real Move VM.
    let package = move_package(framework.as_deref());
    run(Command::new(&sui).args(["move", "build", "--path"]).arg(package.path()).args(&offline), "sui move build");
    let tested = run(Command::new(&sui).args(["move", "test", "--path"]).arg(package.path()), "sui move test");
    assert!(tested.contains("Test result: OK"), "{tested}");
    if crate::attestation::recorded().is_ok() {
        assert!(tested.contains("attestation_tests::a_recorded_document_registers"), "{tested}");
    }

    let network = LocalSui::start(&sui);
    let user = User::new();
    let sui_cmd = |args: &[&str]| {
        let mut command = user.command(env!("CARGO_BIN_EXE_kubectl-sui"));
        command.args(args).env("SUI_BIN", &sui);
        if let Some(f) = &framework {
            command.env("SUI_FRAMEWORK", f);
        }
        run(&mut command, &format!("kubectl sui {args:?}"))
    };
    let said = sui_cmd(&["contract", "publish", "--network", &network.rpc, "--faucet", &network.faucet]);
    let package_id: sui_sdk_types::Address = regex::Regex::new(r"as (0x[0-9a-f]{64})")
        .unwrap()
        .captures(&said)
        .unwrap_or_else(|| panic!("publish names the package: {said}"))[1]
        .parse()
        .unwrap();

    // A cluster, its node, a login, and kubectl through the chain against a real API server.
    let (plane, _plane_dir) = start_control_plane(1);
    plane.kubectl_stdin(&["apply", "-f", "-"], kubectl_sui::node::kube::GROUP_BINDINGS).unwrap();
    // A cluster on a real network forbids debug nodes by default; this one runs a debug node
    // (no enclave here).
    let created = sui_cmd(&[
        "cluster",
        "create",
        "lab",
        "--network",
        &network.rpc,
        "--faucet",
        &network.faucet,
        "--allow-debug-nodes",
        "true",
    ]);
    let cluster = regex::Regex::new(r"Created cluster lab \((0x[0-9a-f]{64})\)").unwrap().captures(&created).unwrap()
        [1]
    .to_string();
    let node_dir = tempfile::tempdir().unwrap();
    kubectl_sui::node::keys::NodeKeys::load_or_create(node_dir.path()).unwrap();
    sui_cmd(&["cluster", "node", "add", "--node-dir", &node_dir.path().display().to_string(), "--cluster", "lab"]);
    // The node pays for its answers: fund it before it starts (it refuses to start without gas).
    let node_address = kubectl_sui::node::keys::NodeKeys::load_or_create(node_dir.path()).unwrap().address();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let faucet = sui_rpc::faucet::FaucetClient::new(&network.faucet).unwrap();
        faucet.request(node_address).await.unwrap();
        let mut client = kubectl_sui::chain::ChainClient::new(&network.rpc, package_id).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.balance(node_address).await.unwrap_or(0) == 0 {
            assert!(Instant::now() < deadline, "the faucet's SUI never reached the node {node_address}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    let metrics = format!("127.0.0.1:{}", free_port());
    let node = Command::new(env!("CARGO_BIN_EXE_nautilus"))
        .args(["run", "--chain-url", &network.rpc, "--package", &package_id.to_string(), "--cluster", &cluster])
        .arg("--kubeconfig")
        .arg(plane.kubeconfig())
        .arg("--data-dir")
        .arg(node_dir.path())
        .args(["--metrics-listen", &metrics])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let _node = Stopped(node);
    sui_cmd(&[
        "login",
        "--cluster",
        &cluster,
        "--network",
        &network.rpc,
        "--faucet",
        &network.faucet,
        "--package",
        &package_id.to_string(),
        "--role",
        "edit",
        "--yes",
    ]);
    assert!(user.ok(&["get", "namespaces", "-o", "name"]).contains("namespace/default"));
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: real, namespace: default}\ndata: {k: v}\n";
    let applied = user.kubectl(&["apply", "-f", "-"], manifest);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));
    assert!(user.ok(&["describe", "configmap", "real"]).contains("Name:         real"));
    assert_eq!(plane.kubectl(&["get", "configmap", "real", "-o", "jsonpath={.data.k}"]).unwrap(), "v");
    assert!(user.ok(&["delete", "configmap", "real"]).contains("deleted"));
    let trail = user.audit();
    // A create names no object: it is a POST to the collection, as kube-apiserver sees it.
    assert!(trail.iter().any(|r| r["verb"] == "create" && r["resource"] == "configmaps"), "{trail:#?}");
    assert!(trail.iter().any(|r| r["verb"] == "delete" && r["name"] == "real"), "{trail:#?}");

    // The API server's own audit log: it ran exactly what the real chain approved.
    runtime.block_on(async {
        let log = std::fs::read_to_string(plane.audit_log()).expect("the API server's audit log");
        let executions = kubectl_sui::audit::cluster_log::executions(&log).expect("audit events");
        let client = kubectl_sui::chain::ChainClient::new(&network.rpc, package_id).unwrap();
        let cluster: sui_sdk_types::Address = cluster.parse().unwrap();
        let trail = kubectl_sui::audit::read_trail(client, cluster).await.expect("the chain's trail");
        let found = kubectl_sui::audit::cluster_log::verify(&trail, &executions);
        assert!(found.is_empty(), "the cluster ran what the chain did not approve: {found:#?}");
        assert!(executions.len() >= 4, "{executions:#?}");
    });

    // The scenario table against the Move code itself.
    let faucet = sui_rpc::faucet::FaucetClient::new(&network.faucet).unwrap();
    let fund = move |owner: sui_sdk_types::Address| -> futures::future::BoxFuture<'static, ()> {
        let faucet = faucet.clone();
        Box::pin(async move {
            faucet.request(owner).await.expect("faucet");
        })
    };
    let failures = runtime.block_on(crate::scenario::play(
        &crate::scenario::table(),
        &crate::scenario::Network {
            client: kubectl_sui::chain::ChainClient::new(&network.rpc, package_id).expect("a client of the network"),
            package: package_id,
            fund: &fund,
            devnet: false,
        },
    ));
    assert!(failures.is_empty(), "{} steps differ on the real network:\n{}", failures.len(), failures.join("\n"));
}
