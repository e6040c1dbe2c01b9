//! The one canonical reading of a Kubernetes API request: its `RequestInfo`, resolved the way
//! kube-apiserver resolves it (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`), and
//! the request target rebuilt from the parsed parts.
//!
//! The contract approves attributes; the cluster runs a URI. They can only be the same
//! operation if one reading produces both. So the node never forwards the client's string: it
//! parses it here, refuses anything the API server could read differently (percent-encoded
//! bytes in the path, empty or dot segments, absolute or authority form, fragments, the legacy
//! `/watch/` and `/proxy/` prefixes, nested `namespaces`, duplicate or non-canonical boolean
//! parameters, `;` or malformed escapes in the query), compares the attributes with what the
//! contract approved, and sends [`RequestInfo::uri`], rebuilt from the parts. The proxy uses the
//! same code, so what it refuses is refused before anything is paid.
//!
//! Pure: no I/O. It must not grow knowledge of which resources exist or are namespaced; that
//! is the API server's.

use super::attributes::RequestAttributes;
use crate::contract::Verb;

/// Query parameters Kubernetes decodes as booleans. apimachinery reads any value but
/// `0`, `f`, `false`, `n`, `no` (any case) as true, even an empty one: only `true` and `false`
/// are accepted, so the node and the API server cannot disagree on them.
const BOOL_PARAMETERS: [&str; 14] = [
    "watch",
    "allowWatchBookmarks",
    "sendInitialEvents",
    "follow",
    "previous",
    "timestamps",
    "insecureSkipTLSVerifyBackend",
    "force",
    "orphanDependents",
    "stdin",
    "stdout",
    "stderr",
    "tty",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
];

/// Query parameters a request may repeat, in order: exec's `command` (its argv) and
/// port-forward's `ports`. The API server reads every value of these; any other key is read
/// once, so a repeat is refused.
const LIST_PARAMETERS: [&str; 2] = ["command", "ports"];

/// The pod subresources that open an interactive session: a live two-way stream.
const SESSION_SUBRESOURCES: [&str; 3] = ["exec", "attach", "portforward"];

/// Namespace subresources: `namespaces/x/status` is the namespace `x`'s status, not a
/// resource `status` in namespace `x` (`namespaceSubresources` in requestinfo.go).
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Longest path a non-resource request may have: the contract's limit on `name`.
const MAX_NON_RESOURCE_PATH: usize = 253;

/// What a request acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A resource request: `/api/{version}/...` or `/apis/{group}/{version}/...`.
    Resource {
        /// API group (`""` for the core group).
        group: String,
        /// API version (not authorised: RBAC ignores it too).
        version: String,
        /// Resource.
        resource: String,
        /// Subresource (`log`, `status`, `exec`, ...), its own field.
        subresource: Option<String>,
        /// Namespace (`""` for cluster-scoped requests and lists across namespaces).
        namespace: String,
        /// Object name, from the path or from a list's `metadata.name` field selector.
        name: String,
        /// Whether the name came from the path (and goes back into it).
        name_in_path: bool,
    },
    /// Anything else (`/version`, `/openapi/v3`, discovery, `/metrics`, ...), by exact path.
    NonResource {
        /// The path.
        path: String,
    },
}

/// A request resolved as kube-apiserver resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The method, as sent (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`).
    pub method: String,
    /// The Kubernetes verb.
    pub verb: Verb,
    /// What it acts on.
    pub target: Target,
    /// The query, decoded, in order, each key once.
    pub query: Vec<(String, String)>,
}

/// Why a request cannot be carried: each names what the API server could read differently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestInfoError {
    /// Not origin form (`/path?query`): absolute or authority form, or a fragment.
    #[error("the request target {0:?} is not a path: only origin-form targets (/path?query) are carried")]
    NotOriginForm(String),
    /// A byte the path may not carry (a percent escape, a control or non-ASCII byte, ...).
    #[error("the path {path:?} contains {what}, which the API server would decode differently; nothing was run")]
    PathCharacter {
        /// The path.
        path: String,
        /// What was found.
        what: String,
    },
    /// An empty (`//`), `.` or `..` segment, or a trailing slash.
    #[error("the path {0:?} has an empty, \".\" or \"..\" segment or a trailing slash; nothing was run")]
    Segment(String),
    /// `/api/v1/watch/...` or `/api/v1/proxy/...`.
    #[error(
        "the deprecated /{prefix}/ path prefix of {path:?} is not carried; use ?watch=true or the proxy subresource"
    )]
    LegacyPrefix {
        /// `watch` or `proxy`.
        prefix: String,
        /// The path.
        path: String,
    },
    /// Deeper than resource/name/subresource, or `namespaces` inside a namespace.
    #[error("{0} is not a Kubernetes resource path (resource/name/subresource at most)")]
    NotResource(String),
    /// A method other than GET, POST, PUT, PATCH, DELETE.
    #[error("method {0} is not carried (GET, POST, PUT, PATCH and DELETE are)")]
    Method(String),
    /// A write to a non-resource path.
    #[error("{method} {path}: only GET is carried for non-resource paths")]
    NonResourceWrite {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
    /// A non-resource path longer than the contract records.
    #[error("the path {0} is longer than the 253 bytes the audit trail records")]
    PathTooLong(String),
    /// A query the API server could decode differently.
    #[error("the query parameter {name:?} {why}; nothing was run")]
    Query {
        /// The parameter (or the raw pair).
        name: String,
        /// What is wrong with it.
        why: String,
    },
}

