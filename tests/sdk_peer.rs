//! The official `@mysten/sui` TypeScript SDK as an independent peer of the devnet: what the
//! SDK builds and signs, the devnet accepts; what the devnet returns, the SDK parses.

use std::process::Command;
use std::time::Duration;

use kubectl_sui::devnet::{Devnet, DevnetConfig, package_id};

use crate::util::repo_root;

/// Installs the SDK from npm (once, pinned by `tests/ts/package-lock.json`).
pub(crate) fn sdk_installed() -> std::path::PathBuf {
    let dir = repo_root().join("tests/ts");
    if !dir.join("node_modules/@mysten/sui").is_dir() {
        let status = Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&dir).status();
        assert!(status.is_ok_and(|s| s.success()), "npm ci in {} failed (is Node.js installed?)", dir.display());
    }
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_sdk_uses_the_devnet() {
    let dir = sdk_installed();
    let data = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(DevnetConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        faucet_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data.path().to_path_buf(),
        checkpoint_interval: Duration::from_millis(50),
        finality: std::time::Duration::ZERO,
    })
    .await
    .unwrap();
    let output = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "devnet.test.mjs"])
        .current_dir(&dir)
        .env("DEVNET_GRPC", devnet.grpc_url())
        .env("DEVNET_FAUCET", devnet.faucet_url())
        .env("DEVNET_PACKAGE", package_id().to_string())
        .output()
        .await
        .expect("node runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the SDK's tests failed:\n{report}");
    assert!(report.contains("pass 5") && report.contains("fail 0"), "{report}");
    devnet.shutdown().await.unwrap();
}
