//! The exec credential plugin as kubectl runs it, and keys made by the official TypeScript
//! SDK imported by `kubectl sui login`.

use std::process::Command;
use std::time::Duration;

use kubectl_sui::chain::ChainClient;
use kubectl_sui::contract::Role;
use kubectl_sui::devnet::{Devnet, package_id};
use sui_sdk_types::Address;

use crate::fixtures::{self, SUI, funded, start_devnet};
use crate::kubectl::User;

const V1: &str =
    r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
const V1BETA1: &str =
    r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;

/// A devnet with a cluster of `policy` (no node: logins and credentials need none).
async fn cluster(token_lifetime_ms: u64) -> (Devnet, tempfile::TempDir, Address) {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path(), Duration::from_millis(20)).await;
    let mut client = ChainClient::new(&devnet.grpc_url(), package_id()).unwrap();
    let admin = funded(&fixtures::faucet(&devnet)).await;
    let mut policy = fixtures::policy(SUI, Role::Edit);
    policy.token_lifetime_ms = token_lifetime_ms;
    let (cluster, _) = fixtures::create_cluster(&mut client, &admin, &policy).await;
    (devnet, dir, cluster)
}

fn login_args(devnet: &Devnet, cluster: Address) -> Vec<String> {
    [
        "login",
        "--cluster",
        &cluster.to_string(),
        "--network",
        &devnet.grpc_url(),
        "--faucet",
        &devnet.faucet_url(),
        "--yes",
    ]
    .map(String::from)
    .to_vec()
}

