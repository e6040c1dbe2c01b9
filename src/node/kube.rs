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

/// The WebSocket subprotocols a session may ask for: the remote-command channel protocols
/// (exec, attach) and port-forward's, as kubectl offers them. Anything else offered is not
/// passed on.
pub const SESSION_PROTOCOLS: [&str; 8] = [
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
    "SPDY/3.1+portforward.k8s.io",
    "portforward.k8s.io",
    "v4.base64.channel.k8s.io",
];

/// Largest WebSocket message a session relays either way (kubectl writes at most 32 KiB).
pub const SESSION_MESSAGE_MAX: usize = 1024 * 1024;

/// A session's WebSocket to the API server.
pub type SessionSocket = tokio_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;

/// What the API server made of a session's upgrade.
pub enum Upgrade {
    /// Switched: the socket, and the subprotocol the API server chose.
    Open(SessionSocket, String),
    /// Refused (a `Status`: forbidden, not found, bad request): the answer to pass on.
    Refused(http::Response<kube::client::Body>),
}

impl std::fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upgrade::Open(_, protocol) => write!(f, "Upgrade::Open({protocol})"),
            Upgrade::Refused(r) => write!(f, "Upgrade::Refused({})", r.status()),
        }
    }
}

/// The subprotocols of `request`'s `Sec-WebSocket-Protocol` that a session may use, in order.
pub fn offered_protocols(request: &RequestEnvelope) -> Vec<&'static str> {
    request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, value)| value.split(','))
        .filter_map(|p| SESSION_PROTOCOLS.iter().find(|known| **known == p.trim()).copied())
        .collect()
}

