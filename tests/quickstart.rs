//! The README's quick start as a new user runs it: `kubectl sui up` in an empty HOME with
//! nothing else set (the installed binary when CI names it in `$KUBECTL_SUI_INSTALLED`), plain
//! kubectl through the chain, `kubectl sui down`, `up` again resuming from the same data, and
//! `down --purge`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::kubectl::without_ages;
use crate::util::k8s_bin_dir;

fn succeeded(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A command as a new user's shell runs it: an empty HOME, no kubectl-sui or kubeconfig
/// variables, kubectl and the plugin on PATH. Only the control plane's build cache is shared
/// (`$KUBECTL_SUI_K8S_CACHE`), so the test does not rebuild what `up` would build once.
fn fresh(home: &Path, plugin: &Path, program: &str, args: &[&str]) -> Output {
    let path = format!("{}:{}:/usr/bin:/bin", plugin.parent().unwrap().display(), k8s_bin_dir().display());
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("HOME", home)
        .env("PATH", path)
        .env("KUBECTL_SUI_K8S_CACHE", kubectl_sui::controlplane::build::cache_root())
        // No keyring daemon in CI: keys go to a 0600 file, as `login` offers without one.
        .env("KUBECTL_SUI_KEY_STORE", "file")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command.output().expect("runs")
}

/// `up` takes the default ports (9410, 9411, 9412): the quick-start tests run one at a time.
static DEFAULT_PORTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Stops the stack a test's `kubectl sui up` started in `home` when the test ends, even by a
/// panic before its `down`: a stack left running holds the default ports of the next run.
struct StopsStack<'a>(&'a Path);

impl Drop for StopsStack<'_> {
    fn drop(&mut self) {
        let pid_file = self.0.join(".local/share/kubectl-sui/up/stack.pid");
        if let Some(pid) = std::fs::read_to_string(pid_file).ok().and_then(|p| p.trim().parse().ok()) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
    }
}

fn default_ports() -> std::sync::MutexGuard<'static, ()> {
    DEFAULT_PORTS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn up_get_pods_down_up_again() {
    let _ports = default_ports();
    // Built (or found) the way `up` does it; `up` then finds the same cache entry itself.
    k8s_bin_dir();
    let plugin: PathBuf = std::env::var_os("KUBECTL_SUI_INSTALLED")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kubectl-sui").into());
    let home = tempfile::tempdir().unwrap();
    let _stops = StopsStack(home.path());
    let run = |program: &str, args: &[&str]| fresh(home.path(), &plugin, program, args);
    let kubectl = |args: &[&str]| succeeded(&run("kubectl", args), &format!("kubectl {args:?}"));

    let said = succeeded(&run("kubectl", &["sui", "up"]), "kubectl sui up");
    assert!(said.contains("Logged in to cluster local") && said.contains("kubectl sui down"), "{said}");
    // Through the chain, the same answers as straight from the stack's control plane.
    let data = home.path().join(".local/share/kubectl-sui/up");
    let admin = data.join("k8s/admin.kubeconfig");
    let direct = |args: &[&str]| kubectl_sui::controlplane::kubectl(&crate::util::kubectl(), &admin, args, "").unwrap();
    for args in [&["get", "pods", "-A"][..], &["get", "ns"]] {
        assert_eq!(without_ages(&kubectl(args)), without_ages(&direct(args)), "kubectl {args:?}");
    }
    assert!(kubectl(&["get", "ns", "-o", "name"]).contains("namespace/kube-system"));
    assert_eq!(kubectl(&["create", "namespace", "quickstart"]), "namespace/quickstart created\n");
    // A fake pod to exec into, now and after a restart (kwok keeps its port, which the nodes'
    // status names: otherwise logs and exec reach nothing once the stack restarts).
    direct(&["run", "p", "--image=busybox"]);
    direct(&["wait", "--for=condition=Ready", "pod/p", "--timeout=60s"]);
    assert_eq!(kubectl(&["exec", "p", "--", "echo", "hi"]), "hi\n");
    let status = succeeded(&run("kubectl", &["sui", "status"]), "kubectl sui status");
    for component in ["devnet", "node", "control plane", "proxy"] {
        assert!(status.contains(component), "status shows the {component}: {status}");
    }
    let down = succeeded(&run("kubectl", &["sui", "down"]), "kubectl sui down");
    assert!(down.contains("stopped") && down.contains("stack"), "{down}");
    let failed = run("kubectl", &["get", "ns", "quickstart", "--request-timeout=10s"]);
    assert!(!failed.status.success(), "the chain is down, the proxy cannot answer");
    // kubectl shows the credential command's error: what failed and what to run, with this
    // start's log lines only (not the last run's "proxy ready").
    let said = String::from_utf8_lossy(&failed.stderr);
    assert!(said.contains("cannot reach the devnet chain") && said.contains("`kubectl sui up` starts it"), "{said}");
    assert!(!said.contains("proxy ready"), "{said}");
    let stopped = succeeded(&run("kubectl", &["sui", "status"]), "kubectl sui status (stack stopped)");
    assert!(stopped.contains("stack     stopped") && stopped.contains("`kubectl sui up` resumes it"), "{stopped}");

    succeeded(&run("kubectl", &["sui", "up"]), "kubectl sui up (again)");
    assert!(kubectl(&["get", "ns", "quickstart", "-o", "name"]).contains("namespace/quickstart"), "data kept");
    assert_eq!(kubectl(&["exec", "p", "--", "echo", "again"]), "again\n", "exec after the restart");
    assert!(kubectl(&["logs", "p"]).contains("kwok container started"), "logs after the restart");
    let purged = succeeded(&run("kubectl", &["sui", "down", "--purge"]), "kubectl sui down --purge");
    assert!(purged.contains("removed"), "{purged}");
    assert!(!data.exists(), "the stack's data is gone");
}

