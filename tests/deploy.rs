//! The operator's manifests in `deploy/` against the real control plane: the API server
//! accepts them (`--dry-run=server`), and the node's service account may impersonate and
//! nothing more.

use crate::util::{repo_root, start_control_plane};

#[test]
fn deployment_manifests_pass_a_server_dry_run_and_grant_only_impersonation() {
    let (plane, _dir) = start_control_plane(1);
    let manifest = repo_root().join("deploy/nautilus.yaml");
    let groups = repo_root().join("deploy/rbac-groups.yaml");
    plane.kubectl(&["create", "namespace", "nautilus"]).unwrap();
    for file in [&manifest, &groups] {
        let out = plane.kubectl(&["apply", "--dry-run=server", "-f", file.to_str().unwrap()]).unwrap();
        assert!(out.lines().all(|l| l.ends_with("(server dry run)")), "{out}");
    }
    let applied = plane.kubectl(&["apply", "-f", manifest.to_str().unwrap()]).unwrap();
    assert!(applied.contains("deployment.apps/nautilus created"), "{applied}");
    // `kubectl auth can-i` prints yes and exits 0, or prints no and exits 1.
    let can = |args: &[&str]| {
        let mut full = vec!["auth", "can-i", "--as=system:serviceaccount:nautilus:nautilus"];
        full.extend_from_slice(args);
        plane.kubectl(&full).is_ok_and(|o| o.trim() == "yes")
    };
    assert!(can(&["impersonate", "users"]) && can(&["impersonate", "groups"]));
    for denied in [&["get", "secrets", "-A"][..], &["create", "pods"], &["impersonate", "serviceaccounts"]] {
        assert!(!can(denied), "{denied:?} must be denied");
    }
}