/// Response headers kubectl needs, passed back through the chain. `expires` and `vary` are
/// what kubectl's HTTP cache keys and keeps an OpenAPI document by: without `expires` it
/// fetches (and rewrites to disk) the whole document, 1.4 MiB for `api/v1`, on every `apply`.
pub const RESPONSE_HEADERS: [&str; 9] = [
    "content-type",
    "cache-control",
    "etag",
    "expires",
    "last-modified",
    "vary",
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
    /// `sui:<role>` ([`impersonated_groups`]).
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
///
/// `system:authenticated` is not among them: the API server adds it to any impersonated user
/// but `system:anonymous` by itself (`impersonation.go`), so asking for it would cost one more
/// impersonation check per request and one more right in the node's role.
pub fn impersonated_groups(role: Role) -> Vec<String> {
    vec![format!("sui:{}", role.as_str())]
}

/// The groups the API server's authorizer sees for a request made with [`impersonated_groups`]:
/// those, and the `system:authenticated` the API server adds. What a `SubjectAccessReview`
/// must name to ask about the same request.
pub fn authorized_groups(role: Role) -> Vec<String> {
    let mut groups = impersonated_groups(role);
    groups.push("system:authenticated".to_string());
    groups
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

    /// Over a given client: the node's rules tested against a service in the same process.
    pub fn from_client(client: kube::Client) -> KubeApi {
        KubeApi { client }
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

    /// Opens `info`'s session (exec, attach, port-forward) as `caller`: a WebSocket upgrade of
    /// the rebuilt URI offering the subprotocols the requester offered that a session may use,
    /// and nothing else of the envelope. Within `deadline`.
    pub async fn upgrade(
        &self,
        info: &RequestInfo,
        request: &RequestEnvelope,
        &Caller { user, groups, user_agent }: &Caller<'_>,
        deadline: std::time::Duration,
    ) -> Result<Upgrade, KubeFailure> {
        use tokio_tungstenite::tungstenite::handshake;
        let unreachable = |e: &dyn std::fmt::Display| KubeFailure::Unreachable(e.to_string());
        let protocols = offered_protocols(request);
        let key = handshake::client::generate_key();
        let mut builder = http::Request::builder()
            .method("GET")
            .uri(info.uri())
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", &key)
            .header("sec-websocket-protocol", protocols.join(", "))
            .header("impersonate-user", user)
            .header("user-agent", user_agent);
        for group in groups {
            builder = builder.header("impersonate-group", group);
        }
        let http_request = builder.body(kube::client::Body::empty()).map_err(|e| unreachable(&e))?;
        let switch = async {
            let response = self.client.send(http_request).await.map_err(|e| unreachable(&e))?;
            if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
                return Ok(Upgrade::Refused(response));
            }
            let (accept, chosen) = {
                let headers = response.headers();
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
                (header("sec-websocket-accept"), header("sec-websocket-protocol").unwrap_or_default())
            };
            if accept != Some(handshake::derive_accept_key(key.as_bytes())) {
                return Err(KubeFailure::Unreachable("the API server's WebSocket accept key does not match".into()));
            }
            if !protocols.contains(&chosen.as_str()) {
                return Err(KubeFailure::Unreachable(format!(
                    "the API server chose the subprotocol {chosen:?}, which was not offered"
                )));
            }
            let upgraded = hyper::upgrade::on(response).await.map_err(|e| unreachable(&e))?;
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .max_message_size(Some(SESSION_MESSAGE_MAX))
                .max_frame_size(Some(SESSION_MESSAGE_MAX));
            let socket = tokio_tungstenite::WebSocketStream::from_raw_socket(
                hyper_util::rt::TokioIo::new(upgraded),
                tokio_tungstenite::tungstenite::protocol::Role::Client,
                Some(config),
            )
            .await;
            Ok(Upgrade::Open(socket, chosen))
        };
        tokio::time::timeout(deadline, switch).await.unwrap_or(Err(KubeFailure::Timeout(deadline)))
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

#[cfg(test)]
mod tests {
    //! The node's side of the Kubernetes seam, against a service in the same process that
    //! records what it is sent (the real API server is the end-to-end suite's).

    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    type Seen = Arc<Mutex<Vec<http::Request<Vec<u8>>>>>;

    /// A client whose API server records each request and answers `status` with `body` and
    /// `headers`, after `delay`.
    fn server(status: u16, body: Vec<u8>, headers: &[(&str, &str)], delay: Duration) -> (KubeApi, Seen) {
        let seen: Seen = Arc::default();
        let (record, headers) =
            (seen.clone(), headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>());
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let (record, body, headers) = (record.clone(), body.clone(), headers.clone());
            async move {
                let (parts, sent) = request.into_parts();
                let sent = sent.collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                record.lock().unwrap().push(http::Request::from_parts(parts, sent));
                tokio::time::sleep(delay).await;
                let mut response = http::Response::builder().status(status);
                for (k, v) in &headers {
                    response = response.header(k, v);
                }
                Ok::<_, std::convert::Infallible>(
                    response.body(http_body_util::Full::new(bytes::Bytes::from(body))).unwrap(),
                )
            }
        });
        (KubeApi::from_client(kube::Client::new(service, "default")), seen)
    }

    fn caller_groups() -> Vec<String> {
        impersonated_groups(Role::View)
    }

    async fn run(
        api: &KubeApi,
        info: &RequestInfo,
        headers: &[(&str, &str)],
        limits: (Duration, usize),
    ) -> Result<ResponseEnvelope, KubeFailure> {
        let request = RequestEnvelope {
            method: info.method.clone(),
            path: "/api/v1/namespaces/kube-system/secrets".into(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"{}".to_vec(),
        };
        let groups = caller_groups();
        let caller = Caller { user: "sui:0xab", groups: &groups, user_agent: "nautilus/test request/0x1" };
        api.execute(info, &request, &caller, limits).await
    }

    fn values<'a>(request: &'a http::Request<Vec<u8>>, name: &str) -> Vec<&'a str> {
        request.headers().get_all(name).iter().map(|v| v.to_str().unwrap()).collect()
    }

    #[tokio::test]
    async fn an_envelope_cannot_choose_the_credentials_the_identity_or_the_target() {
        let (api, seen) = server(200, b"{}".to_vec(), &[], Duration::ZERO);
        let info = RequestInfo::parse("GET", "/api/v1/namespaces/default/pods?limit=5").unwrap();
        let hostile = [
            ("Authorization", "Bearer stolen"),
            ("Impersonate-User", "system:admin"),
            ("impersonate-group", "system:masters"),
            ("Impersonate-Uid", "0"),
            ("Impersonate-Extra-Scopes", "all"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("Host", "elsewhere"),
            ("User-Agent", "kubectl/forged"),
            ("Connection", "upgrade"),
            ("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"),
        ];
        run(&api, &info, &hostile, (Duration::from_secs(5), 1024)).await.unwrap();
        let seen = seen.lock().unwrap();
        let request = &seen[0];
        // The rebuilt URI, not the envelope's path.
        assert_eq!(request.uri().path(), "/api/v1/namespaces/default/pods");
        assert_eq!(request.uri().query(), Some("limit=5"));
        assert_eq!(request.method(), "GET");
        assert!(
            request.headers().get("authorization").is_none() && request.headers().get("proxy-authorization").is_none()
        );
        assert_eq!(values(request, "impersonate-user"), ["sui:0xab"]);
        assert_eq!(values(request, "impersonate-group"), caller_groups());
        assert!(
            request
                .headers()
                .keys()
                .filter(|k| k.as_str().starts_with("impersonate-"))
                .all(|k| k == "impersonate-user" || k == "impersonate-group")
        );
        assert_eq!(values(request, "user-agent"), ["nautilus/test request/0x1"]);
        assert!(request.headers().get("connection").is_none());
        assert_ne!(request.headers().get("host").map(|h| h.to_str().unwrap()), Some("elsewhere"));
        // What the API server needs to answer as kubectl asked is kept.
        assert_eq!(values(request, "accept"), ["application/json;as=Table;v=v1;g=meta.k8s.io"]);
        assert_eq!(request.body(), b"{}");
    }

    #[tokio::test]
    async fn only_the_headers_kubectl_needs_come_back() {
        let headers =
            [("content-type", "application/json"), ("set-cookie", "session=1"), ("warning", "299 - \"deprecated\"")];
        let (api, _) = server(200, b"{}".to_vec(), &headers, Duration::ZERO);
        let info = RequestInfo::parse("GET", "/api/v1/pods").unwrap();
        let answer = run(&api, &info, &[], (Duration::from_secs(5), 1024)).await.unwrap();
        let names: Vec<&str> = answer.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["content-type", "warning"]);
    }

    #[tokio::test]
    async fn an_answer_over_max_response_is_refused_not_cut() {
        let info = RequestInfo::parse("GET", "/api/v1/pods").unwrap();
        let (api, _) = server(200, vec![b'x'; 1024], &[], Duration::ZERO);
        assert_eq!(run(&api, &info, &[], (Duration::from_secs(5), 1024)).await.unwrap().body.len(), 1024);
        let (api, _) = server(200, vec![b'x'; 1025], &[], Duration::ZERO);
        let refused = run(&api, &info, &[], (Duration::from_secs(5), 1024)).await.unwrap_err();
        assert_eq!(refused, KubeFailure::TooLarge(1024));
        assert_eq!(refused.to_status().status, 507);
    }

    #[tokio::test]
    async fn a_silent_api_server_times_out_with_a_status_saying_it_may_have_run() {
        let (api, seen) = server(200, b"{}".to_vec(), &[], Duration::from_secs(3600));
        let info = RequestInfo::parse("DELETE", "/api/v1/namespaces/default/pods/p").unwrap();
        let failure = run(&api, &info, &[], (Duration::from_millis(50), 1024)).await.unwrap_err();
        assert_eq!(failure, KubeFailure::Timeout(Duration::from_millis(50)));
        let status = failure.to_status();
        assert_eq!(status.status, 504);
        assert!(String::from_utf8_lossy(&status.body).contains("may still have taken effect"));
        assert_eq!(seen.lock().unwrap().len(), 1, "sent once, not retried");
    }
}
