#[test_only]
module kubectl_sui::access_tests;

use kubectl_sui::access;
use std::string::String;

fun s(bytes: vector<u8>): String { bytes.to_string() }

fun protected(): vector<String> { vector[s(b"nautilus")] }

/// A resource request with no name against the default protected namespaces.
fun can(rules: &vector<access::Rule>, verb: u8, group: vector<u8>, resource: vector<u8>, ns: vector<u8>): bool {
    access::allows(rules, verb, &s(group), &s(resource), &s(ns), &s(b""), &protected())
}

/// A non-resource read of `path`.
fun reads(rules: &vector<access::Rule>, path: vector<u8>): bool {
    access::allows(rules, 0, &s(b""), &s(b""), &s(b""), &s(path), &vector[])
}

fun rule(verbs: u16, group: vector<u8>, resource: vector<u8>, ns: vector<u8>): vector<access::Rule> {
    access::rules_from_parts(
        vector[verbs],
        vector[vector[s(group)]],
        vector[vector[s(resource)]],
        vector[vector[s(ns)]],
        vector[vector[]],
    )
}

fun url_rule(url: vector<u8>): vector<access::Rule> {
    access::rules_from_parts(vector[0x01], vector[vector[]], vector[vector[]], vector[vector[]], vector[vector[s(url)]])
}

#[test]
fun view_is_kubernetes_view_without_secrets() {
    let rules = access::role_rules(access::role_view());
    assert!(can(&rules, 0, b"", b"pods", b"default"));
    assert!(can(&rules, 1, b"", b"pods", b""));
    assert!(can(&rules, 2, b"apps", b"deployments", b"prod"));
    assert!(can(&rules, 0, b"", b"pods/log", b"default"));
    assert!(can(&rules, 1, b"", b"namespaces", b""));
    assert!(!can(&rules, 0, b"", b"secrets", b"default"));
    assert!(!can(&rules, 1, b"", b"secrets", b""));
    assert!(!can(&rules, 3, b"", b"pods", b"default"));
    assert!(!can(&rules, 0, b"", b"nodes", b""));
}

#[test]
fun edit_is_kubernetes_edit_in_namespaces_only() {
    let rules = access::role_rules(access::role_edit());
    assert!(can(&rules, 6, b"", b"pods", b"default"));
    assert!(can(&rules, 5, b"apps", b"deployments/scale", b"prod"));
    assert!(can(&rules, 0, b"", b"secrets", b"default"));
    assert!(can(&rules, 3, b"", b"serviceaccounts/token", b"default"));
    assert!(!can(&rules, 4, b"", b"serviceaccounts/token", b"default"));
    assert!(can(&rules, 1, b"", b"namespaces", b""));
    assert!(!can(&rules, 3, b"", b"namespaces", b""));
    assert!(!can(&rules, 1, b"", b"secrets", b""));
    assert!(!can(&rules, 3, b"rbac.authorization.k8s.io", b"rolebindings", b"default"));
    assert!(!can(&rules, 5, b"", b"pods/status", b"default"));
}

#[test]
fun no_preset_reaches_a_protected_namespace() {
    let roles = vector[access::role_view(), access::role_edit(), access::role_admin()];
    roles.do!(|role| {
        let rules = access::role_rules(role);
        let mut verb = 0u8;
        while (verb <= 7) {
            assert!(!can(&rules, verb, b"", b"secrets", b"nautilus"));
            assert!(!can(&rules, verb, b"", b"pods", b"nautilus"));
            assert!(!can(&rules, verb, b"", b"serviceaccounts/token", b"nautilus"));
            verb = verb + 1;
        };
        assert!(access::allows(&rules, 0, &s(b""), &s(b"pods"), &s(b"nautilus"), &s(b""), &vector[]));
    });
    assert!(can(&rule(0x01, b"", b"secrets", b"nautilus"), 0, b"", b"secrets", b"nautilus"));
    assert!(!can(&rule(0x01, b"", b"secrets", b"*"), 0, b"", b"secrets", b"nautilus"));
}

#[test]
fun admin_does_everything_else_and_none_nothing() {
    let admin = access::role_rules(access::role_admin());
    assert!(can(&admin, 7, b"rbac.authorization.k8s.io", b"clusterroles", b""));
    assert!(can(&admin, 3, b"", b"namespaces", b""));
    assert!(reads(&admin, b"/metrics"));
    let none = access::role_rules(access::role_none());
    assert!(!can(&none, 0, b"", b"pods", b"default"));
}

#[test]
fun subresources_match_exactly_like_rbac() {
    let pods = rule(0xFF, b"", b"pods", b"a");
    assert!(!can(&pods, 3, b"", b"pods/exec", b"a"));
    assert!(!can(&pods, 0, b"", b"pods/attach", b"a"));
    assert!(!can(&pods, 3, b"", b"pods/portforward", b"a"));
    assert!(!can(&pods, 0, b"", b"pods/log", b"a"));
    assert!(!can(&pods, 0, b"", b"pods/proxy", b"a"));
    assert!(!can(&rule(0x08, b"", b"serviceaccounts", b"a"), 3, b"", b"serviceaccounts/token", b"a"));
    let any_scale = rule(0xFF, b"*", b"*/scale", b"*");
    assert!(can(&any_scale, 5, b"apps", b"deployments/scale", b"a"));
    assert!(!can(&any_scale, 5, b"apps", b"deployments", b"a"));
    assert!(!can(&any_scale, 5, b"", b"/scale", b"a"));
    assert!(can(&rule(0xFF, b"*", b"*", b"a"), 3, b"", b"pods/exec", b"a"));
}

