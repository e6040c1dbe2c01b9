//! Kubernetes request attributes (verb, API group, resource, namespace, name) derived from an
//! HTTP method and path, the way the API server's request-info resolver derives them. The
//! proxy publishes them as audit metadata; the node re-derives them from the sealed request
//! and refuses to execute when they differ from what the contract approved.

use serde::{Deserialize, Serialize};

use crate::contract::Verb;

/// What a Kubernetes API request acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestAttributes {
    /// The verb.
    pub verb: u8,
    /// API group (`""` for the core group).
    pub group: String,
    /// Resource, with its subresource after a slash (`pods/log`).
    pub resource: String,
    /// Namespace (`""` for cluster-scoped requests).
    pub namespace: String,
    /// Object name (`""` for collections).
    pub name: String,
}

/// Longest path a non-resource request may have: the contract's limit on `name`.
const MAX_NON_RESOURCE_PATH: usize = 253;

/// Why a request is not one the chain path can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributesError {
    /// A path under `/api` or `/apis` deeper than any resource or subresource.
    #[error("{0} is not a Kubernetes API path")]
    NotResource(String),
    /// A write to a non-resource path (discovery, `/version`, `/openapi`, ...).
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
    /// A method the API server does not use for resources.
    #[error("method {0} is not a Kubernetes verb")]
    Method(String),
}

