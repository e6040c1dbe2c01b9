//! Real kubectl through the whole chain path: `kubectl sui login` writes the context, the
//! exec credential starts the proxy, and every command goes proxy → devnet → contract →
//! node → real kube-apiserver → back. Outputs are compared with the same commands run
//! straight against the API server.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sui_sdk_types::Address;

use crate::node::{Setup, setup};

/// One user of the chain path: their own kubectl-sui home and kubeconfig.
pub(crate) struct User {
    home: tempfile::TempDir,
}

impl User {
    pub(crate) fn new() -> User {
        User { home: tempfile::tempdir().unwrap() }
    }

    pub(crate) fn home(&self) -> &Path {
        self.home.path()
    }

    pub(crate) fn kubeconfig(&self) -> PathBuf {
        self.home.path().join("kubeconfig")
    }

    pub(crate) fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("KUBECONFIG", self.kubeconfig())
            .env("KUBECTL_SUI_HOME", self.home.path())
            .env("KUBECTL_SUI_KEY_STORE", "file")
            .env_remove("KUBERNETES_EXEC_INFO")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    pub(crate) fn run(mut command: Command, stdin: &str) -> Output {
        use std::io::Write;
        let mut child = command.spawn().expect("spawn");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs `kubectl-sui args`.
    pub(crate) fn sui(&self, args: &[&str]) -> Output {
        let mut command = self.command(env!("CARGO_BIN_EXE_kubectl-sui"));
        command.args(args);
        User::run(command, "")
    }

    /// Runs kubectl with this user's kubeconfig.
    pub(crate) fn kubectl(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = self.command(crate::util::kubectl());
        command.args(args);
        User::run(command, stdin)
    }

    /// `kubectl args`, which must succeed; its stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args, "");
        assert!(out.status.success(), "kubectl {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The audit trail of the current context, as JSON records.
    pub(crate) fn audit(&self) -> Vec<serde_json::Value> {
        let out = self.sui(&["audit", "-o", "json"]);
        assert!(out.status.success(), "audit failed:\n{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `kubectl sui login` to `setup`'s cluster with `extra` flags; must succeed.
    pub(crate) fn login(&self, setup: &Setup, cluster: Address, extra: &[&str]) -> String {
        let cluster = cluster.to_string();
        let grpc = setup.devnet.grpc_url();
        let faucet = setup.devnet.faucet_url();
        let mut args = vec!["login", "--cluster", &cluster, "--network", &grpc, "--faucet", &faucet, "--yes"];
        args.extend_from_slice(extra);
        let out = self.sui(&args);
        assert!(out.status.success(), "login failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // Stop every proxy this user's credential command started, and a `kubectl sui up`
        // stack, even when the test failed before `down`.
        let data = self.home.path().join("data");
        let proxies =
            std::fs::read_dir(data.join("proxy")).into_iter().flatten().flatten().map(|d| d.path().join("proxy.pid"));
        for pid_file in proxies.chain([data.join("up").join("stack.pid")]) {
            if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| p.trim().parse().ok()) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            }
        }
    }
}

/// Output with ages (`5s`, `2m3s`) replaced, for comparing runs a moment apart; runs of
/// spaces are collapsed too, since a column of ages is as wide as its widest (`9s`, `10s`).
pub(crate) fn without_ages(text: &str) -> String {
    let age = regex::Regex::new(r"\b(\d+[smhd])+\b").unwrap();
    let padding = regex::Regex::new(r" {2,}").unwrap();
    padding.replace_all(&age.replace_all(text, "AGE"), "  ").into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn direct(setup: &Setup, args: &[&str]) -> String {
    setup.plane.kubectl(args).unwrap_or_else(|e| panic!("direct kubectl {args:?}: {e}"))
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default, labels: {app: web}}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: default}
data: {mode: chain}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_reads_and_writes_through_the_chain_like_the_api_server() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    let user = User::new();
    let said = user.login(&setup, setup.cluster, &[]);
    assert!(said.contains("Logged in to cluster test") && said.contains("role edit"), "{said}");

    let view = user.ok(&["config", "view", "-o", "json"]);
    let config: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(config["current-context"], "sui-test");
    let exec = &config["users"][0]["user"]["exec"];
    assert_eq!(exec["interactiveMode"], "IfAvailable");
    assert!(Path::new(exec["command"].as_str().unwrap()).is_absolute());

    for args in
        [&["get", "ns"][..], &["get", "pods", "-A"], &["api-resources"], &["explain", "deployment.spec.replicas"]]
    {
        assert_eq!(without_ages(&user.ok(args)), without_ages(&direct(&setup, args)), "kubectl {args:?}");
    }

    let applied = user.kubectl(&["apply", "-f", "-"], DEPLOYMENT);
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert_eq!(String::from_utf8_lossy(&applied.stdout), "deployment.apps/web created\nconfigmap/settings created\n");
    wait_until("3 running pods", Duration::from_secs(60), || {
        user.ok(&["get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].status.phase}"])
            == "Running Running Running"
    });
    let server_side = user.kubectl(&["apply", "--server-side", "-f", "-"], DEPLOYMENT);
    assert!(server_side.status.success(), "{}", stderr(&server_side));
    assert!(String::from_utf8_lossy(&server_side.stdout).contains("deployment.apps/web serverside-applied"));
    // The OpenAPI documents kubectl fetched through the chain carry the API server's `Expires`,
    // so kubectl's own HTTP cache answers the next apply: without it, each apply fetched the
    // whole document again (1.4 MiB for `api/v1`) and rewrote it to disk.
    let again = user.kubectl(&["apply", "-f", "-", "-v=8"], DEPLOYMENT);
    assert!(again.status.success(), "{}", stderr(&again));
    let log = stderr(&again);
    let openapi = log
        .split("\"Response\"")
        .skip(1)
        .filter(|response| response.contains("Expires:") && response.contains("X-From-Cache: 1"))
        .count();
    assert!(openapi >= 1, "no OpenAPI document served from kubectl's cache with its Expires:\n{log}");

    for args in [
        &["get", "deploy", "web", "-o", "yaml"][..],
        &["get", "configmap", "settings", "-o", "yaml"],
        &["describe", "deployment", "web"],
        &["get", "pods", "-l", "app=web", "-o", "wide"],
    ] {
        assert_eq!(without_ages(&user.ok(args)), without_ages(&direct(&setup, args)), "kubectl {args:?}");
    }

    assert_eq!(user.ok(&["scale", "deployment", "web", "--replicas=1"]), "deployment.apps/web scaled\n");
    wait_until("1 pod", Duration::from_secs(60), || {
        direct(&setup, &["get", "pods", "-l", "app=web", "-o", "name"]).lines().count() == 1
    });

    let secret = "c2VjcmV0LXZhbHVlLTEyMw";
    assert_eq!(
        user.ok(&["create", "secret", "generic", "db", &format!("--from-literal=password={secret}")]),
        "secret/db created\n"
    );
    assert_eq!(user.ok(&["get", "secret", "db", "-o", "yaml"]), direct(&setup, &["get", "secret", "db", "-o", "yaml"]));

    assert_eq!(user.ok(&["delete", "deployment", "web"]), "deployment.apps \"web\" deleted\n");
    assert_eq!(user.ok(&["delete", "configmap", "settings"]), "configmap \"settings\" deleted\n");
    assert!(direct(&setup, &["get", "deploy", "-o", "name"]).is_empty());

    let trail = user.audit();
    for (verb, resource, target, status) in [
        ("list", "namespaces", "", 200),
        ("list", "pods", "", 200),
        ("create", "deployments", "default/", 201),
        ("create", "configmaps", "default/", 201),
        ("patch", "deployments", "default/web", 200),
        ("patch", "deployments/scale", "default/web", 200),
        ("create", "secrets", "default/", 201),
        ("get", "secrets", "default/db", 200),
        ("delete", "deployments", "default/web", 200),
        ("get", "", "openapi/v3", 200),
    ] {
        assert!(
            trail.iter().any(|r| r["verb"] == verb
                && r["resource"] == resource
                && format!("{}/{}", r["namespace"].as_str().unwrap(), r["name"].as_str().unwrap())
                    .trim_start_matches('/')
                    .starts_with(target)
                && r["outcome"]["status"] == status),
            "no {verb} {resource} {target} {status} in the audit trail"
        );
    }
    // What the API server itself ran is what the chain approved, call for call.
    setup.cluster_ran_only_what_the_chain_approved().await;
    // The operator's check says the same; a forged execution in the log is reported.
    let log = setup.plane.audit_log().to_str().unwrap().to_string();
    let verified = user.sui(&["audit", "verify", "--k8s-audit-log", &log]);
    assert!(verified.status.success(), "{}", stderr(&verified));
    assert!(String::from_utf8_lossy(&verified.stdout).contains(": 0 discrepancies"), "{verified:?}");
    let forged = user.home().join("forged.log");
    let event = r#"{"auditID":"f","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/secrets","verb":"list","user":{"username":"sui:0x1"},"userAgent":"curl","objectRef":{"resource":"secrets","namespace":"default"},"responseStatus":{"code":200}}"#;
    std::fs::write(&forged, format!("{}{event}\n", std::fs::read_to_string(&log).unwrap())).unwrap();
    let caught = user.sui(&["audit", "verify", "--k8s-audit-log", forged.to_str().unwrap()]);
    assert!(!caught.status.success(), "{caught:?}");
    let out = String::from_utf8_lossy(&caught.stdout);
    assert!(out.contains(": 1 discrepancy") && out.contains("UNAPPROVED  sui:0x1 list"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_clear_kubernetes_errors() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    setup.plane.kubectl(&["create", "configmap", "keep-me"]).unwrap();

    let viewer = User::new();
    viewer.login(&setup, setup.cluster, &["--role", "view"]);
    assert!(viewer.ok(&["get", "configmap", "keep-me", "-o", "name"]).contains("configmap/keep-me"));
    let denied = viewer.kubectl(&["delete", "configmap", "keep-me"], "");
    assert!(!denied.status.success());
    let message = stderr(&denied);
    assert!(
        message.contains("Error from server (Forbidden)")
            && message.contains(
                "lacks delete on configmaps in namespace default; ask the cluster admin: kubectl sui cluster grant"
            ),
        "{message}"
    );

    // Explicit rules (`stake_with_rules`): exactly what they name, nothing else.
    let narrow = User::new();
    let said = narrow.login(&setup, setup.cluster, &["--allow", "get,list:configmaps:default", "--stake", "0"]);
    assert!(said.contains("Logged in"), "{said}");
    assert!(narrow.ok(&["get", "configmap", "keep-me", "-o", "name"]).contains("configmap/keep-me"));
    let outside = narrow.kubectl(&["get", "configmaps", "-n", "kube-system"], "");
    assert!(!outside.status.success(), "another namespace is outside the rule");
    assert!(stderr(&outside).contains("Forbidden"), "{}", stderr(&outside));
    let pods = narrow.kubectl(&["get", "pods"], "");
    assert!(!pods.status.success() && stderr(&pods).contains("Forbidden"), "{}", stderr(&pods));

    let unstaked = User::new();
    unstaked.login(&setup, setup.cluster, &["--role", "edit", "--stake", "0"]);
    let refused = unstaked.kubectl(&["create", "configmap", "nope"], "");
    let message = stderr(&refused);
    assert!(
        message.contains("needs a stake of at least 1 SUI on cluster test") && message.contains("--stake 1"),
        "{message}"
    );

    setup.plane.kubectl(&["run", "shell", "--image=busybox"]).unwrap();
    let started = Instant::now();
    let exec = viewer.kubectl(&["exec", "shell", "--", "true"], "");
    let trail = viewer.audit();
    let denied: Vec<_> = trail.iter().filter(|r| r["outcome"]["kind"] == "denied").collect();
    assert!(
        denied
            .iter()
            .any(|r| r["verb"] == "delete" && r["name"] == "keep-me" && r["outcome"]["reason"] == "EPermissionDenied"),
        "{denied:?}"
    );
    assert!(
        denied.iter().any(|r| r["verb"] == "create"
            && r["resource"] == "configmaps"
            && r["outcome"]["reason"] == "EInsufficientStake"),
        "{denied:?}"
    );
    assert!(!exec.status.success() && started.elapsed() < Duration::from_secs(20), "exec fails at once");
    // The contract's refusal, also for kubectl's SPDY retry of the refused WebSocket upgrade.
    let message = stderr(&exec);
    assert!(message.contains("Forbidden") && message.contains("lacks create on pods/exec"), "{message}");
    assert!(denied.iter().any(|r| r["resource"] == "pods/exec" && r["outcome"]["reason"] == "EPermissionDenied"));
    let proxied = viewer.kubectl(&["get", "--raw", "/api/v1/namespaces/default/pods/shell/proxy"], "");
    assert!(stderr(&proxied).contains("the proxy subresource relays arbitrary HTTP"), "{}", stderr(&proxied));

    // Targets the API server could read otherwise, and paths no rule names: a clear Status,
    // the first before any transaction. (kubectl itself decodes `%2F` before sending; the
    // node's refusal of it is in tests/hostile.rs.)
    let before = viewer.audit().len();
    for (raw, says) in [
        ("/api/v1/watch/namespaces/default/configmaps", "deprecated"),
        ("/api/v1/namespaces/default/configmaps?watch=yes", "true or false"),
        ("/api/v1/namespaces/default/configmaps?limit=1&limit=2", "repeated"),
        ("/api/v1/namespaces/default/configmaps/x/y/z", "not a Kubernetes resource path"),
    ] {
        let out = viewer.kubectl(&["get", "--raw", raw], "");
        assert!(!out.status.success() && stderr(&out).contains(says), "{raw}: {}", stderr(&out));
    }
    assert_eq!(viewer.audit().len(), before, "none of them cost a transaction");
    let metrics = viewer.kubectl(&["get", "--raw", "/metrics"], "");
    assert!(stderr(&metrics).contains("lacks get /metrics"), "{}", stderr(&metrics));
    let secrets = viewer.kubectl(&["get", "secrets"], "");
    assert!(stderr(&secrets).contains("lacks list on secrets in namespace default"), "{}", stderr(&secrets));
    setup.cluster_ran_only_what_the_chain_approved().await;

    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{blob: {}}}\n",
        "x".repeat(9 * 1024 * 1024)
    );
    let too_large = unstaked.kubectl(&["create", "-f", "-"], &big);
    let message = stderr(&too_large);
    assert!(
        message.contains("exceeds this proxy's limit of 8388608 bytes") && message.contains("max_body"),
        "{message}"
    );

    // The admin forbids debug nodes: the cluster's only node is one. Once the change has passed
    // in a checkpoint, the proxy seals nothing more to it: the request is refused before any
    // transaction (the trail, aborted submits included, does not grow).
    let before = viewer.audit().len();
    let mut client =
        kubectl_sui::chain::ChainClient::new(&setup.devnet.grpc_url(), kubectl_sui::devnet::package_id()).unwrap();
    let mut policy = crate::fixtures::policy(crate::fixtures::SUI, kubectl_sui::contract::Role::Edit);
    policy.allow_debug_nodes = false;
    let mut tx = sui_transaction_builder::TransactionBuilder::new();
    let (cap, cluster) =
        (client.object_arg(setup.admin.1).await.unwrap(), client.object_arg(setup.cluster).await.unwrap());
    kubectl_sui::contract::Contract::new(kubectl_sui::devnet::package_id())
        .set_policy(&mut tx, cap, cluster, &policy)
        .unwrap();
    crate::fixtures::execute(&mut client, &setup.admin.0, tx).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let message = loop {
        let out = viewer.kubectl(&["get", "configmap", "keep-me"], "");
        let message = stderr(&out);
        if !out.status.success() && message.contains("has no active node") {
            break message;
        }
        assert!(Instant::now() < deadline, "the proxy still seals to a node the cluster no longer accepts: {message}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        message.contains("ServiceUnavailable") || message.contains("503") || message.contains("no active node"),
        "{message}"
    );
    let after = viewer.audit().len();
    let settle = viewer.kubectl(&["get", "configmap", "keep-me"], "");
    assert!(!settle.status.success());
    assert_eq!(viewer.audit().len(), after, "a refused request costs no transaction");
    assert!(after >= before);
}

/// A ConfigMap of `len` bytes of random base64 data, labelled `big=true`.
fn big_configmap(name: &str, len: usize) -> String {
    use base64ct::Encoding;
    let mut raw = vec![0u8; len * 3 / 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let data = base64ct::Base64::encode_string(&raw);
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: default, labels: {{big: \"true\"}}}}\ndata: {{blob: {data}}}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn megabytes_round_trip_through_kubectl_byte_for_byte() {
    let setup = setup().await;
    let (_stop, _node) = setup.start_node();
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);

    // Kubernetes caps one ConfigMap at 1 MiB, so 5 MiB is six 900 KiB ones: each request
    // body is 900 KiB, and the list read back is over 5 MiB.
    let manifests: Vec<String> = (0..6).map(|i| big_configmap(&format!("big-{i}"), 900 * 1024)).collect();
    let created = user.kubectl(&["create", "-f", "-"], &manifests.join("---\n"));
    assert!(created.status.success(), "{}", stderr(&created));
    let args = ["get", "configmaps", "-l", "big=true", "-o", "yaml"];
    let through_chain = user.ok(&args);
    assert!(through_chain.len() > 5 * 1024 * 1024, "{} bytes", through_chain.len());
    assert!(through_chain == direct(&setup, &args), "the 5 MiB list differs from the API server's");

    // A single 5 MiB object: the API server refuses it (its limit is 3 MiB), and kubectl
    // shows the same refusal through the chain as directly.
    let five = big_configmap("five", 5 * 1024 * 1024);
    let via_chain = user.kubectl(&["create", "-f", "-"], &five);
    let straight = setup.plane.kubectl_stdin(&["create", "-f", "-"], &five).unwrap_err().to_string();
    assert!(!via_chain.status.success());
    assert!(stderr(&via_chain).contains("Request entity too large"), "{}", stderr(&via_chain));
    assert!(straight.contains("Request entity too large"), "{straight}");
}
