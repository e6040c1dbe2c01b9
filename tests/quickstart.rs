//! The README's quick start: `kubectl sui up --local-control-plane`, plain kubectl through
//! the chain, `kubectl sui down`, and `up` again resuming from the same data.

use std::process::Output;

use crate::kubectl::{User, without_ages};
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

#[test]
fn up_get_pods_down_up_again() {
    let bin = k8s_bin_dir();
    let user = User::new();
    let up = |user: &User| {
        let mut command = user.command(env!("CARGO_BIN_EXE_kubectl-sui"));
        command.args(["up", "--local-control-plane"]).env("KUBECTL_SUI_K8S_BIN", &bin);
        User::run(command, "")
    };
    let said = succeeded(&up(&user), "kubectl sui up");
    assert!(said.contains("Logged in to cluster local") && said.contains("kubectl sui down"), "{said}");
    // Through the chain, the same answers as straight from the stack's control plane.
    let admin = user.home().join("data/up/k8s/admin.kubeconfig");
    for args in [&["get", "pods", "-A"][..], &["get", "ns"]] {
        let direct = kubectl_sui::controlplane::kubectl(&crate::util::kubectl(), &admin, args, "").unwrap();
        assert_eq!(without_ages(&user.ok(args)), without_ages(&direct), "kubectl {args:?}");
    }
    assert!(user.ok(&["get", "ns", "-o", "name"]).contains("namespace/kube-system"));
    assert_eq!(user.ok(&["create", "namespace", "quickstart"]), "namespace/quickstart created\n");
    let down = succeeded(&user.sui(&["down"]), "kubectl sui down");
    assert!(down.contains("stopped") && down.contains("stack"), "{down}");
    let failed = user.kubectl(&["get", "ns", "quickstart", "--request-timeout=10s"], "");
    assert!(!failed.status.success(), "the chain is down, the proxy cannot answer");

    succeeded(&up(&user), "kubectl sui up (again)");
    assert!(user.ok(&["get", "ns", "quickstart", "-o", "name"]).contains("namespace/quickstart"), "data kept");
    succeeded(&user.sui(&["down"]), "kubectl sui down");
}