impl RequestInfoError {
    /// The HTTP status a refusal is answered with: 405 for a method, 400 for the rest.
    pub fn status(&self) -> u16 {
        match self {
            RequestInfoError::Method(_) | RequestInfoError::NonResourceWrite { .. } => 405,
            _ => 400,
        }
    }
}

impl RequestInfo {
    /// Resolves `method target`, refusing whatever kube-apiserver could read otherwise.
    pub fn parse(method: &str, target: &str) -> Result<RequestInfo, RequestInfoError> {
        if !target.starts_with('/') || target.starts_with("//") || target.contains('#') {
            return Err(RequestInfoError::NotOriginForm(target.to_string()));
        }
        let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        check_path(path)?;
        let query = parse_query(raw_query)?;
        let parts: Vec<&str> = if path == "/" { vec![] } else { path[1..].split('/').collect() };
        let get = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let resource_parts = match parts.as_slice() {
            ["api", version, rest @ ..] if !rest.is_empty() => Some(("", *version, rest)),
            ["apis", group, version, rest @ ..] if !rest.is_empty() => Some((*group, *version, rest)),
            _ => None,
        };
        let Some((group, version, rest)) = resource_parts else {
            if method != "GET" {
                return Err(match method {
                    "POST" | "PUT" | "PATCH" | "DELETE" => {
                        RequestInfoError::NonResourceWrite { method: method.to_string(), path: path.to_string() }
                    }
                    other => RequestInfoError::Method(other.to_string()),
                });
            }
            if path.len() > MAX_NON_RESOURCE_PATH {
                return Err(RequestInfoError::PathTooLong(path.to_string()));
            }
            return Ok(RequestInfo {
                method: method.to_string(),
                verb: Verb::Get,
                target: Target::NonResource { path: path.to_string() },
                query,
            });
        };
        if let Some(&prefix @ ("watch" | "proxy")) = rest.first() {
            return Err(RequestInfoError::LegacyPrefix { prefix: prefix.to_string(), path: path.to_string() });
        }
        let not_resource = || RequestInfoError::NotResource(path.to_string());
        // `namespaces/{ns}/...`: the namespace, then a resource in it, unless what follows is
        // one of the namespace's own subresources (or nothing: the namespace object itself).
        let (namespace, rest) = match rest {
            // `namespaces/x/namespaces/...` is no route the API server has, yet would resolve
            // to the namespace `x` or another.
            ["namespaces", _, "namespaces", ..] => return Err(not_resource()),
            ["namespaces", ns, next, ..] if !NAMESPACE_SUBRESOURCES.contains(next) => (*ns, &rest[2..]),
            ["namespaces", ns, ..] => (*ns, rest),
            rest => ("", rest),
        };
        let (resource, path_name, subresource) = match rest {
            [resource] => (*resource, "", None),
            [resource, name] => (*resource, *name, None),
            [resource, name, sub] => (*resource, *name, Some(sub.to_string())),
            _ => return Err(not_resource()),
        };
        let watch = get("watch") == Some("true");
        if watch && !path_name.is_empty() {
            return Err(RequestInfoError::Query {
                name: "watch".into(),
                why: "is set on a named object; watch one object with a metadata.name field selector".into(),
            });
        }
        // A session is `create` on its subresource whatever the method (POST for SPDY, GET
        // for a WebSocket upgrade): RBAC's rule for exec, and what kube-apiserver checks for
        // WebSocket upgrades from 1.35 (AuthorizePodWebsocketUpgradeCreatePermission).
        let session = group.is_empty()
            && resource == "pods"
            && !path_name.is_empty()
            && subresource.as_deref().is_some_and(|s| SESSION_SUBRESOURCES.contains(&s));
        let (verb, name, name_in_path) = match (method, path_name.is_empty()) {
            ("GET" | "POST", false) if session => (Verb::Create, path_name.to_string(), true),
            ("GET", true) => {
                let verb = if watch { Verb::Watch } else { Verb::List };
                (verb, selected_name(get("fieldSelector"))?.unwrap_or_default(), false)
            }
            ("GET", false) => (Verb::Get, path_name.to_string(), true),
            ("POST", _) => (Verb::Create, path_name.to_string(), true),
            ("PUT", _) => (Verb::Update, path_name.to_string(), true),
            ("PATCH", _) => (Verb::Patch, path_name.to_string(), true),
            ("DELETE", true) => (Verb::DeleteCollection, String::new(), true),
            ("DELETE", false) => (Verb::Delete, path_name.to_string(), true),
            (other, _) => return Err(RequestInfoError::Method(other.to_string())),
        };
        Ok(RequestInfo {
            method: method.to_string(),
            verb,
            target: Target::Resource {
                group: group.to_string(),
                version: version.to_string(),
                resource: resource.to_string(),
                subresource,
                namespace: namespace.to_string(),
                name,
                name_in_path,
            },
            query,
        })
    }

