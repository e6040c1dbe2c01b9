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

/// Helm, built from its Go module (`tests/tools/helm`, pinned by go.mod and go.sum) on first
/// use and cached beside the control plane, keyed by the pin's digest.
pub fn helm() -> PathBuf {
    static HELM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HELM.get_or_init(|| {
        let pin = repo_root().join("tests/tools/helm");
        let mut pinned = Vec::new();
        for file in ["go.mod", "go.sum", "tools.go"] {
            pinned.extend(std::fs::read(pin.join(file)).expect("the helm pin"));
        }
        let key: String = kubectl_sui::envelope::digest(&pinned)[..8].iter().map(|b| format!("{b:02x}")).collect();
        let cache = kubectl_sui::controlplane::build::cache_root().with_file_name("tools");
        let binary = cache.join(format!("helm-{key}")).join("helm");
        if binary.is_file() {
            return binary;
        }
        std::fs::create_dir_all(&cache).expect("the tools cache");
        let building = tempfile::tempdir_in(&cache).expect("a build directory");
        for file in ["go.mod", "go.sum", "tools.go"] {
            std::fs::copy(pin.join(file), building.path().join(file)).expect("copying the helm pin");
        }
        let started = std::time::Instant::now();
        let out = Command::new("go")
            .args(["build", "-trimpath", "-o", "helm", "helm.sh/helm/v3/cmd/helm"])
            .current_dir(building.path())
            .output()
            .expect("go (the tests build Helm from its Go module)");
        assert!(out.status.success(), "building helm: {}", String::from_utf8_lossy(&out.stderr));
        eprintln!("built helm in {:?}", started.elapsed());
        let dir = binary.parent().unwrap();
        let staged = building.path().join("out");
        std::fs::create_dir(&staged).unwrap();
        std::fs::rename(building.path().join("helm"), staged.join("helm")).unwrap();
        // Another test process may have won the race: either copy is the same build.
        let _ = std::fs::rename(&staged, dir);
        assert!(binary.is_file(), "helm at {}", binary.display());
        binary
    })
    .clone()
}
