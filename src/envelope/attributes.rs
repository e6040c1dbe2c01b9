//! The contract's view of a Kubernetes request (verb, API group, resource with its
//! subresource, namespace, name): what the proxy publishes as audit metadata and the contract
//! approves. They are derived by [`RequestInfo`](super::RequestInfo) only; the node re-derives
//! them from the sealed request and refuses to execute when they differ.

use serde::{Deserialize, Serialize};

use super::request_info::{RequestInfo, RequestInfoError};

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

impl RequestAttributes {
    /// The attributes of `method target` (the target may carry a query), resolved by
    /// [`RequestInfo::parse`].
    pub fn from_http(method: &str, target: &str) -> Result<RequestAttributes, RequestInfoError> {
        RequestInfo::parse(method, target).map(|info| info.attributes())
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

    #[test]
    fn digest_depends_on_every_field() {
        let a = RequestAttributes::from_http("GET", "/api/v1/namespaces/a/pods/b").unwrap();
        for change in [
            |b: &mut RequestAttributes| b.verb = 1,
            |b: &mut RequestAttributes| b.group = "apps".into(),
            |b: &mut RequestAttributes| b.resource = "pods/log".into(),
            |b: &mut RequestAttributes| b.namespace = "c".into(),
            |b: &mut RequestAttributes| b.name = "c".into(),
        ] {
            let mut b = a.clone();
            change(&mut b);
            assert_ne!(a.digest(), b.digest());
        }
    }
}
