//! The permission logic of `access.move`, in Rust: predefined roles, rule matching and
//! coverage. The devnet executes the contract with it, and clients use it to explain a
//! refusal before paying for a transaction; both must give the contract's answer.

use super::objects::Rule;
use super::types::{Role, Verb};

const READ_VERBS: u16 = 0x07;
const ALL_VERBS: u16 = 0xFF;
const CREATE: u16 = 1 << 3;

/// The namespace `deploy/` runs the node in: protected in every new cluster.
pub const DEFAULT_PROTECTED_NAMESPACE: &str = "nautilus";

/// The protected namespaces of a new cluster.
pub fn default_protected_namespaces() -> Vec<String> {
    vec![DEFAULT_PROTECTED_NAMESPACE.to_string()]
}

/// Kubernetes' `view` (`system:aggregate-to-view`, Kubernetes 1.33): group and resources,
/// read verbs. The same table as `access::view_rules`.
pub const VIEW: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
            "namespaces",
        ],
    ),
    ("discovery.k8s.io", &["endpointslices"]),
    (
        "apps",
        &[
            "controllerrevisions",
            "statefulsets",
            "statefulsets/status",
            "statefulsets/scale",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/status",
            "deployments/scale",
            "replicasets",
            "replicasets/status",
            "replicasets/scale",
        ],
    ),
    ("autoscaling", &["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    ("batch", &["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
    (
        "extensions",
        &[
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
            "networkpolicies",
        ],
    ),
    ("policy", &["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    ("networking.k8s.io", &["networkpolicies", "ingresses", "ingresses/status"]),
];

/// What Kubernetes' `edit` (`system:aggregate-to-edit`) adds to `view`: verbs, group and
/// resources, in namespaces only. The same table as `access::edit_rules`.
pub const EDIT: &[(u16, &str, &[&str])] = &[
    (
        ALL_VERBS,
        "",
        &[
            "pods",
            "pods/attach",
            "pods/proxy",
            "pods/exec",
            "pods/portforward",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/proxy",
            "persistentvolumeclaims",
            "configmaps",
            "secrets",
            "events",
        ],
    ),
    (CREATE, "", &["pods/eviction", "serviceaccounts/token"]),
    (
        ALL_VERBS,
        "apps",
        &[
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "replicasets",
            "replicasets/scale",
        ],
    ),
    (ALL_VERBS, "autoscaling", &["horizontalpodautoscalers"]),
    (ALL_VERBS, "batch", &["jobs", "cronjobs"]),
    (
        ALL_VERBS,
        "extensions",
        &[
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "ingresses",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
            "networkpolicies",
        ],
    ),
    (ALL_VERBS, "policy", &["poddisruptionbudgets"]),
    (ALL_VERBS, "networking.k8s.io", &["networkpolicies", "ingresses"]),
    (ALL_VERBS, "coordination.k8s.io", &["leases"]),
];

/// `system:discovery`'s paths, which every token may read: exact ones, then prefixes.
pub const DISCOVERY_PATHS: [&str; 8] =
    ["/api", "/apis", "/openapi", "/version", "/version/", "/healthz", "/livez", "/readyz"];
/// Prefixes of [`DISCOVERY_PATHS`].
pub const DISCOVERY_PREFIXES: [&str; 3] = ["/api/", "/apis/", "/openapi/"];

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn resource_rule(verbs: u16, groups: &[&str], resources: &[&str], namespaces: &[&str]) -> Rule {
    Rule {
        verbs,
        groups: strings(groups),
        resources: strings(resources),
        namespaces: strings(namespaces),
        non_resource_urls: vec![],
    }
}

/// A rule on non-resource URLs.
pub fn url_rule(verbs: u16, urls: &[&str]) -> Rule {
    Rule { verbs, groups: vec![], resources: vec![], namespaces: vec![], non_resource_urls: strings(urls) }
}

/// The rules of a predefined role (`Role::Custom` has none of its own): Kubernetes' `view`
/// and `edit`; `admin` everything outside protected namespaces.
pub fn role_rules(role: Role) -> Vec<Rule> {
    let view = || VIEW.iter().map(|(g, r)| resource_rule(READ_VERBS, &[g], r, &["*", ""]));
    match role {
        Role::None | Role::Custom => vec![],
        Role::View => view().collect(),
        Role::Edit => view().chain(EDIT.iter().map(|(v, g, r)| resource_rule(*v, &[g], r, &["*"]))).collect(),
        Role::Admin => vec![resource_rule(ALL_VERBS, &["*"], &["*"], &["*", ""]), url_rule(READ_VERBS, &["*"])],
    }
}

/// Whether `rules` are well formed, as `access::rules_from_parts` requires.
pub fn well_formed(rules: &[Rule]) -> bool {
    !rules.is_empty()
        && rules.iter().all(|r| {
            let resource_rule = !r.groups.is_empty()
                && !r.resources.is_empty()
                && !r.namespaces.is_empty()
                && r.non_resource_urls.is_empty();
            let url_rule = r.groups.is_empty()
                && r.resources.is_empty()
                && r.namespaces.is_empty()
                && !r.non_resource_urls.is_empty()
                && r.verbs & READ_VERBS == r.verbs;
            r.verbs != 0 && r.verbs & ALL_VERBS == r.verbs && (resource_rule || url_rule)
        })
}

/// Whether any rule allows `verb` on `group`/`resource` named `name` in `namespace` (`""` =
/// cluster scope), none of `protected` reached through `"*"`. A non-resource request has
/// resource `""` and its path as `name`.
pub fn allows(
    rules: &[Rule],
    verb: Verb,
    group: &str,
    resource: &str,
    namespace: &str,
    name: &str,
    protected: &[String],
) -> bool {
    if resource.is_empty() {
        return verb == Verb::Get
            && (is_discovery(name)
                || rules
                    .iter()
                    .any(|r| r.verbs & verb.bit() != 0 && r.non_resource_urls.iter().any(|u| url_matches(u, name))));
    }
    rules.iter().any(|r| {
        r.verbs & verb.bit() != 0
            && matches(&r.groups, group)
            && resource_matches(&r.resources, resource)
            && namespace_matches(&r.namespaces, namespace, protected)
    })
}

/// Whether `granted` allows everything `requested` names, wildcards taken literally.
pub fn covers(granted: &[Rule], requested: &[Rule], protected: &[String]) -> bool {
    requested.iter().all(|r| {
        Verb::ALL.into_iter().filter(|v| r.verbs & v.bit() != 0).all(|verb| {
            r.groups.iter().all(|g| {
                r.resources
                    .iter()
                    .all(|res| r.namespaces.iter().all(|ns| allows(granted, verb, g, res, ns, "", protected)))
            }) && r.non_resource_urls.iter().all(|u| allows(granted, verb, "", "", "", u, protected))
        })
    })
}

/// Whether `path` is one of `system:discovery`'s, which every token may read.
pub fn is_discovery(path: &str) -> bool {
    DISCOVERY_PATHS.contains(&path) || DISCOVERY_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// The rules of `--allow` flags.
pub fn parse_rules(texts: &[String]) -> Result<Vec<Rule>, String> {
    texts.iter().map(|t| parse_rule(t)).collect()
}

/// Parses `VERBS:RESOURCE[:NAMESPACE]` as `kubectl sui login --allow` takes it: verbs
/// comma-separated or `*`; the resource as `kubectl` names it (`deployments.apps`, `pods`,
/// `pods/log`, `*`), or a non-resource path (`/metrics`, `/logs/*`); no namespace means any
/// namespace (but a protected one), an empty one means cluster scope.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    let invalid = |why: &str| format!("{text:?} is not VERB:RESOURCE[:NAMESPACE] ({why}), e.g. get,list:pods:default");
    let mut parts = text.splitn(3, ':');
    let (verbs, resource) = match (parts.next(), parts.next()) {
        (Some(v), Some(r)) if !v.is_empty() && !r.is_empty() => (v, r),
        _ => return Err(invalid("verbs and resource are required")),
    };
    let namespace = parts.next();
    let mut mask = 0u16;
    for verb in verbs.split(',') {
        mask |= match verb {
            "*" => ALL_VERBS,
            v => Verb::parse(v).ok_or_else(|| invalid(&format!("unknown verb {v}")))?.bit(),
        };
    }
    if resource.starts_with('/') {
        if namespace.is_some() || mask & !READ_VERBS != 0 || mask & Verb::Get.bit() == 0 {
            return Err(invalid("a non-resource path is read with get only, and has no namespace"));
        }
        return Ok(url_rule(Verb::Get.bit(), &[resource]));
    }
    let namespace = namespace.unwrap_or("*");
    let (resource, group) = match resource.split_once('.') {
        Some((r, g)) => (r, g),
        None if resource == "*" => ("*", "*"),
        None => (resource, ""),
    };
    Ok(resource_rule(mask, &[group], &[resource], &[namespace]))
}

fn matches(list: &[String], value: &str) -> bool {
    list.iter().any(|v| v == "*" || v == value)
}

/// RBAC's resource matching: `*`, the exact `resource/subresource`, or `*/subresource`.
fn resource_matches(list: &[String], resource: &str) -> bool {
    list.iter().any(|r| {
        r == "*"
            || r == resource
            || (r.len() > 2 && r.starts_with("*/") && resource.len() > r.len() - 1 && resource.ends_with(&r[1..]))
    })
}

fn namespace_matches(list: &[String], namespace: &str, protected: &[String]) -> bool {
    list.iter()
        .any(|v| v == namespace || (!namespace.is_empty() && v == "*" && !protected.iter().any(|p| p == namespace)))
}

/// RBAC's non-resource URL matching: exact, or a prefix when the rule ends in `*`.
fn url_matches(rule: &str, path: &str) -> bool {
    rule == path || rule.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix))
}

#[cfg(test)]
mod tests;