    /// The contract's attributes of this request: the resource as RBAC combines it with its
    /// subresource (`pods/log`), a non-resource request as resource `""` named by its path.
    pub fn attributes(&self) -> RequestAttributes {
        match &self.target {
            Target::Resource { group, resource, subresource, namespace, name, .. } => RequestAttributes {
                verb: self.verb.code(),
                group: group.clone(),
                resource: match subresource {
                    Some(sub) => format!("{resource}/{sub}"),
                    None => resource.clone(),
                },
                namespace: namespace.clone(),
                name: name.clone(),
            },
            Target::NonResource { path } => RequestAttributes {
                verb: Verb::Get.code(),
                group: String::new(),
                resource: String::new(),
                namespace: String::new(),
                name: path.clone(),
            },
        }
    }

    /// The request target rebuilt from the parsed parts: what the node sends to the API
    /// server, never the client's string.
    pub fn uri(&self) -> String {
        let mut uri = match &self.target {
            Target::NonResource { path } => path.clone(),
            Target::Resource { group, version, resource, subresource, namespace, name, name_in_path } => {
                let mut uri =
                    if group.is_empty() { format!("/api/{version}") } else { format!("/apis/{group}/{version}") };
                // The namespace object itself is `namespaces/{name}`: its namespace is its name.
                if !namespace.is_empty() && resource != "namespaces" {
                    uri.push_str(&format!("/namespaces/{namespace}"));
                }
                uri.push('/');
                uri.push_str(resource);
                if *name_in_path && !name.is_empty() {
                    uri.push('/');
                    uri.push_str(name);
                }
                if let Some(sub) = subresource {
                    uri.push('/');
                    uri.push_str(sub);
                }
                uri
            }
        };
        if !self.query.is_empty() {
            uri.push('?');
            uri.push_str(&form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.query).finish());
        }
        uri
    }

    /// A query parameter's value.
    pub fn parameter(&self, key: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// A request the chain path does not carry (yet), refused at the proxy and again at the
/// node with the same `Status` (501).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotCarried {
    /// The proxy subresources (`pods/proxy`, `services/proxy`, `nodes/proxy`): arbitrary HTTP
    /// to a workload, which the chain path does not relay.
    #[error(
        "the proxy subresource relays arbitrary HTTP to a workload, which the chain path does not carry; it carries calls, watches, followed logs, exec, attach and port-forward"
    )]
    Stream,
    /// A session requested without a WebSocket upgrade (SPDY, or a plain POST).
    #[error(
        "exec, attach and port-forward are carried over WebSocket only (kubectl 1.30 and later uses it by default; do not set KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false or KUBECTL_PORT_FORWARD_WEBSOCKETS=false)"
    )]
    SessionWithoutWebSocket,
    /// An upgrade (or `CONNECT`) outside a session.
    #[error(
        "only exec, attach and port-forward are carried as upgraded connections; anything else is a plain call, a watch or a followed log"
    )]
    Upgrade,
}

impl RequestInfo {
    /// Whether the chain path can carry this request; the node checks it too, so a client
    /// of its own cannot make the node hold a stream open.
    pub fn not_carried(&self) -> Option<NotCarried> {
        if let Target::Resource { subresource: Some(sub), .. } = &self.target
            && sub == "proxy"
        {
            return Some(NotCarried::Stream);
        }
        None
    }

    /// Whether this is an interactive session (`pods/exec`, `pods/attach`,
    /// `pods/portforward`): a WebSocket relayed message for message through the chain.
    pub fn is_session(&self) -> bool {
        matches!(&self.target, Target::Resource { group, resource, subresource: Some(sub), name_in_path: true, .. }
            if group.is_empty() && resource == "pods" && SESSION_SUBRESOURCES.contains(&sub.as_str()))
    }

