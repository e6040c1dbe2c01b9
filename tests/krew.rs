//! Distribution: the release step (`install.sh --dist`) makes the archive, its checksum and
//! the krew manifest; krew, built from its Go module, installs the plugin from them offline,
//! and kubectl finds it; `install.sh --from-archive` and `--uninstall` do what they say.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{k8s_bin_dir, kubectl, repo_root};

fn run(command: &mut Command) -> String {
    let out = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn archive_name() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "kubectl-sui_linux_arm64.tar.gz",
        _ => "kubectl-sui_linux_amd64.tar.gz",
    }
}

/// The manifest without its checksum line.
fn without_checksum(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().filter(|l| !l.trim_start().starts_with("sha256:")).collect()
}

#[test]
fn krew_installs_the_release_archive_and_kubectl_finds_the_plugin() {
    let dist = tempfile::tempdir().unwrap();
    run(Command::new(repo_root().join("install.sh")).arg("--dist").arg(dist.path()));
    let archive = dist.path().join(archive_name());
    let manifest = dist.path().join("sui.yaml");
    let sum = std::fs::read_to_string(dist.path().join(format!("{}.sha256", archive_name()))).unwrap();
    assert!(std::fs::read_to_string(&manifest).unwrap().contains(&format!("sha256: {}", &sum[..64])));
    assert_eq!(
        without_checksum(&manifest),
        without_checksum(&repo_root().join("plugin/sui.yaml")),
        "plugin/sui.yaml differs from what the release step generates beyond the checksum"
    );

    let krew = run(&mut Command::new(repo_root().join("tests/krew/build.sh")));
    let krew_bin = PathBuf::from(krew.lines().last().unwrap());
    let krew_root = tempfile::tempdir().unwrap();
    let path = std::env::join_paths([krew_bin, k8s_bin_dir()]).unwrap();
    run(Command::new(kubectl())
        .args(["krew", "install", "--manifest"])
        .arg(&manifest)
        .arg("--archive")
        .arg(&archive)
        .env("KREW_ROOT", krew_root.path())
        .env("PATH", &path));
    let installed_bin = krew_root.path().join("bin");
    let path = std::env::join_paths([installed_bin.clone(), k8s_bin_dir()]).unwrap();
    let list = run(Command::new(kubectl()).args(["plugin", "list"]).env("PATH", &path));
    assert!(list.contains(&installed_bin.join("kubectl-sui").display().to_string()), "{list}");
    let help = run(Command::new(kubectl()).args(["sui", "--help"]).env("PATH", &path));
    assert!(help.contains("Usage: kubectl sui <COMMAND>"), "{help}");
    let krew_move = krew_root.path().join("store/sui").read_dir().unwrap().next().unwrap().unwrap().path();
    assert!(krew_move.join("move/Move.toml").is_file(), "krew installs the Move package beside the plugin");

    // install.sh from the same archive, twice (idempotent), then uninstall exactly that.
    let prefix = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let said = run(Command::new(repo_root().join("install.sh"))
            .arg("--prefix")
            .arg(prefix.path())
            .arg("--from-archive")
            .arg(&archive));
        assert!(said.contains("next: kubectl sui --help"), "{said}");
    }
    let bin = prefix.path().join("bin");
    assert!(bin.join("kubectl-sui").is_file() && bin.join("nautilus").is_file());
    let move_package = prefix.path().join("share/kubectl-sui/move");
    assert!(move_package.join("Move.toml").is_file() && move_package.join("sources/request.move").is_file());
    std::fs::write(bin.join("mine"), "not installed by kubectl-sui").unwrap();
    run(Command::new(repo_root().join("install.sh")).arg("--prefix").arg(prefix.path()).arg("--uninstall"));
    assert!(!bin.join("kubectl-sui").exists() && !bin.join("nautilus").exists());
    assert!(!move_package.join("sources/request.move").exists(), "uninstall removes the Move package too");
    assert!(bin.join("mine").exists(), "uninstall removes only what it installed");

    let tampered = dist.path().join("tampered.tar.gz");
    std::fs::copy(&archive, &tampered).unwrap();
    std::fs::write(dist.path().join("tampered.tar.gz.sha256"), format!("{}  tampered.tar.gz\n", "0".repeat(64)))
        .unwrap();
    let out = Command::new(repo_root().join("install.sh"))
        .arg("--prefix")
        .arg(prefix.path())
        .arg("--from-archive")
        .arg(&tampered)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match"));
}
