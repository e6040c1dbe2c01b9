//! The binaries' help, errors and exit codes, as a user sees them.

use crate::util::run_bin;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn plugin_help_lists_every_command() {
    let out = run_bin("kubectl-sui", &["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(help.contains("Usage: kubectl sui <COMMAND>"), "{help}");
    for command in [
        "login",
        "logout",
        "credential",
        "proxy",
        "status",
        "audit",
        "token",
        "cluster",
        "devnet",
        "up",
        "down",
        "contract",
        "control-plane",
        "completion",
    ] {
        assert!(help.contains(&format!("\n  {command} ")), "missing {command} in {help}");
    }
}

#[test]
fn node_help_describes_run() {
    let out = run_bin("nautilus", &["run", "--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    for flag in ["--chain-url", "--cluster", "--kubeconfig", "--data-dir", "--concurrency", "--metrics-listen"] {
        assert!(help.contains(flag), "missing {flag} in {help}");
    }
}

#[tokio::test]
async fn journal_check_reports_mid_file_damage_and_repair_keeps_every_valid_record() {
    use kubectl_sui::journal::Journal;
    use kubectl_sui::node::requests::Entry;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(kubectl_sui::node::JOURNAL_FILE);
    let (journal, _) = Journal::<Entry>::open(&path).unwrap();
    for i in 1..=4u8 {
        journal.append(&Entry::Answered(sui_sdk_types::Address::new([i; 32]))).unwrap().await.unwrap();
    }
    drop(journal);
    let mut bytes = std::fs::read(&path).unwrap();
    let one = bytes.len() / 4;
    bytes[one + 12] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let check = run_bin("nautilus", &["journal", "check", "--data-dir", data_dir]);
    assert!(!check.status.success());
    let text = stdout(&check);
    assert!(text.contains(&format!("DAMAGED at byte {one}")) && text.contains("2 more"), "{text}");
    let repair = run_bin("nautilus", &["journal", "repair", "--data-dir", data_dir]);
    assert!(repair.status.success() && stdout(&repair).contains("kept 3 records"), "{}", stdout(&repair));
    let again = run_bin("nautilus", &["journal", "check", "--data-dir", data_dir]);
    assert!(
        again.status.success() && stdout(&again).contains("3 valid records") && stdout(&again).contains("no damage")
    );
}

#[test]
fn credential_without_a_login_fails_with_one_line_naming_login() {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .arg("credential")
        .env("KUBECTL_SUI_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "stdout carries only an ExecCredential");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "kubectl-sui: error: not logged in to any cluster; run `kubectl sui login --cluster <id|name>`"
    );
}

#[test]
fn contract_verify_passes_on_the_repository_sources() {
    let out = run_bin("kubectl-sui", &["contract", "verify"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout(&out).trim(), "4 modules in move/sources match the mirror");
}

#[test]
fn contract_aborts_json_lists_every_abort() {
    let out = run_bin("kubectl-sui", &["contract", "aborts", "-o", "json"]);
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(rows.len(), kubectl_sui::contract::ABORT_CODES.len());
    assert!(rows.iter().any(|r| r["name"] == "ETokenExpired" && r["httpStatus"] == 403));
}

#[test]
fn completions_are_generated() {
    let out = run_bin("kubectl-sui", &["completion", "bash"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("kubectl-sui"));
}

#[test]
fn kubectl_finds_and_runs_the_plugin() {
    let plugin = std::path::Path::new(env!("CARGO_BIN_EXE_kubectl-sui"));
    let kubectl = crate::util::kubectl();
    // Only the freshly built plugin and kubectl, so an installed copy cannot answer instead.
    let path = std::env::join_paths([plugin.parent().unwrap(), kubectl.parent().unwrap()]).unwrap();
    let list = std::process::Command::new(&kubectl).args(["plugin", "list"]).env("PATH", &path).output().unwrap();
    assert!(stdout(&list).contains(&plugin.display().to_string()), "{}", stdout(&list));
    let help = std::process::Command::new(&kubectl).args(["sui", "--help"]).env("PATH", &path).output().unwrap();
    assert!(help.status.success(), "{}", String::from_utf8_lossy(&help.stderr));
    assert!(stdout(&help).contains("Usage: kubectl sui <COMMAND>"));
}

#[test]
fn a_reader_that_goes_away_ends_the_output_with_status_0() {
    // `kubectl sui contract aborts -o json | head -0`: the reader is gone before the write.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .args(["contract", "aborts", "-o", "json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    assert!(status.stderr.is_empty(), "{}", String::from_utf8_lossy(&status.stderr));
}

/// `kubectl-sui args` with every file under a fresh home.
fn isolated(args: &[&str]) -> std::process::Output {
    let home = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-sui"))
        .args(args)
        .current_dir(crate::util::repo_root())
        .env("KUBECTL_SUI_HOME", home.path())
        .env("KUBECTL_SUI_KEY_STORE", "file")
        .env_remove("SUI_BIN")
        .output()
        .unwrap()
}

#[test]
fn publish_refuses_the_devnet_and_names_how_to_get_a_sui_cli() {
    let out = isolated(&["contract", "publish", "--network", "devnet"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("the embedded devnet runs the contract itself"), "{said}");

    let out = isolated(&["contract", "publish", "--network", "localnet", "--sui", "/nonexistent/sui"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("no `sui` was found") && said.contains("sui-install"), "{said}");
}

#[test]
fn a_devnet_port_taken_by_another_process_names_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let out = isolated(&["devnet", "--listen", &addr, "--data-dir", &data.path().display().to_string()]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("binding {addr}")), "{said}");
    if std::path::Path::new("/proc/net/tcp").exists() {
        assert!(said.contains(&format!("taken by pid {}", std::process::id())), "{said}");
    }
}