#[test]
fun non_resource_paths_need_a_rule_but_discovery() {
    let configmaps = rule(0x01, b"", b"configmaps", b"default");
    assert!(reads(&configmaps, b"/api") && reads(&configmaps, b"/api/v1") && reads(&configmaps, b"/apis"));
    assert!(reads(&configmaps, b"/apis/apps/v1") && reads(&configmaps, b"/openapi/v3"));
    assert!(reads(&configmaps, b"/version") && reads(&configmaps, b"/healthz") && reads(&configmaps, b"/readyz"));
    assert!(!reads(&configmaps, b"/metrics") && !reads(&configmaps, b"/debug/pprof/"));
    assert!(!reads(&configmaps, b"/apiextra") && !reads(&configmaps, b"/"));
    assert!(!reads(&access::role_rules(access::role_edit()), b"/metrics"));
    assert!(!reads(&rule(0xFF, b"*", b"*", b""), b"/metrics"));
    let metrics = url_rule(b"/metrics");
    assert!(reads(&metrics, b"/metrics") && !reads(&metrics, b"/metrics/x"));
    assert!(reads(&url_rule(b"/debug/*"), b"/debug/pprof/heap"));
    let admin = access::role_rules(access::role_admin());
    assert!(!access::allows(&admin, 3, &s(b""), &s(b""), &s(b""), &s(b"/api"), &vector[]));
    assert!(access::is_discovery(&s(b"/openapi/v2")) && !access::is_discovery(&s(b"/logs")));
}

#[test]
fun explicit_rules_match_exactly() {
    let rules = access::rules_from_parts(
        vector[0x43], // get, list, delete
        vector[vector[s(b"")]],
        vector[vector[s(b"pods"), s(b"configmaps")]],
        vector[vector[s(b"team-a")]],
        vector[vector[]],
    );
    assert!(can(&rules, 6, b"", b"pods", b"team-a"));
    assert!(can(&rules, 1, b"", b"configmaps", b"team-a"));
    assert!(!can(&rules, 2, b"", b"pods", b"team-a"));
    assert!(!can(&rules, 0, b"", b"secrets", b"team-a"));
    assert!(!can(&rules, 0, b"", b"pods", b"team-b"));
    assert!(!can(&rules, 0, b"apps", b"pods", b"team-a"));
}

#[test]
fun namespace_wildcard_excludes_cluster_scope() {
    let rules = rule(0x01, b"*", b"*", b"*");
    assert!(can(&rules, 0, b"", b"pods", b"kube-system"));
    assert!(!can(&rules, 0, b"", b"nodes", b""));
}

#[test]
fun covers_compares_wildcards_literally() {
    let edit = access::role_rules(access::role_edit());
    let view = access::role_rules(access::role_view());
    let admin = access::role_rules(access::role_admin());
    let p = protected();
    assert!(access::covers(&admin, &edit, &p));
    assert!(access::covers(&edit, &view, &p));
    assert!(access::covers(&edit, &access::role_rules(access::role_none()), &p));
    assert!(!access::covers(&edit, &admin, &p));
    assert!(!access::covers(&view, &edit, &p));
    let one_ns = rule(0xFF, b"", b"pods", b"dev");
    assert!(access::covers(&edit, &one_ns, &p));
    assert!(!access::covers(&view, &one_ns, &p));
    assert!(!access::covers(&admin, &rule(0x01, b"", b"secrets", b"nautilus"), &p));
    assert!(access::covers(&admin, &url_rule(b"/metrics"), &p));
    assert!(!access::covers(&edit, &url_rule(b"/metrics"), &p));
}

#[test]
fun read_verbs_are_get_list_watch() {
    assert!(access::is_read(0) && access::is_read(1) && access::is_read(2));
    assert!(!access::is_read(3) && !access::is_read(7));
    access::assert_verb(7);
}

#[test, expected_failure(abort_code = access::EInvalidVerb)]
fun verb_eight_is_invalid() {
    access::assert_verb(8);
}

#[test, expected_failure(abort_code = access::EInvalidRole)]
fun role_five_is_invalid() {
    access::role_rules(5);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun empty_rules_are_malformed() {
    access::rules_from_parts(vector[], vector[], vector[], vector[], vector[]);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun unequal_lengths_are_malformed() {
    access::rules_from_parts(
        vector[1, 2],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"a")]],
        vector[vector[]],
    );
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun unknown_verb_bits_are_malformed() {
    rule(0x100, b"", b"pods", b"a");
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun empty_resource_list_is_malformed() {
    access::rules_from_parts(vector[1], vector[vector[s(b"")]], vector[vector[]], vector[vector[s(b"a")]], vector[vector[]]);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun a_rule_of_both_kinds_is_malformed() {
    access::rules_from_parts(
        vector[1],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"a")]],
        vector[vector[s(b"/metrics")]],
    );
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun a_url_rule_that_writes_is_malformed() {
    access::rules_from_parts(vector[0x08], vector[vector[]], vector[vector[]], vector[vector[]], vector[vector[s(b"/x")]]);
}
