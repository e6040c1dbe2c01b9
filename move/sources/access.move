/// Kubernetes-RBAC-shaped permissions: verbs x API groups x resources x namespaces.
///
/// This module owns the `Rule` type, the predefined roles and the matching logic, which follow
/// Kubernetes RBAC (`PolicyRule`, `ResourceMatches`, `NonResourceURLMatches`) so that the
/// node can reconcile a token's rules into RBAC the cluster enforces as well. It holds no
/// objects and emits no events; `seal_token` stores rules and `request` asks whether they
/// allow a call.
module kubectl_sui::access;

use std::string::String;

/// A verb code is not one of the eight Kubernetes verbs (0..=7).
const EInvalidVerb: u64 = 10;
/// A role code is not none/view/edit/admin (0..=3).
const EInvalidRole: u64 = 11;
/// Explicit rules are empty, of unequal lengths, or name no verb / an unknown verb bit.
const EMalformedRules: u64 = 12;

// Verb codes, in Kubernetes' order. The bitmask of a rule has bit `1 << code` set per verb.
const VERB_GET: u8 = 0;
const VERB_LIST: u8 = 1;
const VERB_WATCH: u8 = 2;
const VERB_DELETECOLLECTION: u8 = 7;
const READ_VERBS: u16 = 0x07;
const CREATE_VERB: u16 = 0x08;
const ALL_VERBS: u16 = 0xFF;

// Role codes. `ROLE_CUSTOM` marks rules granted explicitly instead of from a preset.
const ROLE_NONE: u8 = 0;
const ROLE_VIEW: u8 = 1;
const ROLE_EDIT: u8 = 2;
const ROLE_ADMIN: u8 = 3;
const ROLE_CUSTOM: u8 = 4;

/// One permission rule, shaped like an RBAC `PolicyRule`: either a resource rule (groups,
/// resources and namespaces set, `non_resource_urls` empty) or a non-resource rule (only
/// `non_resource_urls`). `"*"` in `groups` matches any group; in `resources` any resource and
/// subresource, `"*/sub"` one subresource of any resource; in `namespaces` every namespace
/// except the policy's protected ones, but not cluster-scoped calls, which `""` names. A
/// non-resource URL matches exactly, or by prefix when it ends in `*`.
public struct Rule has copy, drop, store {
    verbs: u16,
    groups: vector<String>,
    resources: vector<String>,
    namespaces: vector<String>,
    non_resource_urls: vector<String>,
}

public fun role_none(): u8 { ROLE_NONE }

public fun role_view(): u8 { ROLE_VIEW }

public fun role_edit(): u8 { ROLE_EDIT }

public fun role_admin(): u8 { ROLE_ADMIN }

public fun role_custom(): u8 { ROLE_CUSTOM }

/// The rules of a predefined role. `view` and `edit` are Kubernetes' own roles of those
/// names (bootstrap policy of Kubernetes 1.33): view reads the non-escalating resources (no
/// Secrets) in every namespace and across namespaces; edit adds writes to them, Secrets and
/// the pod subresources, in namespaces only. `admin` does everything outside the protected
/// namespaces. No preset reaches a protected namespace.
public fun role_rules(role: u8): vector<Rule> {
    if (role == ROLE_NONE) {
        vector[]
    } else if (role == ROLE_VIEW) {
        view_rules()
    } else if (role == ROLE_EDIT) {
        let mut rules = view_rules();
        rules.append(edit_rules());
        rules
    } else if (role == ROLE_ADMIN) {
        vector[
            Rule {
                verbs: ALL_VERBS,
                groups: vector[b"*".to_string()],
                resources: vector[b"*".to_string()],
                namespaces: vector[b"*".to_string(), b"".to_string()],
                non_resource_urls: vector[],
            },
            Rule {
                verbs: READ_VERBS,
                groups: vector[],
                resources: vector[],
                namespaces: vector[],
                non_resource_urls: vector[b"*".to_string()],
            },
        ]
    } else {
        abort EInvalidRole
    }
}

