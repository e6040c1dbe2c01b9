//! The same cases as `move/tests/access_tests.move`: the devnet and the contract must agree.

use super::*;

fn none() -> Vec<String> {
    vec![]
}

fn protected() -> Vec<String> {
    default_protected_namespaces()
}

/// `allows` for a resource request with no name and the default protected namespaces.
fn can(rules: &[Rule], verb: Verb, group: &str, resource: &str, namespace: &str) -> bool {
    allows(rules, verb, group, resource, namespace, "", &protected())
}

fn path(rules: &[Rule], path: &str) -> bool {
    allows(rules, Verb::Get, "", "", "", path, &none())
}

#[test]
fn rules_parse_like_kubectl_names_resources() {
    let r = parse_rule("get,list:deployments.apps:prod").unwrap();
    assert!(can(std::slice::from_ref(&r), Verb::List, "apps", "deployments", "prod"));
    assert!(!can(&[r], Verb::Delete, "apps", "deployments", "prod"));
    let any_ns = parse_rule("delete:pods").unwrap();
    assert!(can(std::slice::from_ref(&any_ns), Verb::Delete, "", "pods", "default"));
    assert!(!can(&[any_ns], Verb::Delete, "", "pods", ""));
    assert!(can(&[parse_rule("get:nodes:").unwrap()], Verb::Get, "", "nodes", ""));
    assert!(can(&[parse_rule("*:*").unwrap()], Verb::Patch, "batch", "jobs", "x"));
    assert!(can(&[parse_rule("get:pods/log:a").unwrap()], Verb::Get, "", "pods/log", "a"));
    let metrics = parse_rule("get:/metrics").unwrap();
    assert!(path(std::slice::from_ref(&metrics), "/metrics") && !path(&[metrics], "/metrics/x"));
    assert!(path(&[parse_rule("get:/debug/*").unwrap()], "/debug/pprof/heap"));
    for bad in ["pods", "get:", ":pods", "fly:pods", "delete:/metrics", "get:/metrics:ns"] {
        assert!(parse_rule(bad).is_err(), "{bad}");
    }
}

#[test]
fn view_is_kubernetes_view_without_secrets() {
    let view = role_rules(Role::View);
    assert!(can(&view, Verb::Get, "", "pods", "default"));
    assert!(can(&view, Verb::List, "", "pods", ""), "kubectl get pods -A");
    assert!(can(&view, Verb::Watch, "apps", "deployments", "prod"));
    assert!(can(&view, Verb::Get, "", "pods/log", "default"));
    assert!(can(&view, Verb::List, "", "namespaces", ""));
    assert!(!can(&view, Verb::Get, "", "secrets", "default"), "view reads no Secrets");
    assert!(!can(&view, Verb::List, "", "secrets", ""));
    assert!(!can(&view, Verb::Create, "", "pods", "default"));
    assert!(!can(&view, Verb::Get, "", "nodes", ""), "Kubernetes' view has no nodes");
    assert!(!can(&view, Verb::Create, "", "pods/exec", "default"));
}

#[test]
fn edit_is_kubernetes_edit_in_namespaces_only() {
    let edit = role_rules(Role::Edit);
    assert!(can(&edit, Verb::Delete, "", "pods", "default"));
    assert!(can(&edit, Verb::Patch, "apps", "deployments/scale", "prod"));
    assert!(can(&edit, Verb::Get, "", "secrets", "default"));
    assert!(can(&edit, Verb::Create, "", "serviceaccounts/token", "default"));
    assert!(!can(&edit, Verb::Update, "", "serviceaccounts/token", "default"));
    assert!(can(&edit, Verb::List, "", "namespaces", ""));
    assert!(!can(&edit, Verb::Create, "", "namespaces", ""));
    assert!(!can(&edit, Verb::List, "", "secrets", ""), "no Secret across namespaces");
    assert!(!can(&edit, Verb::Create, "rbac.authorization.k8s.io", "rolebindings", "default"));
    assert!(!can(&edit, Verb::Patch, "", "pods/status", "default"), "status is the system's");
}

#[test]
fn no_preset_reaches_a_protected_namespace() {
    for role in [Role::View, Role::Edit, Role::Admin] {
        let rules = role_rules(role);
        for verb in Verb::ALL {
            for resource in ["secrets", "pods", "serviceaccounts/token", "configmaps"] {
                assert!(!can(&rules, verb, "", resource, DEFAULT_PROTECTED_NAMESPACE), "{role} {verb} {resource}");
            }
        }
        // Unprotected, the same namespace is an ordinary one.
        assert!(allows(&rules, Verb::Get, "", "pods", "nautilus", "", &none()), "{role}");
    }
    let named = parse_rule("get:secrets:nautilus").unwrap();
    assert!(can(&[named], Verb::Get, "", "secrets", "nautilus"), "a rule naming it reaches it");
    assert!(!can(&[parse_rule("get:secrets").unwrap()], Verb::Get, "", "secrets", "nautilus"));
}