/// A new user logged in to `cluster` (its proxy not started yet).
fn logged_in(devnet: &Devnet, cluster: Address) -> User {
    let user = User::new();
    let args = login_args(devnet, cluster);
    let out = user.sui(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    user
}

fn credential(user: &User, exec_info: &str) -> std::process::Output {
    let mut command = user.command(env!("CARGO_BIN_EXE_kubectl-sui"));
    command.args(["credential", "--cluster", "sui-test"]).env("KUBERNETES_EXEC_INFO", exec_info);
    User::run(command, "")
}

#[tokio::test(flavor = "multi_thread")]
async fn credential_answers_v1_and_v1beta1_from_its_cache() {
    let (devnet, _dir, cluster) = cluster(3_600_000).await;
    let user = logged_in(&devnet, cluster);

    let first = credential(&user, V1BETA1);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(first.stderr.is_empty(), "non-interactive: nothing on stderr: {}", String::from_utf8_lossy(&first.stderr));
    let first: serde_json::Value = serde_json::from_slice(&first.stdout).expect("only JSON on stdout");
    assert_eq!(first["apiVersion"], "client.authentication.k8s.io/v1beta1");
    assert_eq!(first["kind"], "ExecCredential");
    let token = first["status"]["token"].as_str().unwrap().to_string();
    assert!(token.starts_with(kubectl_sui::credential::BEARER_PREFIX));
    let expires = humantime::parse_rfc3339(first["status"]["expirationTimestamp"].as_str().unwrap()).unwrap();
    let left = expires.duration_since(std::time::SystemTime::now()).unwrap();
    assert!(left > Duration::from_secs(3000) && left <= Duration::from_secs(3600), "{left:?}");

    let second: serde_json::Value = serde_json::from_slice(&credential(&user, V1).stdout).unwrap();
    assert_eq!(second["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(second["status"]["token"], token.as_str(), "served from the cache");
    let cache = std::fs::read_dir(user.home().join("cache/credentials")).unwrap().flatten().map(|e| e.path());
    for file in cache.filter(|p| p.extension().is_some_and(|e| e == "json")) {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
    }

    let alpha = credential(&user, r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#);
    assert!(!alpha.status.success() && alpha.stdout.is_empty());
    assert!(String::from_utf8_lossy(&alpha.stderr).contains("this plugin speaks client.authentication.k8s.io/v1"));

    // kubectl itself runs the plugin: the context it reads has the exec entry.
    let view = user.ok(&["config", "view", "--minify", "-o", "jsonpath={.users[0].user.exec.args}"]);
    assert_eq!(view, r#"["credential","--cluster","sui-test"]"#);
}

/// kubectl runs the credential command once per invocation: the first kubectl calls after a
/// login, made at once, must share one proxy rather than race to start one each.
#[tokio::test(flavor = "multi_thread")]
async fn first_credentials_at_once_start_one_proxy_and_all_succeed() {
    let (devnet, _dir, cluster) = cluster(3_600_000).await;
    let user = logged_in(&devnet, cluster);
    let outs: Vec<std::process::Output> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..4).map(|_| s.spawn(|| credential(&user, V1))).collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in &outs {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let pid_file = user.home().join("data/proxy/sui-test/proxy.pid");
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok(), "the proxy runs");
    let log = std::fs::read_to_string(user.home().join("data/proxy/sui-test/proxy.log")).unwrap();
    assert!(!log.contains("is in use"), "a second proxy was started:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_seal_token_sends_the_user_back_to_login() {
    let (devnet, _dir, cluster) = cluster(2_000).await;
    let user = User::new();
    let args = login_args(&devnet, cluster);
    let out = user.sui(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let expired = credential(&user, V1);
    assert!(!expired.status.success() && expired.stdout.is_empty());
    let message = String::from_utf8_lossy(&expired.stderr);
    assert!(message.contains("expired at") && message.contains("run `kubectl sui login --cluster test`"), "{message}");
    let kubectl = user.kubectl(&["get", "pods"], "");
    assert!(!kubectl.status.success());
    assert!(String::from_utf8_lossy(&kubectl.stderr).contains("run `kubectl sui login --cluster test`"));

    // Login again renews the same token.
    let again = user.sui(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let before = String::from_utf8_lossy(&out.stdout).lines().nth(1).unwrap().to_string();
    assert!(String::from_utf8_lossy(&again.stdout).contains(before.split(':').next().unwrap()), "same token");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_made_by_the_typescript_sdk_import_to_the_same_address() {
    let sdk = crate::sdk_peer::sdk_installed();
    let keystore = tempfile::tempdir().unwrap();
    let out = Command::new("node").arg("keys.mjs").arg(keystore.path()).current_dir(&sdk).output().expect("node runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let keys: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (devnet, _dir, cluster) = cluster(3_600_000).await;
    let args = login_args(&devnet, cluster);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();

    let from_keystore = User::new();
    let dir = keystore.path().to_str().unwrap();
    let out = from_keystore.sui(&[args.as_slice(), &["--import-keystore", dir]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("as {}", keys["keystoreAddress"].as_str().unwrap())), "{said}");

    let from_string = User::new();
    args.extend(["--key-file", "-"]);
    let mut command = from_string.command(env!("CARGO_BIN_EXE_kubectl-sui"));
    command.args(&args);
    let out = User::run(command, keys["suiprivkey"].as_str().unwrap());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(&format!("as {}", keys["address"].as_str().unwrap())), "{said}");
    assert!(!said.contains("suiprivkey") && !String::from_utf8_lossy(&out.stderr).contains("suiprivkey"));

    let corrupt = tempfile::tempdir().unwrap();
    std::fs::write(corrupt.path().join("sui.keystore"), "[not base64").unwrap();
    let out =
        User::new().sui(&[&args[..args.len() - 2], &["--import-keystore", corrupt.path().to_str().unwrap()]].concat());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is corrupted"), "{}", String::from_utf8_lossy(&out.stderr));
}

fn json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_creates_a_cluster_and_grants_a_token_that_status_then_shows() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = start_devnet(dir.path(), Duration::from_millis(20)).await;
    let (grpc, faucet) = (devnet.grpc_url(), devnet.faucet_url());
    let network = ["--network", grpc.as_str(), "--faucet", faucet.as_str()];

    let admin = User::new();
    let created = admin.sui(
        &[&["cluster", "create", "lab", "--min-write-stake", "0.5", "--unstake-lock", "0s"][..], &network].concat(),
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(said.contains("Created cluster lab") && said.contains("min write stake    0.5 SUI"), "{said}");
    let cluster = said.split('(').nth(1).unwrap().split(')').next().unwrap().to_string();
    let policy = admin.sui(&["cluster", "policy", "--self-service-role", "view"]);
    assert!(String::from_utf8_lossy(&policy.stdout).contains("self-service role  view"));
    let node_dir = tempfile::tempdir().unwrap();
    let added = admin.sui(&["cluster", "node", "add", "--node-dir", node_dir.path().to_str().unwrap()]);
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));

    let user = User::new();
    let login = [&["login", "--cluster", cluster.as_str(), "--yes"][..], &network].concat();
    let refused = user.sui(&[&login[..], &["--role", "edit"]].concat());
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("ERoleNotSelfService"));
    let out = user.sui(&[&login[..], &["--role", "view"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The cluster allows debug nodes: the login says what that means.
    assert!(String::from_utf8_lossy(&out.stderr).contains("allows debug (unattested) nodes"), "{out:?}");
    let status = json(&user.sui(&["status", "-o", "json"]));
    let me = &status["logins"][0];
    assert_eq!((me["role"].as_str(), me["chain"].as_str()), (Some("view"), Some("reachable")));
    assert_eq!(me["nodes"].as_array().unwrap().len(), 1, "the registered node");
    let node = &me["nodes"][0];
    assert_eq!((node["attested"].as_bool(), node["active"].as_bool()), (Some(false), Some(true)), "{node}");
    let table = String::from_utf8_lossy(&user.sui(&["status"]).stdout).into_owned();
    assert!(table.contains("debug, not attested (active)"), "{table}");
    let token = me["token"].as_str().unwrap().to_string();

    let granted = admin.sui(&["cluster", "grant", &token, "--role", "edit"]);
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let tokens = json(&user.sui(&["token", "list", "-o", "json"]));
    assert_eq!(tokens[0]["role"], "edit");

    let revoked = admin.sui(&["token", "revoke", &token]);
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert_eq!(json(&user.sui(&["status", "-o", "json"]))["logins"][0]["revoked"], true);

    let unstaked = user.sui(&["token", "unstake", &token]);
    assert!(unstaked.status.success(), "{}", String::from_utf8_lossy(&unstaked.stderr));
    assert!(json(&user.sui(&["status", "-o", "json"]))["logins"].as_array().unwrap().is_empty());
    let view = user.ok(&["config", "get-contexts", "-o", "name"]);
    assert!(!view.contains("sui-lab"), "{view}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_removes_the_context_and_keeps_the_rest() {
    let (devnet, _dir, cluster) = cluster(3_600_000).await;
    let user = User::new();
    std::fs::write(
        user.kubeconfig(),
        "apiVersion: v1\nkind: Config\nclusters: [{name: other, cluster: {server: 'https://other:6443'}}]\nusers: [{name: other, user: {token: keep}}]\ncontexts: [{name: other, context: {cluster: other, user: other}}]\ncurrent-context: other\n",
    )
    .unwrap();
    let args = login_args(&devnet, cluster);
    let out = user.sui(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Backed up"));
    assert_eq!(user.ok(&["config", "current-context"]), "sui-test\n");
    let out = user.sui(&["logout"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(user.ok(&["config", "get-contexts", "-o", "name"]), "other\n");
    assert!(std::fs::read_to_string(user.kubeconfig()).unwrap().contains("keep"));
}
