/// Kubernetes-RBAC-shaped permissions: verbs x API groups x resources x namespaces.
///
/// This module owns the `Rule` type, the predefined roles and the matching logic. It holds
/// no objects and emits no events; `seal_token` stores rules and `request` asks whether they
/// allow a call. The cluster's own RBAC (through impersonation) stays the fine-grained gate:
/// these rules decide what may reach the cluster at all.
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
const ALL_VERBS: u16 = 0xFF;

// Role codes. `ROLE_CUSTOM` marks rules granted explicitly instead of from a preset.
const ROLE_NONE: u8 = 0;
const ROLE_VIEW: u8 = 1;
const ROLE_EDIT: u8 = 2;
const ROLE_ADMIN: u8 = 3;
const ROLE_CUSTOM: u8 = 4;

/// One permission rule. `"*"` in `groups`/`resources` matches anything; in `namespaces` it
/// matches every namespace but not cluster-scoped calls, which `""` names.
public struct Rule has copy, drop, store {
    verbs: u16,
    groups: vector<String>,
    resources: vector<String>,
    namespaces: vector<String>,
}

public fun role_none(): u8 { ROLE_NONE }

public fun role_view(): u8 { ROLE_VIEW }

public fun role_edit(): u8 { ROLE_EDIT }

public fun role_admin(): u8 { ROLE_ADMIN }

public fun role_custom(): u8 { ROLE_CUSTOM }

/// The rules of a predefined role: view reads everything, edit writes namespaced objects
/// and reads cluster-scoped ones, admin does everything.
public fun role_rules(role: u8): vector<Rule> {
    let any = vector[b"*".to_string()];
    let cluster_scope = vector[b"".to_string()];
    let everywhere = vector[b"*".to_string(), b"".to_string()];
    if (role == ROLE_NONE) {
        vector[]
    } else if (role == ROLE_VIEW) {
        vector[Rule { verbs: READ_VERBS, groups: any, resources: any, namespaces: everywhere }]
    } else if (role == ROLE_EDIT) {
        vector[
            Rule { verbs: ALL_VERBS, groups: any, resources: any, namespaces: any },
            Rule { verbs: READ_VERBS, groups: any, resources: any, namespaces: cluster_scope },
        ]
    } else if (role == ROLE_ADMIN) {
        vector[Rule { verbs: ALL_VERBS, groups: any, resources: any, namespaces: everywhere }]
    } else {
        abort EInvalidRole
    }
}

/// Builds explicit rules from parallel vectors, the shape a transaction can pass as pure
/// arguments.
public fun rules_from_parts(
    verbs: vector<u16>,
    groups: vector<vector<String>>,
    resources: vector<vector<String>>,
    namespaces: vector<vector<String>>,
): vector<Rule> {
    let n = verbs.length();
    assert!(
        n > 0 && groups.length() == n && resources.length() == n && namespaces.length() == n,
        EMalformedRules,
    );
    let mut rules = vector[];
    let mut i = 0;
    while (i < n) {
        let v = verbs[i];
        assert!(v != 0 && (v & ALL_VERBS) == v, EMalformedRules);
        assert!(
            !groups[i].is_empty() && !resources[i].is_empty() && !namespaces[i].is_empty(),
            EMalformedRules,
        );
        rules.push_back(Rule {
            verbs: v,
            groups: groups[i],
            resources: resources[i],
            namespaces: namespaces[i],
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

/// Whether any rule allows `verb` on `group`/`resource` in `namespace` (`""` = cluster scope).
public fun allows(
    rules: &vector<Rule>,
    verb: u8,
    group: &String,
    resource: &String,
    namespace: &String,
): bool {
    let bit = 1u16 << verb;
    rules.any!(|r| {
        (r.verbs & bit) != 0
            && matches(&r.groups, group)
            && matches(&r.resources, resource)
            && namespace_matches(&r.namespaces, namespace)
    })
}

/// Whether `granted` allows everything `requested` names, wildcards included literally.
public fun covers(granted: &vector<Rule>, requested: &vector<Rule>): bool {
    requested.all!(|r| {
        let mut verb = 0u8;
        let mut ok = true;
        while (ok && verb <= VERB_DELETECOLLECTION) {
            if ((r.verbs & (1u16 << verb)) != 0) {
                ok = r.groups.all!(|g| r.resources.all!(|res| r.namespaces.all!(|ns| {
                    allows(granted, verb, g, res, ns)
                })));
            };
            verb = verb + 1;
        };
        ok
    })
}

fun matches(list: &vector<String>, value: &String): bool {
    list.contains(&b"*".to_string()) || list.contains(value)
}

fun namespace_matches(list: &vector<String>, namespace: &String): bool {
    list.contains(namespace) || (!namespace.is_empty() && list.contains(&b"*".to_string()))
}