#[test]
fn up_serves_an_existing_cluster_only_when_named_and_then_for_viewing() {
    let _ports = default_ports();
    let (plane, _plane_dir) = crate::util::start_control_plane(1);
    let plugin: PathBuf = std::env::var_os("KUBECTL_SUI_INSTALLED")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_kubectl-sui").into());
    let home = tempfile::tempdir().unwrap();
    let _stops = StopsStack(home.path());
    std::fs::create_dir_all(home.path().join(".kube")).unwrap();
    std::fs::copy(plane.kubeconfig(), home.path().join(".kube/config")).unwrap();
    let run = |program: &str, args: &[&str]| fresh(home.path(), &plugin, program, args);

    let missing = run("kubectl", &["sui", "up", "--context", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no context nope"), "{missing:?}");

    let said = succeeded(&run("kubectl", &["sui", "up", "--context", "local"]), "kubectl sui up --context local");
    assert!(said.contains("context local") && said.contains("role view"), "{said}");
    // Reads through the chain; a write is refused by the contract: self-service is view.
    let namespaces = succeeded(&run("kubectl", &["get", "ns", "-o", "name"]), "kubectl get ns");
    assert!(namespaces.contains("namespace/default"), "{namespaces}");
    let write = run("kubectl", &["create", "namespace", "not-allowed"]);
    assert!(!write.status.success(), "a view token cannot write");
    assert!(String::from_utf8_lossy(&write.stderr).contains("Forbidden"), "{write:?}");
    assert!(plane.kubectl(&["get", "ns", "not-allowed"]).is_err(), "nothing was created");
    // The data directory keeps what it serves.
    let other = run("kubectl", &["sui", "up", "--context", "elsewhere"]);
    assert!(String::from_utf8_lossy(&other.stderr).contains("already serves context local"), "{other:?}");
    succeeded(&run("kubectl", &["sui", "down", "--purge"]), "kubectl sui down --purge");
}