impl RequestAttributes {
    /// The attributes of `method path` (the path may carry a query).
    ///
    /// Non-resource requests (discovery, `/version`, `/openapi/...`) are GETs with an empty
    /// group, resource and namespace, and the path as the name: the contract authorises them
    /// like a cluster-scoped read of resource `""`, as Kubernetes' `system:discovery` role
    /// lets every authenticated user read them.
    pub fn from_http(method: &str, path_and_query: &str) -> Result<RequestAttributes, AttributesError> {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let not_resource = || AttributesError::NotResource(path.to_string());
        let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
        let (group, rest) = match parts.as_slice() {
            ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
            ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
            _ => return RequestAttributes::non_resource(method, path),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (*ns, rest),
            // `/api/v1/namespaces/foo` is the namespace object itself, cluster-scoped.
            rest => ("", rest),
        };
        let (resource, name, subresource) = match rest {
            [resource] => (*resource, "", None),
            [resource, name] => (*resource, *name, None),
            [resource, name, sub] => (*resource, *name, Some(*sub)),
            _ => return Err(not_resource()),
        };
        let watching = query.split('&').any(|kv| kv == "watch=true" || kv == "watch=1");
        let verb = match (method, name.is_empty()) {
            ("GET" | "HEAD", _) if watching => Verb::Watch,
            ("GET" | "HEAD", true) => Verb::List,
            ("GET" | "HEAD", false) => Verb::Get,
            ("POST", _) => Verb::Create,
            ("PUT", _) => Verb::Update,
            ("PATCH", _) => Verb::Patch,
            ("DELETE", true) => Verb::DeleteCollection,
            ("DELETE", false) => Verb::Delete,
            (other, _) => return Err(AttributesError::Method(other.to_string())),
        };
        Ok(RequestAttributes {
            verb: verb.code(),
            group: group.to_string(),
            resource: match subresource {
                Some(sub) => format!("{resource}/{sub}"),
                None => resource.to_string(),
            },
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    fn non_resource(method: &str, path: &str) -> Result<RequestAttributes, AttributesError> {
        if method != "GET" && method != "HEAD" {
            return Err(AttributesError::NonResourceWrite { method: method.to_string(), path: path.to_string() });
        }
        if path.len() > MAX_NON_RESOURCE_PATH {
            return Err(AttributesError::PathTooLong(path.to_string()));
        }
        Ok(RequestAttributes {
            verb: Verb::Get.code(),
            group: String::new(),
            resource: String::new(),
            namespace: String::new(),
            name: path.to_string(),
        })
    }

    /// Whether this is a non-resource request (discovery, `/version`, `/openapi/...`).
    pub fn is_non_resource(&self) -> bool {
        self.resource.is_empty()
    }

    /// The digest sealed into a request's binding: ties the body to this metadata.
    pub fn digest(&self) -> [u8; 32] {
        super::digest(&bcs::to_bytes(self).expect("attributes encode"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(method: &str, path: &str) -> (Verb, String, String, String, String) {
        let a = RequestAttributes::from_http(method, path).unwrap();
        (Verb::from_code(a.verb).unwrap(), a.group, a.resource, a.namespace, a.name)
    }

    fn t(v: Verb, g: &str, r: &str, ns: &str, n: &str) -> (Verb, String, String, String, String) {
        (v, g.into(), r.into(), ns.into(), n.into())
    }

    #[test]
    fn resolves_like_the_api_server() {
        assert_eq!(attrs("GET", "/api/v1/pods"), t(Verb::List, "", "pods", "", ""));
        assert_eq!(attrs("GET", "/api/v1/namespaces/default/pods?limit=500"), t(Verb::List, "", "pods", "default", ""));
        assert_eq!(attrs("GET", "/api/v1/namespaces/default/pods/web"), t(Verb::Get, "", "pods", "default", "web"));
        assert_eq!(
            attrs("GET", "/api/v1/namespaces/default/pods/web/log"),
            t(Verb::Get, "", "pods/log", "default", "web")
        );
        assert_eq!(
            attrs("GET", "/api/v1/namespaces/default/pods?watch=true"),
            t(Verb::Watch, "", "pods", "default", "")
        );
        assert_eq!(
            attrs("POST", "/apis/apps/v1/namespaces/prod/deployments"),
            t(Verb::Create, "apps", "deployments", "prod", "")
        );
        assert_eq!(
            attrs("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale"),
            t(Verb::Patch, "apps", "deployments/scale", "prod", "web")
        );
        assert_eq!(attrs("PUT", "/api/v1/namespaces/a/configmaps/c"), t(Verb::Update, "", "configmaps", "a", "c"));
        assert_eq!(attrs("DELETE", "/api/v1/namespaces/a/secrets/s"), t(Verb::Delete, "", "secrets", "a", "s"));
        assert_eq!(attrs("DELETE", "/api/v1/namespaces/a/secrets"), t(Verb::DeleteCollection, "", "secrets", "a", ""));
        assert_eq!(attrs("GET", "/api/v1/namespaces"), t(Verb::List, "", "namespaces", "", ""));
        assert_eq!(attrs("GET", "/api/v1/namespaces/kube-system"), t(Verb::Get, "", "namespaces", "", "kube-system"));
        assert_eq!(attrs("GET", "/api/v1/nodes/kwok-node-0"), t(Verb::Get, "", "nodes", "", "kwok-node-0"));
        assert_eq!(
            attrs("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles"),
            t(Verb::List, "rbac.authorization.k8s.io", "clusterroles", "", "")
        );
    }

    #[test]
    fn non_resource_paths_are_reads_named_by_path() {
        for path in ["/api", "/apis", "/api/v1", "/version", "/openapi/v3", "/apis/apps/v1", "/healthz"] {
            assert_eq!(attrs("GET", &format!("{path}?timeout=32s")), t(Verb::Get, "", "", "", path), "{path}");
            assert!(RequestAttributes::from_http("GET", path).unwrap().is_non_resource());
            assert!(matches!(
                RequestAttributes::from_http("POST", path),
                Err(AttributesError::NonResourceWrite { .. })
            ));
        }
        assert!(!RequestAttributes::from_http("GET", "/api/v1/pods").unwrap().is_non_resource());
        let long = format!("/openapi/{}", "x".repeat(250));
        assert!(matches!(RequestAttributes::from_http("GET", &long), Err(AttributesError::PathTooLong(_))));
    }

    #[test]
    fn malformed_paths_and_odd_methods_are_refused() {
        assert!(matches!(
            RequestAttributes::from_http("GET", "/api/v1/namespaces/a/pods/b/c/d"),
            Err(AttributesError::NotResource(_))
        ));
        assert!(matches!(RequestAttributes::from_http("TRACE", "/api/v1/pods"), Err(AttributesError::Method(_))));
    }

    #[test]
    fn digest_depends_on_every_field() {
        let a = RequestAttributes::from_http("GET", "/api/v1/namespaces/a/pods/b").unwrap();
        let mut b = a.clone();
        b.name = "c".into();
        assert_ne!(a.digest(), b.digest());
    }
}
