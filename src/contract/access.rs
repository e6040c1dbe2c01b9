//! The permission logic of `access.move`, in Rust: predefined roles, rule matching and
//! coverage. The devnet executes the contract with it, and clients use it to explain a
//! refusal before paying for a transaction; both must give the contract's answer.

use super::objects::Rule;
use super::types::{Role, Verb};

const READ_VERBS: u16 = 0x07;
const ALL_VERBS: u16 = 0xFF;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn rule(verbs: u16, namespaces: &[&str]) -> Rule {
    Rule { verbs, groups: strings(&["*"]), resources: strings(&["*"]), namespaces: strings(namespaces) }
}

/// The rules of a predefined role (`Role::Custom` has none of its own).
pub fn role_rules(role: Role) -> Vec<Rule> {
    match role {
        Role::None | Role::Custom => vec![],
        Role::View => vec![rule(READ_VERBS, &["*", ""])],
        Role::Edit => vec![rule(ALL_VERBS, &["*"]), rule(READ_VERBS, &[""])],
        Role::Admin => vec![rule(ALL_VERBS, &["*", ""])],
    }
}

/// Whether `rules` are well formed, as `access::rules_from_parts` requires.
pub fn well_formed(rules: &[Rule]) -> bool {
    !rules.is_empty()
        && rules.iter().all(|r| {
            r.verbs != 0
                && r.verbs & ALL_VERBS == r.verbs
                && !r.groups.is_empty()
                && !r.resources.is_empty()
                && !r.namespaces.is_empty()
        })
}

/// Whether any rule allows `verb` on `group`/`resource` in `namespace` (`""` = cluster scope).
pub fn allows(rules: &[Rule], verb: Verb, group: &str, resource: &str, namespace: &str) -> bool {
    rules.iter().any(|r| {
        r.verbs & verb.bit() != 0
            && matches(&r.groups, group)
            && matches(&r.resources, resource)
            && namespace_matches(&r.namespaces, namespace)
    })
}

/// Whether `granted` allows everything `requested` names, wildcards taken literally.
pub fn covers(granted: &[Rule], requested: &[Rule]) -> bool {
    requested.iter().all(|r| {
        Verb::ALL.into_iter().filter(|v| r.verbs & v.bit() != 0).all(|verb| {
            r.groups
                .iter()
                .all(|g| r.resources.iter().all(|res| r.namespaces.iter().all(|ns| allows(granted, verb, g, res, ns))))
        })
    })
}

/// The rule every custom token gets besides its own: reading discovery and OpenAPI, which
/// Kubernetes lets every authenticated user do (`system:discovery`).
pub fn discovery_rule() -> Rule {
    Rule { verbs: Verb::Get.bit(), groups: strings(&[""]), resources: strings(&[""]), namespaces: strings(&[""]) }
}

/// The rules of `--allow` flags, plus the [`discovery_rule`] every custom token needs.
pub fn parse_rules(texts: &[String]) -> Result<Vec<Rule>, String> {
    let mut rules = texts.iter().map(|t| parse_rule(t)).collect::<Result<Vec<_>, _>>()?;
    rules.push(discovery_rule());
    Ok(rules)
}

/// Parses `VERBS:RESOURCE[:NAMESPACE]` as `kubectl sui login --allow` takes it: verbs
/// comma-separated or `*`; the resource as `kubectl` names it (`deployments.apps`, `pods`,
/// `*`); no namespace means any namespace, an empty one means cluster scope.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    let invalid = |why: &str| format!("{text:?} is not VERB:RESOURCE[:NAMESPACE] ({why}), e.g. get,list:pods:default");
    let mut parts = text.splitn(3, ':');
    let (verbs, resource) = match (parts.next(), parts.next()) {
        (Some(v), Some(r)) if !v.is_empty() && !r.is_empty() => (v, r),
        _ => return Err(invalid("verbs and resource are required")),
    };
    let namespace = parts.next().unwrap_or("*");
    let mut mask = 0u16;
    for verb in verbs.split(',') {
        mask |= match verb {
            "*" => ALL_VERBS,
            v => Verb::parse(v).ok_or_else(|| invalid(&format!("unknown verb {v}")))?.bit(),
        };
    }
    let (resource, group) = match resource.split_once('.') {
        Some((r, g)) => (r, g),
        None if resource == "*" => ("*", "*"),
        None => (resource, ""),
    };
    Ok(Rule {
        verbs: mask,
        groups: strings(&[group]),
        resources: strings(&[resource]),
        namespaces: strings(&[namespace]),
    })
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

