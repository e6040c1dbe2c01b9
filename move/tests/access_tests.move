#[test_only]
module kubectl_sui::access_tests;

use kubectl_sui::access;
use std::string::String;

fun s(bytes: vector<u8>): String { bytes.to_string() }

#[test]
fun view_reads_everywhere_but_never_writes() {
    let rules = access::role_rules(access::role_view());
    assert!(access::allows(&rules, 0, &s(b""), &s(b"pods"), &s(b"default")));
    assert!(access::allows(&rules, 1, &s(b"apps"), &s(b"deployments"), &s(b"")));
    assert!(access::allows(&rules, 2, &s(b""), &s(b"nodes"), &s(b"")));
    assert!(!access::allows(&rules, 3, &s(b""), &s(b"pods"), &s(b"default")));
    assert!(!access::allows(&rules, 6, &s(b""), &s(b"pods"), &s(b"default")));
}

#[test]
fun edit_writes_namespaced_objects_and_only_reads_cluster_scope() {
    let rules = access::role_rules(access::role_edit());
    assert!(access::allows(&rules, 6, &s(b""), &s(b"pods"), &s(b"default")));
    assert!(access::allows(&rules, 5, &s(b"apps"), &s(b"deployments/scale"), &s(b"prod")));
    assert!(access::allows(&rules, 1, &s(b""), &s(b"namespaces"), &s(b"")));
    assert!(!access::allows(&rules, 3, &s(b""), &s(b"namespaces"), &s(b"")));
}

#[test]
fun admin_does_everything_and_none_nothing() {
    let admin = access::role_rules(access::role_admin());
    assert!(access::allows(&admin, 7, &s(b"rbac.authorization.k8s.io"), &s(b"clusterroles"), &s(b"")));
    let none = access::role_rules(access::role_none());
    assert!(!access::allows(&none, 0, &s(b""), &s(b"pods"), &s(b"default")));
}

#[test]
fun explicit_rules_match_exactly() {
    let rules = access::rules_from_parts(
        vector[0x43], // get, list, delete
        vector[vector[s(b"")]],
        vector[vector[s(b"pods"), s(b"configmaps")]],
        vector[vector[s(b"team-a")]],
    );
    assert!(access::allows(&rules, 6, &s(b""), &s(b"pods"), &s(b"team-a")));
    assert!(access::allows(&rules, 1, &s(b""), &s(b"configmaps"), &s(b"team-a")));
    assert!(!access::allows(&rules, 2, &s(b""), &s(b"pods"), &s(b"team-a")));
    assert!(!access::allows(&rules, 0, &s(b""), &s(b"secrets"), &s(b"team-a")));
    assert!(!access::allows(&rules, 0, &s(b""), &s(b"pods"), &s(b"team-b")));
    assert!(!access::allows(&rules, 0, &s(b"apps"), &s(b"pods"), &s(b"team-a")));
}

#[test]
fun namespace_wildcard_excludes_cluster_scope() {
    let rules = access::rules_from_parts(
        vector[0x01],
        vector[vector[s(b"*")]],
        vector[vector[s(b"*")]],
        vector[vector[s(b"*")]],
    );
    assert!(access::allows(&rules, 0, &s(b""), &s(b"pods"), &s(b"kube-system")));
    assert!(!access::allows(&rules, 0, &s(b""), &s(b"nodes"), &s(b"")));
}

#[test]
fun covers_compares_wildcards_literally() {
    let edit = access::role_rules(access::role_edit());
    let view = access::role_rules(access::role_view());
    let admin = access::role_rules(access::role_admin());
    assert!(access::covers(&admin, &edit));
    assert!(access::covers(&edit, &access::role_rules(access::role_none())));
    assert!(!access::covers(&edit, &admin));
    assert!(!access::covers(&view, &edit));
    let one_ns = access::rules_from_parts(
        vector[0xFF],
        vector[vector[s(b"")]],
        vector[vector[s(b"pods")]],
        vector[vector[s(b"dev")]],
    );
    assert!(access::covers(&edit, &one_ns));
    assert!(!access::covers(&view, &one_ns));
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
    access::rules_from_parts(vector[], vector[], vector[], vector[]);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun unequal_lengths_are_malformed() {
    access::rules_from_parts(vector[1, 2], vector[vector[s(b"")]], vector[vector[s(b"pods")]], vector[vector[s(b"a")]]);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun unknown_verb_bits_are_malformed() {
    access::rules_from_parts(vector[0x100], vector[vector[s(b"")]], vector[vector[s(b"pods")]], vector[vector[s(b"a")]]);
}

#[test, expected_failure(abort_code = access::EMalformedRules)]
fun empty_resource_list_is_malformed() {
    access::rules_from_parts(vector[1], vector[vector[s(b"")]], vector[vector[]], vector[vector[s(b"a")]]);
}