#[test]
fn admin_does_everything_else_and_none_nothing() {
    let admin = role_rules(Role::Admin);
    assert!(can(&admin, Verb::DeleteCollection, "rbac.authorization.k8s.io", "clusterroles", ""));
    assert!(can(&admin, Verb::Create, "", "namespaces", ""));
    assert!(path(&admin, "/metrics"));
    assert!(!can(&role_rules(Role::None), Verb::Get, "", "pods", "default"));
}

#[test]
fn subresources_match_exactly_like_rbac() {
    let pods = vec![parse_rule("*:pods:a").unwrap()];
    for sub in ["pods/exec", "pods/attach", "pods/portforward", "pods/log", "pods/proxy", "pods/status"] {
        assert!(!can(&pods, Verb::Create, "", sub, "a"), "{sub}");
        assert!(!can(&pods, Verb::Get, "", sub, "a"), "{sub}");
    }
    assert!(!can(&[parse_rule("create:serviceaccounts:a").unwrap()], Verb::Create, "", "serviceaccounts/token", "a"));
    let any_scale = vec![resource_rule(ALL_VERBS, &["*"], &["*/scale"], &["*"])];
    assert!(can(&any_scale, Verb::Patch, "apps", "deployments/scale", "a"));
    assert!(!can(&any_scale, Verb::Patch, "apps", "deployments", "a"));
    assert!(!can(&any_scale, Verb::Patch, "", "/scale", "a"));
    assert!(can(&[parse_rule("*:*:a").unwrap()], Verb::Create, "", "pods/exec", "a"), "* is every subresource");
}

#[test]
fn non_resource_paths_need_a_rule_but_discovery() {
    let configmaps = vec![parse_rule("get:configmaps:default").unwrap()];
    for p in ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v3", "/version", "/healthz", "/livez", "/readyz"] {
        assert!(path(&configmaps, p), "{p}");
    }
    for p in ["/metrics", "/debug/pprof/", "/logs", "/apiextra", "/", "/configz"] {
        assert!(!path(&configmaps, p), "{p}");
        assert!(!path(&role_rules(Role::Edit), p), "edit {p}");
    }
    // Non-resource requests are reads; resource rules never match them.
    assert!(!allows(&role_rules(Role::Admin), Verb::Create, "", "", "", "/api", &none()));
    assert!(!path(&[parse_rule("*:*:").unwrap()], "/metrics"));
}

#[test]
fn explicit_rules_match_exactly() {
    let rules = vec![resource_rule(
        Verb::Get.bit() | Verb::List.bit() | Verb::Delete.bit(),
        &[""],
        &["pods", "configmaps"],
        &["team-a"],
    )];
    assert!(well_formed(&rules));
    assert!(can(&rules, Verb::Delete, "", "pods", "team-a"));
    assert!(!can(&rules, Verb::Watch, "", "pods", "team-a"));
    assert!(!can(&rules, Verb::Get, "", "secrets", "team-a"));
    assert!(!can(&rules, Verb::Get, "", "pods", "team-b"));
    assert!(!can(&rules, Verb::Get, "apps", "pods", "team-a"));
    assert!(covers(&role_rules(Role::Edit), &rules, &protected()));
    assert!(!covers(&role_rules(Role::View), &rules, &protected()));
}

#[test]
fn covers_compares_wildcards_literally() {
    let (view, edit, admin) = (role_rules(Role::View), role_rules(Role::Edit), role_rules(Role::Admin));
    let p = protected();
    assert!(covers(&admin, &edit, &p) && covers(&edit, &view, &p));
    assert!(!covers(&edit, &admin, &p) && !covers(&view, &edit, &p));
    assert!(!covers(&admin, &[parse_rule("get:secrets:nautilus").unwrap()], &p), "protected stays out of reach");
    assert!(covers(&admin, &[parse_rule("get:/metrics").unwrap()], &p));
    assert!(!covers(&edit, &[parse_rule("get:/metrics").unwrap()], &p));
}

#[test]
fn malformed_rules_are_detected() {
    let ok = resource_rule(1, &["*"], &["*"], &["a"]);
    assert!(!well_formed(&[]));
    assert!(!well_formed(&[Rule { verbs: 0x100, ..ok.clone() }]));
    assert!(!well_formed(&[Rule { verbs: 0, ..ok.clone() }]));
    assert!(!well_formed(&[Rule { resources: vec![], ..ok.clone() }]));
    assert!(!well_formed(&[Rule { non_resource_urls: vec!["/x".into()], ..ok.clone() }]), "both kinds");
    assert!(well_formed(&[url_rule(1, &["/x"])]));
    assert!(!well_formed(&[url_rule(Verb::Create.bit(), &["/x"])]), "URLs are read");
    assert!(!well_formed(&[url_rule(1, &[])]));
}