fn namespace_matches(list: &[String], namespace: &str) -> bool {
    list.iter().any(|v| v == namespace || (!namespace.is_empty() && v == "*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_like_kubectl_names_resources() {
        let r = parse_rule("get,list:deployments.apps:prod").unwrap();
        assert!(allows(std::slice::from_ref(&r), Verb::List, "apps", "deployments", "prod"));
        assert!(!allows(&[r], Verb::Delete, "apps", "deployments", "prod"));
        let any_ns = parse_rule("delete:pods").unwrap();
        assert!(allows(std::slice::from_ref(&any_ns), Verb::Delete, "", "pods", "default"));
        assert!(!allows(&[any_ns], Verb::Delete, "", "pods", ""));
        assert!(allows(&[parse_rule("get:nodes:").unwrap()], Verb::Get, "", "nodes", ""));
        assert!(allows(&[parse_rule("*:*").unwrap()], Verb::Patch, "batch", "jobs", "x"));
        for bad in ["pods", "get:", ":pods", "fly:pods"] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        assert!(well_formed(&[discovery_rule()]));
        assert!(allows(&[discovery_rule()], Verb::Get, "", "", ""));
    }

    // The same cases as move/tests/access_tests.move.
    #[test]
    fn roles_match_like_the_contract() {
        let view = role_rules(Role::View);
        assert!(allows(&view, Verb::Get, "", "pods", "default"));
        assert!(allows(&view, Verb::Watch, "", "nodes", ""));
        assert!(!allows(&view, Verb::Create, "", "pods", "default"));
        let edit = role_rules(Role::Edit);
        assert!(allows(&edit, Verb::Delete, "", "pods", "default"));
        assert!(allows(&edit, Verb::List, "", "namespaces", ""));
        assert!(!allows(&edit, Verb::Create, "", "namespaces", ""));
        let admin = role_rules(Role::Admin);
        assert!(allows(&admin, Verb::DeleteCollection, "rbac.authorization.k8s.io", "clusterroles", ""));
        assert!(covers(&admin, &edit) && !covers(&edit, &admin) && !covers(&view, &edit));
    }

    #[test]
    fn explicit_rules_match_exactly() {
        let rules = vec![Rule {
            verbs: Verb::Get.bit() | Verb::List.bit() | Verb::Delete.bit(),
            groups: strings(&[""]),
            resources: strings(&["pods", "configmaps"]),
            namespaces: strings(&["team-a"]),
        }];
        assert!(well_formed(&rules));
        assert!(allows(&rules, Verb::Delete, "", "pods", "team-a"));
        assert!(!allows(&rules, Verb::Watch, "", "pods", "team-a"));
        assert!(!allows(&rules, Verb::Get, "", "secrets", "team-a"));
        assert!(!allows(&rules, Verb::Get, "", "pods", "team-b"));
        assert!(!allows(&rules, Verb::Get, "apps", "pods", "team-a"));
        assert!(covers(&role_rules(Role::Edit), &rules));
        assert!(!covers(&role_rules(Role::View), &rules));
    }

    #[test]
    fn malformed_rules_are_detected() {
        assert!(!well_formed(&[]));
        assert!(!well_formed(&[Rule { verbs: 0x100, ..rule(1, &["a"]) }]));
        assert!(!well_formed(&[Rule { verbs: 0, ..rule(1, &["a"]) }]));
        assert!(!well_formed(&[Rule { resources: vec![], ..rule(1, &["a"]) }]));
    }
}
