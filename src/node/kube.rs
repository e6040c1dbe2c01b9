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
pub const RESPONSE_HEADERS: [&str; 7] = [
    "content-type",
    "cache-control",
    "etag",
    "last-modified",
    "warning",
    "retry-after",
    "x-kubernetes-pf-flowschema-uid",
];

/// Why a Kubernetes call gave no answer to pass on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeFailure {
    /// The API server could not be reached or the exchange failed.
    #[error("the node could not reach the Kubernetes API: {0}")]
    Unreachable(String),
    /// No complete answer within the deadline.
    #[error("the Kubernetes API did not answer within {0:?}; the request may still have taken effect")]
    Timeout(std::time::Duration),
    /// The answer is larger than the node reads.
    #[error(
        "the Kubernetes API's answer is larger than the {0} bytes this node reads (max-response); ask for less, e.g. with --chunk-size or a selector"
    )]
    TooLarge(usize),
}

impl KubeFailure {
    /// The `Status` the requester gets.
    pub fn to_status(&self) -> ResponseEnvelope {
        let (code, reason) = match self {
            KubeFailure::Unreachable(_) => (502, "InternalError"),
            KubeFailure::Timeout(_) => (504, "Timeout"),
            KubeFailure::TooLarge(_) => (507, "InsufficientStorage"),
        };
        ResponseEnvelope::status(code, reason, &self.to_string())
    }
}

/// Who a request runs as: the impersonated user and groups, and the User-Agent naming the
/// chain request in the API server's audit log.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    /// `sui:<address>`.
    pub user: &'a str,
    /// `sui:<role>` and `system:authenticated`.
    pub groups: &'a [String],
    /// [`user_agent`] of the request.
    pub user_agent: &'a str,
}

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
    /// headers and body as `caller`, and returns the API server's answer. The whole exchange
    /// has `limits.0` as deadline, and at most `limits.1` bytes of answer are read.
    pub async fn execute(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        caller: &Caller<'_>,
        (deadline, max_response): (std::time::Duration, usize),
    ) -> Result<ResponseEnvelope, KubeFailure> {
        tokio::time::timeout(deadline, self.exchange(info, request, caller, max_response))
            .await
            .unwrap_or(Err(KubeFailure::Timeout(deadline)))
    }

    /// Sends `info` as [`KubeApi::execute`] does, and returns the API server's answer as soon
    /// as its headers arrive (within `deadline`), its body still streaming: a watch or a
    /// followed log.
    pub async fn open(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        caller: &Caller<'_>,
        deadline: std::time::Duration,
    ) -> Result<http::Response<kube::client::Body>, KubeFailure> {
        tokio::time::timeout(deadline, self.send(info, request, caller))
            .await
            .unwrap_or(Err(KubeFailure::Timeout(deadline)))
    }

    async fn send(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        &Caller { user, groups, user_agent }: &Caller<'_>,
    ) -> Result<http::Response<kube::client::Body>, KubeFailure> {
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
        let unreachable = |e: &dyn std::fmt::Display| KubeFailure::Unreachable(e.to_string());
        let http_request = builder.body(kube::client::Body::from(request.body.clone())).map_err(|e| unreachable(&e))?;
        self.client.send(http_request).await.map_err(|e| unreachable(&e))
    }

    async fn exchange(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        caller: &Caller<'_>,
        max_response: usize,
    ) -> Result<ResponseEnvelope, KubeFailure> {
        let response = self.send(info, request, caller).await?;
        collect(response, max_response).await
    }
}

/// The headers of `response` that kubectl needs.
pub fn response_headers<B>(response: &http::Response<B>) -> Vec<(String, String)> {
    RESPONSE_HEADERS
        .iter()
        .filter_map(|h| {
            response.headers().get(*h).and_then(|v| v.to_str().ok()).map(|v| (h.to_string(), v.to_string()))
        })
        .collect()
}

/// Reads a whole answer, at most `max_response` bytes of body.
pub async fn collect(
    response: http::Response<kube::client::Body>,
    max_response: usize,
) -> Result<ResponseEnvelope, KubeFailure> {
    let unreachable = |e: &dyn std::fmt::Display| KubeFailure::Unreachable(e.to_string());
    let status = response.status().as_u16();
    let headers = response_headers(&response);
    let body = match http_body_util::Limited::new(response.into_body(), max_response).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            return Err(KubeFailure::TooLarge(max_response));
        }
        Err(e) => return Err(unreachable(&e)),
    };
    Ok(ResponseEnvelope { status, headers, body })
}
