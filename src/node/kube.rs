//! Executing a request on the Kubernetes API with the `kube` client, as the requester:
//! impersonation headers name the Sui address and the token's role, so the cluster's own RBAC
//! and audit log see the real user.

use std::path::Path;

use http_body_util::BodyExt;

use super::error::NodeError;
use crate::contract::Role;
use crate::envelope::{RequestEnvelope, RequestInfo, ResponseEnvelope};

/// Request headers the node never forwards from an envelope: credentials and impersonation
/// are the node's alone to set, and hop-by-hop headers belong to the original connection.
const FORBIDDEN_REQUEST_HEADERS: [&str; 8] = [
    "authorization",
    "connection",
    "host",
    "keep-alive",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "user-agent",
];

/// The User-Agent of a request the node executes: it names the request id, so the API
/// server's audit log ties each execution to its approval on chain (`audit::cluster_log`).
pub fn user_agent(request: &sui_sdk_types::Address) -> String {
    format!("nautilus/{} request/{request}", env!("CARGO_PKG_VERSION"))
}

/// Response headers kubectl needs, passed back through the chain.
pub const RESPONSE_HEADERS: [&str; 6] =
    ["content-type", "cache-control", "etag", "last-modified", "warning", "x-kubernetes-pf-flowschema-uid"];

/// The Kubernetes API of the cluster this node serves.
#[derive(Clone)]
pub struct KubeApi {
    client: kube::Client,
}

impl std::fmt::Debug for KubeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubeApi")
    }
}

/// ClusterRoleBindings giving the groups the node impersonates (`sui:view`, `sui:edit`,
/// `sui:admin`) Kubernetes' own roles of the same names. A cluster served by a node needs
/// them (or its own, finer bindings for `sui:<address>` users).
pub const GROUP_BINDINGS: &str = include_str!("../../deploy/rbac-groups.yaml");

/// The Kubernetes user a requester is impersonated as.
pub fn impersonated_user(requester: &sui_sdk_types::Address) -> String {
    format!("sui:{requester}")
}

/// The Kubernetes groups of a token role: bind them to ClusterRoles in the cluster.
pub fn impersonated_groups(role: Role) -> Vec<String> {
    vec![format!("sui:{}", role.as_str()), "system:authenticated".to_string()]
}

impl KubeApi {
    /// A client from `kubeconfig`, or the in-cluster configuration when `None`.
    pub async fn connect(kubeconfig: Option<&Path>) -> Result<KubeApi, NodeError> {
        let config = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| NodeError::Kube(format!("reading {}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                    .await
                    .map_err(|e| NodeError::Kube(format!("using {}: {e}", path.display())))?
            }
            None => kube::Config::incluster().map_err(|e| NodeError::Kube(format!("in-cluster configuration: {e}")))?,
        };
        let client = kube::Client::try_from(config).map_err(|e| NodeError::Kube(e.to_string()))?;
        Ok(KubeApi { client })
    }

    /// The client, with the node's own credentials.
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// Sends `info` (its rebuilt URI, never the envelope's own string) with the envelope's
    /// headers and body as `user` in `groups`, and returns the API server's answer;
    /// `user_agent` names the request in the API server's audit log.
    pub async fn execute(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        user: &str,
        groups: &[String],
        user_agent: &str,
    ) -> Result<ResponseEnvelope, String> {
        let mut builder = http::Request::builder().method(info.method.as_str()).uri(info.uri());
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            if FORBIDDEN_REQUEST_HEADERS.contains(&lower.as_str()) || lower.starts_with("impersonate-") {
                continue;
            }
            builder = builder.header(name, value);
        }
        builder = builder.header("impersonate-user", user).header("user-agent", user_agent);
        for group in groups {
            builder = builder.header("impersonate-group", group);
        }
        let http_request = builder.body(kube::client::Body::from(request.body.clone())).map_err(|e| e.to_string())?;
        let response = self.client.send(http_request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let headers = RESPONSE_HEADERS
            .iter()
            .filter_map(|h| {
                response.headers().get(*h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_string()))
            })
            .collect();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes().to_vec();
        Ok(ResponseEnvelope { status, headers, body })
    }
}