/// Kubernetes' `view` (`system:aggregate-to-view`), read verbs, in every namespace and
/// across namespaces.
fun view_rules(): vector<Rule> {
    let ns = vector[b"*".to_string(), b"".to_string()];
    vector[
        preset(READ_VERBS, b"", vector[
            b"pods", b"replicationcontrollers", b"replicationcontrollers/scale", b"serviceaccounts",
            b"services", b"services/status", b"endpoints", b"persistentvolumeclaims",
            b"persistentvolumeclaims/status", b"configmaps", b"limitranges", b"resourcequotas",
            b"bindings", b"events", b"pods/status", b"resourcequotas/status", b"namespaces/status",
            b"replicationcontrollers/status", b"pods/log", b"namespaces",
        ], ns),
        preset(READ_VERBS, b"discovery.k8s.io", vector[b"endpointslices"], ns),
        preset(READ_VERBS, b"apps", vector[
            b"controllerrevisions", b"statefulsets", b"statefulsets/status", b"statefulsets/scale",
            b"daemonsets", b"daemonsets/status", b"deployments", b"deployments/status",
            b"deployments/scale", b"replicasets", b"replicasets/status", b"replicasets/scale",
        ], ns),
        preset(READ_VERBS, b"autoscaling", vector[
            b"horizontalpodautoscalers", b"horizontalpodautoscalers/status",
        ], ns),
        preset(READ_VERBS, b"batch", vector[b"jobs", b"cronjobs", b"cronjobs/status", b"jobs/status"], ns),
        preset(READ_VERBS, b"extensions", vector[
            b"daemonsets", b"daemonsets/status", b"deployments", b"deployments/scale",
            b"deployments/status", b"ingresses", b"ingresses/status", b"replicasets",
            b"replicasets/scale", b"replicasets/status", b"replicationcontrollers/scale",
            b"networkpolicies",
        ], ns),
        preset(READ_VERBS, b"policy", vector[b"poddisruptionbudgets", b"poddisruptionbudgets/status"], ns),
        preset(READ_VERBS, b"networking.k8s.io", vector[b"networkpolicies", b"ingresses", b"ingresses/status"], ns),
    ]
}

/// What Kubernetes' `edit` (`system:aggregate-to-edit`) adds to `view`, in namespaces only:
/// no Secret is listed across namespaces, where a protected namespace's would be.
fun edit_rules(): vector<Rule> {
    let ns = vector[b"*".to_string()];
    vector[
        preset(ALL_VERBS, b"", vector[
            b"pods", b"pods/attach", b"pods/proxy", b"pods/exec", b"pods/portforward",
            b"replicationcontrollers", b"replicationcontrollers/scale", b"serviceaccounts",
            b"services", b"services/proxy", b"persistentvolumeclaims", b"configmaps", b"secrets",
            b"events",
        ], ns),
        preset(CREATE_VERB, b"", vector[b"pods/eviction", b"serviceaccounts/token"], ns),
        preset(ALL_VERBS, b"apps", vector[
            b"statefulsets", b"statefulsets/scale", b"daemonsets", b"deployments",
            b"deployments/scale", b"deployments/rollback", b"replicasets", b"replicasets/scale",
        ], ns),
        preset(ALL_VERBS, b"autoscaling", vector[b"horizontalpodautoscalers"], ns),
        preset(ALL_VERBS, b"batch", vector[b"jobs", b"cronjobs"], ns),
        preset(ALL_VERBS, b"extensions", vector[
            b"daemonsets", b"deployments", b"deployments/scale", b"deployments/rollback",
            b"ingresses", b"replicasets", b"replicasets/scale", b"replicationcontrollers/scale",
            b"networkpolicies",
        ], ns),
        preset(ALL_VERBS, b"policy", vector[b"poddisruptionbudgets"], ns),
        preset(ALL_VERBS, b"networking.k8s.io", vector[b"networkpolicies", b"ingresses"], ns),
        preset(ALL_VERBS, b"coordination.k8s.io", vector[b"leases"], ns),
    ]
}

fun preset(verbs: u16, group: vector<u8>, resources: vector<vector<u8>>, namespaces: vector<String>): Rule {
    Rule {
        verbs,
        groups: vector[group.to_string()],
        resources: resources.map!(|r| r.to_string()),
        namespaces,
        non_resource_urls: vector[],
    }
}

/// Builds explicit rules from parallel vectors, the shape a transaction can pass as pure
/// arguments. Each rule is a resource rule (groups, resources, namespaces non-empty, no URL)
/// or a non-resource rule (URLs only, get only: non-resource requests are reads).
public fun rules_from_parts(
    verbs: vector<u16>,
    groups: vector<vector<String>>,
    resources: vector<vector<String>>,
    namespaces: vector<vector<String>>,
    non_resource_urls: vector<vector<String>>,
): vector<Rule> {
    let n = verbs.length();
    assert!(
        n > 0 && groups.length() == n && resources.length() == n && namespaces.length() == n
            && non_resource_urls.length() == n,
        EMalformedRules,
    );
    let mut rules = vector[];
    let mut i = 0;
    while (i < n) {
        let v = verbs[i];
        assert!(v != 0 && (v & ALL_VERBS) == v, EMalformedRules);
        let resource_rule = !groups[i].is_empty() && !resources[i].is_empty() && !namespaces[i].is_empty()
            && non_resource_urls[i].is_empty();
        let url_rule = groups[i].is_empty() && resources[i].is_empty() && namespaces[i].is_empty()
            && !non_resource_urls[i].is_empty() && (v & READ_VERBS) == v;
        assert!(resource_rule || url_rule, EMalformedRules);
        rules.push_back(Rule {
            verbs: v,
            groups: groups[i],
            resources: resources[i],
            namespaces: namespaces[i],
            non_resource_urls: non_resource_urls[i],
        });
        i = i + 1;
    };
    rules
}

