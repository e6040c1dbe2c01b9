//! The operator's manifests in `deploy/` against the real control plane: the API server
//! accepts them (`--dry-run=server`), the node's service account impersonates only the users
//! and groups it uses, and no `sui:*` group or user, even after the node has bound its roles,
//! reaches the node's namespace, Secret or ServiceAccount, all checked by the API server's own
//! authorizer with `kubectl auth can-i`, positively and negatively.

use kubectl_sui::contract::Role;
use kubectl_sui::contract::access::parse_rule;
use kubectl_sui::node::kube::KubeApi;
use kubectl_sui::node::rbac::{Grant, Reconciler};
use sui_sdk_types::Address;

use crate::util::{repo_root, start_control_plane};

const USER: &str = "sui:0x00000000000000000000000000000000000000000000000000000000000000aa";

#[test]
fn deployment_manifests_keep_every_sui_identity_out_of_the_nodes_namespace() {
    let (plane, _dir) = start_control_plane(1);
    let manifest = repo_root().join("deploy/nautilus.yaml");
    let groups = repo_root().join("deploy/rbac-groups.yaml");
    plane.kubectl(&["create", "namespace", "nautilus"]).unwrap();
    for file in [&manifest, &groups] {
        let out = plane.kubectl(&["apply", "--dry-run=server", "-f", file.to_str().unwrap()]).unwrap();
        assert!(out.lines().all(|l| l.ends_with("(server dry run)")), "{out}");
    }
    for file in [&manifest, &groups] {
        plane.kubectl(&["apply", "-f", file.to_str().unwrap()]).unwrap();
    }
    plane.kubectl(&["create", "namespace", "team-a"]).unwrap();

    // What the node binds before serving requests: the presets in `default` and `team-a`,
    // a custom token's rules, and (refused) the protected namespace.
    let protected = vec!["nautilus".to_string()];
    let token = Address::from_static("0x70");
    let requester = Address::from_static("0xaa");
    let custom = vec![parse_rule("get,list:configmaps:team-a").unwrap(), parse_rule("get:nodes:").unwrap()];
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let kube = KubeApi::connect(Some(plane.kubeconfig())).await.unwrap();
        let rbac = Reconciler::new(kube.client());
        for namespace in ["default", "team-a", "nautilus", ""] {
            for role in [Role::View, Role::Edit, Role::Admin] {
                let grant = Grant { token, requester, role, rules: &[], namespace };
                rbac.ensure(&grant, &protected).await.unwrap();
            }
            let grant = Grant { token, requester, role: Role::Custom, rules: &custom, namespace };
            rbac.ensure(&grant, &protected).await.unwrap();
            assert!(!rbac.ensure(&grant, &protected).await.unwrap(), "applied once");
        }
    });

    // `kubectl auth can-i` prints yes and exits 0, or prints no and exits 1. Cluster-scoped
    // checks pass -A: the API server asks them with no namespace.
    let can = |who: &[&str], args: &[&str]| {
        let mut full = vec!["auth", "can-i"];
        full.extend_from_slice(who);
        full.extend_from_slice(args);
        plane.kubectl(&full).is_ok_and(|o| o.trim() == "yes")
    };
    let node = ["--as=system:serviceaccount:nautilus:nautilus"];
    assert!(can(&node, &["impersonate", "users", "-A"]));
    for group in ["sui:view", "sui:edit", "sui:admin", "sui:custom"] {
        assert!(can(&node, &["impersonate", &format!("groups/{group}"), "-A"]), "{group}");
    }
    // The API server adds `system:authenticated` to an impersonated user itself.
    for denied in [
        &["impersonate", "groups/system:authenticated", "-A"][..],
        &["impersonate", "groups/system:masters", "-A"][..],
        &["impersonate", "serviceaccounts"],
        &["get", "secrets", "-A"],
        &["create", "pods"],
    ] {
        assert!(!can(&node, denied), "node: {denied:?} must be denied");
    }

    let as_group = |g: &str| [format!("--as={USER}"), format!("--as-group={g}")];
    for group in ["sui:view", "sui:edit", "sui:admin", "sui:custom"] {
        let who = as_group(group);
        let who: Vec<&str> = who.iter().map(String::as_str).collect();
        for denied in [
            &["get", "secrets", "-n", "nautilus"][..],
            &["get", "secret/nautilus-keys", "-n", "nautilus"],
            &["list", "secrets", "-A"],
            &["create", "pods", "-n", "nautilus"],
            &["create", "serviceaccounts/token", "-n", "nautilus"],
            &["create", "serviceaccounts", "--subresource=token", "-n", "nautilus"],
            &["patch", "deployment/nautilus", "-n", "nautilus"],
            &["create", "rolebindings", "-n", "nautilus"],
            &["impersonate", "users", "-A"],
            &["impersonate", "groups", "-A"],
            &["impersonate", "serviceaccounts", "-n", "nautilus"],
            &["bind", "clusterroles", "-A"],
            &["escalate", "clusterroles", "-A"],
            &["create", "mutatingwebhookconfigurations", "-A"],
            &["create", "validatingwebhookconfigurations", "-A"],
        ] {
            assert!(!can(&who, denied), "{group}: {denied:?} must be denied");
        }
    }
    let allowed = |group: &str, args: &[&str]| {
        let who = as_group(group);
        let who: Vec<&str> = who.iter().map(String::as_str).collect();
        can(&who, args)
    };
    // view: Kubernetes' view, across namespaces, no Secret.
    assert!(allowed("sui:view", &["list", "pods", "-A"]));
    assert!(allowed("sui:view", &["get", "configmaps", "-n", "default"]));
    assert!(!allowed("sui:view", &["get", "secrets", "-n", "default"]));
    assert!(!allowed("sui:view", &["create", "configmaps", "-n", "default"]));
    // edit: Kubernetes' edit where the node bound it, never across namespaces.
    assert!(allowed("sui:edit", &["create", "secrets", "-n", "default"]));
    assert!(allowed("sui:edit", &["patch", "deployments.apps", "-n", "team-a"]));
    assert!(!allowed("sui:edit", &["create", "secrets", "-n", "kube-system"]), "not bound there yet");
    assert!(!allowed("sui:edit", &["create", "namespaces"]));
    // admin: everything in bound namespaces, cluster-scoped resources, no Secret across them.
    assert!(allowed("sui:admin", &["create", "namespaces"]));
    assert!(allowed("sui:admin", &["delete", "rolebindings", "-n", "team-a"]));
    assert!(allowed("sui:admin", &["get", "nodes"]));
    assert!(!allowed("sui:admin", &["get", "secrets", "-n", "kube-system"]));
    // custom: exactly its rules, bound to its user.
    assert!(allowed("sui:custom", &["list", "configmaps", "-n", "team-a"]));
    assert!(allowed("sui:custom", &["get", "nodes"]));
    assert!(!allowed("sui:custom", &["delete", "configmaps", "-n", "team-a"]));
    assert!(!allowed("sui:custom", &["get", "configmaps", "-n", "default"]));
    assert!(!allowed("sui:custom", &["get", "pods", "-n", "team-a"]));
    // The admin cannot write its way into the protected namespace: the API server refuses
    // RBAC that grants more than its author holds.
    let binding = r#"{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"grab"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"sui:admin"}]}"#;
    let escalation =
        plane.kubectl_stdin(&["create", &format!("--as={USER}"), "--as-group=sui:admin", "-f", "-"], binding);
    assert!(format!("{escalation:?}").contains("forbidden"), "{escalation:?}");

    // A revoked token's objects go; a namespace that becomes protected loses every binding.
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let kube = KubeApi::connect(Some(plane.kubeconfig())).await.unwrap();
        let rbac = Reconciler::new(kube.client());
        rbac.remove(&token).await.unwrap();
        rbac.unbind_namespace("team-a").await.unwrap();
    });
    assert!(!allowed("sui:custom", &["list", "configmaps", "-n", "team-a"]));
    assert!(!allowed("sui:custom", &["get", "nodes"]));
    assert!(!allowed("sui:edit", &["patch", "deployments.apps", "-n", "team-a"]));
    assert!(allowed("sui:edit", &["create", "secrets", "-n", "default"]), "other namespaces keep theirs");
}
