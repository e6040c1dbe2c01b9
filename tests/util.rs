//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Move sources of the package.
pub fn move_sources() -> PathBuf {
    repo_root().join("move").join("sources")
}

/// Runs a binary of this package with `args` and returns its output.
pub fn run_bin(bin: &str, args: &[&str]) -> Output {
    let path = match bin {
        "kubectl-sui" => env!("CARGO_BIN_EXE_kubectl-sui"),
        "nautilus" => env!("CARGO_BIN_EXE_nautilus"),
        other => panic!("unknown binary {other}"),
    };
    Command::new(path).args(args).current_dir(repo_root()).output().expect("binary runs")
}

/// The directory of the control-plane binaries and kubectl: `$KUBECTL_SUI_K8S_BIN`, or what
/// `kubectl sui control-plane build` builds (from Go modules on first use, then cached).
pub fn k8s_bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        kubectl_sui::controlplane::build::ensure(&mut |p| eprintln!("control plane: {p:?}"))
            .unwrap_or_else(|e| panic!("building the control plane: {e}"))
    })
    .clone()
}

/// The kubectl the tests drive: built with the control plane, so a machine needs none of
/// its own.
pub fn kubectl() -> PathBuf {
    k8s_bin_dir().join("kubectl")
}

/// A control plane with `nodes` kwok nodes in a fresh temporary directory, removed with it.
pub fn start_control_plane(nodes: usize) -> (kubectl_sui::controlplane::ControlPlane, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = kubectl_sui::controlplane::ControlPlaneSpec {
        bin_dir: k8s_bin_dir(),
        work_dir: dir.path().to_path_buf(),
        nodes,
    };
    let plane = kubectl_sui::controlplane::ControlPlane::start(&spec).unwrap_or_else(|e| panic!("control plane: {e}"));
    (plane, dir)
}