/// Aborts unless `verb` is a known verb code.
public fun assert_verb(verb: u8) {
    assert!(verb <= VERB_DELETECOLLECTION, EInvalidVerb);
}

/// True for get, list and watch: the verbs that need no stake.
public fun is_read(verb: u8): bool {
    verb == VERB_GET || verb == VERB_LIST || verb == VERB_WATCH
}

/// Whether any rule allows `verb` on `group`/`resource` (with its subresource, `pods/log`)
/// named `name` in `namespace` (`""` = cluster scope), none of `protected` reached through
/// `"*"`. A non-resource request has resource `""` and its path as `name`; every token may
/// read discovery, as Kubernetes' `system:discovery` lets every user.
public fun allows(
    rules: &vector<Rule>,
    verb: u8,
    group: &String,
    resource: &String,
    namespace: &String,
    name: &String,
    protected: &vector<String>,
): bool {
    let bit = 1u16 << verb;
    if (resource.is_empty()) {
        return verb == VERB_GET && (is_discovery(name) || rules.any!(|r| {
            (r.verbs & bit) != 0 && r.non_resource_urls.any!(|u| url_matches(u, name))
        }))
    };
    rules.any!(|r| {
        (r.verbs & bit) != 0
            && matches(&r.groups, group)
            && resource_matches(&r.resources, resource)
            && namespace_matches(&r.namespaces, namespace, protected)
    })
}

/// Whether `granted` allows everything `requested` names, wildcards included literally.
public fun covers(granted: &vector<Rule>, requested: &vector<Rule>, protected: &vector<String>): bool {
    let none = b"".to_string();
    requested.all!(|r| {
        let mut verb = 0u8;
        let mut ok = true;
        while (ok && verb <= VERB_DELETECOLLECTION) {
            if ((r.verbs & (1u16 << verb)) != 0) {
                ok = r.groups.all!(|g| r.resources.all!(|res| r.namespaces.all!(|ns| {
                    allows(granted, verb, g, res, ns, &none, protected)
                }))) && r.non_resource_urls.all!(|u| allows(granted, verb, &none, &none, &none, u, protected));
            };
            verb = verb + 1;
        };
        ok
    })
}

/// `system:discovery`'s paths: discovery, OpenAPI, version and health.
public fun is_discovery(path: &String): bool {
    let p = path.as_bytes();
    p == &b"/api" || p == &b"/apis" || p == &b"/openapi" || p == &b"/version" || p == &b"/version/"
        || p == &b"/healthz" || p == &b"/livez" || p == &b"/readyz"
        || starts_with(p, &b"/api/") || starts_with(p, &b"/apis/") || starts_with(p, &b"/openapi/")
}

fun matches(list: &vector<String>, value: &String): bool {
    list.contains(&b"*".to_string()) || list.contains(value)
}

/// RBAC's resource matching: `*`, the exact `resource/subresource`, or `*/subresource`.
fun resource_matches(list: &vector<String>, resource: &String): bool {
    list.any!(|r| r == &b"*".to_string() || r == resource || any_subresource(r.as_bytes(), resource.as_bytes()))
}

/// Whether `rule` is `*/sub` and `resource` is `something/sub`.
fun any_subresource(rule: &vector<u8>, resource: &vector<u8>): bool {
    let (n, m) = (rule.length(), resource.length());
    if (n < 3 || rule[0] != 42 || rule[1] != 47 || m <= n - 1) return false;
    // `resource` ends with `rule` without its `*` ("/sub"), after a non-empty resource.
    let tail = n - 1;
    let mut i = 0;
    while (i < tail) {
        if (rule[1 + i] != resource[m - tail + i]) return false;
        i = i + 1;
    };
    true
}

/// `""` matches cluster scope only; `"*"` every namespace but a protected one, which only a
/// rule naming it reaches.
fun namespace_matches(list: &vector<String>, namespace: &String, protected: &vector<String>): bool {
    list.contains(namespace)
        || (!namespace.is_empty() && !protected.contains(namespace) && list.contains(&b"*".to_string()))
}

/// RBAC's non-resource URL matching: `*`, exact, or a prefix ending in `*`.
fun url_matches(rule: &String, path: &String): bool {
    let r = rule.as_bytes();
    let n = r.length();
    r == path.as_bytes() || (n > 0 && r[n - 1] == 42 && starts_with(path.as_bytes(), &prefix(r, n - 1)))
}

fun prefix(bytes: &vector<u8>, n: u64): vector<u8> {
    let mut out = vector[];
    let mut i = 0;
    while (i < n) {
        out.push_back(bytes[i]);
        i = i + 1;
    };
    out
}

fun starts_with(bytes: &vector<u8>, start: &vector<u8>): bool {
    let n = start.length();
    if (bytes.length() < n) return false;
    let mut i = 0;
    while (i < n) {
        if (bytes[i] != start[i]) return false;
        i = i + 1;
    };
    true
}