    /// Whether the answer is a stream (a watch, a followed log): the node forwards it in
    /// frames until it ends, instead of one response.
    pub fn is_stream(&self) -> bool {
        self.verb == Verb::Watch || self.parameter("follow") == Some("true")
    }
}

/// Path bytes carried as they are: unreserved characters, `:` and `@` (RBAC names use `:`).
/// Kubernetes forbids `/` and `%` in names, so nothing legitimate needs an escape.
fn check_path(path: &str) -> Result<(), RequestInfoError> {
    let bad = |what: String| RequestInfoError::PathCharacter { path: path.to_string(), what };
    if let Some(c) = path.chars().find(|c| !(c.is_ascii_alphanumeric() || "/-._~:@".contains(*c))) {
        return Err(bad(match c {
            '%' => "a percent escape".to_string(),
            c if c.is_ascii_control() || !c.is_ascii() => format!("the byte(s) {:?}", c.escape_default().to_string()),
            c => format!("the character {c:?}"),
        }));
    }
    if path != "/" && path[1..].split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(RequestInfoError::Segment(path.to_string()));
    }
    Ok(())
}

/// Decodes a query as Go's `url.ParseQuery` does, refusing whatever Go would skip or read
/// otherwise: `;`, malformed escapes, empty keys, repeated keys, non-canonical booleans.
fn parse_query(raw: &str) -> Result<Vec<(String, String)>, RequestInfoError> {
    let bad = |name: &str, why: &str| RequestInfoError::Query { name: name.to_string(), why: why.to_string() };
    if raw.is_empty() {
        return Ok(vec![]);
    }
    let mut query: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&') {
        if pair.contains(';') {
            return Err(bad(pair, "contains ';', which Go's query parser refuses"));
        }
        if !well_escaped(pair) {
            return Err(bad(pair, "has a malformed percent escape or a byte that must be escaped"));
        }
        let (key, value) = form_urlencoded::parse(pair.as_bytes()).next().unwrap_or_default();
        let (key, value) = (key.into_owned(), value.into_owned());
        if key.is_empty() {
            return Err(bad(pair, "has no name"));
        }
        if key.contains('\u{FFFD}') || value.contains('\u{FFFD}') {
            return Err(bad(&key, "is not UTF-8"));
        }
        if query.iter().any(|(k, _)| *k == key) && !LIST_PARAMETERS.contains(&key.as_str()) {
            return Err(bad(&key, "is repeated; the API server reads the first value only"));
        }
        if BOOL_PARAMETERS.contains(&key.as_str()) && value != "true" && value != "false" {
            return Err(bad(&key, &format!("is {value:?}; booleans are carried only as true or false")));
        }
        query.push((key, value));
    }
    Ok(query)
}

/// Whether every `%` starts a two-digit hex escape and no byte needs escaping.
fn well_escaped(pair: &str) -> bool {
    let bytes = pair.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                i += 3
            }
            b'%' => return false,
            b if b.is_ascii_graphic() && b != b'#' => i += 1,
            _ => return false,
        }
    }
    true
}

/// The name a list or watch selects with `metadata.name=X` in its field selector, as the API
/// server's `RequiresExactMatch("metadata.name")` reads it. Selectors it could parse
/// differently (escapes, spaces, several `metadata.name` terms) are refused.
fn selected_name(selector: Option<&str>) -> Result<Option<String>, RequestInfoError> {
    let Some(selector) = selector.filter(|s| s.contains("metadata.name")) else {
        return Ok(None);
    };
    let bad = |why: &str| RequestInfoError::Query { name: "fieldSelector".into(), why: why.to_string() };
    if selector.contains('\\') || selector.contains(char::is_whitespace) {
        return Err(bad("names metadata.name with an escape or a space, which the API server may read otherwise"));
    }
    let mut found = None;
    for term in selector.split(',') {
        let (field, op_value) = match term.find(['=', '!']) {
            Some(i) => term.split_at(i),
            None => return Err(bad("has a term without an operator")),
        };
        if field != "metadata.name" {
            continue;
        }
        if found.is_some() {
            return Err(bad("names metadata.name twice"));
        }
        found = Some(match op_value.strip_prefix("==").or_else(|| op_value.strip_prefix('=')) {
            // A value the API server would not take as a name (`.`, `..`, `/`, `%`) selects none.
            Some(value) if !value.is_empty() && value != "." && value != ".." && !value.contains(['/', '%']) => {
                Some(value.to_string())
            }
            Some(_) => None,
            None if op_value.starts_with("!=") => None,
            None => return Err(bad("has an operator the API server does not know")),
        });
    }
    Ok(found.flatten())
}

#[cfg(test)]
mod tests;
