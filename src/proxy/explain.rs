//! Failures of the chain path as Kubernetes `Status` answers a person understands: what was
//! refused, why, and the command that fixes it.

use sui_sdk_types::Address;

use super::roundtrip::RoundTripError;
use crate::chain::{ChainError, format_sui};
use crate::contract::{Abort, EndReason, Verb};
use crate::envelope::{NotCarried, RequestAttributes, RequestInfoError, ResponseEnvelope};

/// What a refusal is about: the request and the login it was made under.
#[derive(Debug, Clone)]
pub struct RequestContext<'a> {
    /// The request's attributes.
    pub attributes: &'a RequestAttributes,
    /// The seal token used.
    pub token: Address,
    /// The cluster's name (as logged in).
    pub cluster_name: &'a str,
    /// Chain facts read after a stake or expiry refusal.
    pub facts: Option<TokenFacts>,
}

/// The token's stake and expiry and the cluster's minimum write stake, read from the chain.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts {
    /// The token's stake (MIST).
    pub stake: u64,
    /// The cluster's minimum stake for writes (MIST).
    pub min_write_stake: u64,
    /// When the token expires (ms since the epoch).
    pub expires_at_ms: u64,
}

/// `verb resource` in `namespace` as a sentence fragment (`delete pods in namespace default`).
fn described(a: &RequestAttributes) -> String {
    let verb = Verb::from_code(a.verb).map(Verb::as_str).unwrap_or("?");
    if a.is_non_resource() {
        return format!("{verb} {}", a.name);
    }
    let resource = if a.group.is_empty() { a.resource.clone() } else { format!("{}.{}", a.resource, a.group) };
    match a.namespace.as_str() {
        "" => format!("{verb} on {resource} (cluster-wide)"),
        ns => format!("{verb} on {resource} in namespace {ns}"),
    }
}

fn grant_rule(a: &RequestAttributes) -> String {
    let verb = Verb::from_code(a.verb).map(Verb::as_str).unwrap_or("?");
    match a.namespace.as_str() {
        "" => format!("{verb}:{}", a.resource),
        ns => format!("{verb}:{}:{ns}", a.resource),
    }
}

/// The `Status` answer for a failed round trip.
pub fn explain(error: &RoundTripError, ctx: &RequestContext<'_>) -> ResponseEnvelope {
    let token = ctx.token;
    let cluster = ctx.cluster_name;
    match error {
        RoundTripError::Chain(ChainError::Abort { abort: Some(abort), digest, .. }) => {
            let message = match abort.kind {
                Abort::EPermissionDenied => format!(
                    "seal token {token} lacks {}; ask the cluster admin: kubectl sui cluster grant {token} --allow {} (transaction {digest})",
                    described(ctx.attributes),
                    grant_rule(ctx.attributes)
                ),
                Abort::EInsufficientStake => match ctx.facts {
                    Some(f) => format!(
                        "{} needs a stake of at least {} on cluster {cluster}; seal token {token} has {}; add stake: kubectl sui login --cluster {cluster} --stake {}",
                        described(ctx.attributes),
                        format_sui(f.min_write_stake),
                        format_sui(f.stake),
                        format_sui(f.min_write_stake.saturating_sub(f.stake)).trim_end_matches(" SUI")
                    ),
                    None => format!("{}; seal token {token}", abort.meaning),
                },
                Abort::ETokenExpired => {
                    let when = ctx
                        .facts
                        .map(|f| {
                            humantime::format_rfc3339_seconds(
                                std::time::UNIX_EPOCH + std::time::Duration::from_millis(f.expires_at_ms),
                            )
                            .to_string()
                        })
                        .unwrap_or_else(|| "earlier".to_string());
                    format!(
                        "seal token {token} expired at {when}; run `kubectl sui login --cluster {cluster}` to renew it"
                    )
                }
                _ => format!("{} (seal token {token}, transaction {digest})", abort.meaning),
            };
            ResponseEnvelope::status(abort.http_status, abort.reason, &message)
        }
        RoundTripError::Chain(e) if e.is_unreachable() => ResponseEnvelope::status(
            503,
            "ServiceUnavailable",
            &format!("the chain is unreachable ({e}); is the network up? On the devnet: `kubectl sui up`"),
        ),
        RoundTripError::Chain(ChainError::NoGas { owner }) => ResponseEnvelope::status(
            503,
            "ServiceUnavailable",
            &format!(
                "{owner} has no SUI left to pay gas; fund it, or on the devnet run `kubectl sui login --cluster {cluster}` again"
            ),
        ),
        RoundTripError::Chain(e) if e.is_insufficient_gas() => ResponseEnvelope::status(
            503,
            "ServiceUnavailable",
            &format!(
                "the gas coin paying for this request ran low ({e}); check the balance with `kubectl sui status`, fund the address, or on the devnet run `kubectl sui login --cluster {cluster}` again, then restart the proxy (`kubectl sui proxy --stop`) so it finds the new coins"
            ),
        ),
        RoundTripError::Chain(e) => {
            ResponseEnvelope::status(502, "InternalError", &format!("the chain refused the request: {e}"))
        }
        RoundTripError::Timeout { node, waited, gave_up, .. } => ResponseEnvelope::status(
            504,
            "Timeout",
            &format!(
                "no answer from node {node} of cluster {cluster} within {}s; {gave_up}; check the node (`kubectl sui status`)",
                waited.as_secs(),
            ),
        ),
        RoundTripError::NoNode(_) => ResponseEnvelope::status(503, "ServiceUnavailable", &error.to_string()),
        RoundTripError::Attributes(e) => attributes_refusal(e),
        RoundTripError::Envelope(e) => {
            ResponseEnvelope::status(502, "InternalError", &format!("the node's response could not be opened: {e}"))
        }
        RoundTripError::RouterStopped => ResponseEnvelope::status(503, "ServiceUnavailable", &error.to_string()),
        RoundTripError::NotASession { .. } => ResponseEnvelope::status(502, "InternalError", &error.to_string()),
        RoundTripError::StreamWithoutHead { .. } => {
            ResponseEnvelope::status(502, "InternalError", &format!("{error}; watch again"))
        }
    }
}

/// The `Status` a stream ends with when the node ended it before the API server did; `None`
/// when the API server ended it, or the requester did.
pub fn stream_end(reason: Option<EndReason>, token: Address, frames: u32) -> Option<ResponseEnvelope> {
    let frames = if frames == 1 { "1 frame".to_string() } else { format!("{frames} frames") };
    let (code, why, message) = match reason? {
        EndReason::Completed | EndReason::Client => return None,
        EndReason::Token => (
            403,
            "Forbidden",
            format!(
                "seal token {token} was revoked, expired or lost the permission while this stream ran, so the node ended it after {frames}; see `kubectl sui status`"
            ),
        ),
        EndReason::Limit => (
            504,
            "Timeout",
            format!(
                "the node ended this stream at its limit (stream-max-secs or stream-max-bytes) after {frames}; watch again"
            ),
        ),
        EndReason::Node => (
            503,
            "ServiceUnavailable",
            format!("the node failed or restarted while this stream ran (after {frames}); watch again"),
        ),
    };
    Some(ResponseEnvelope::status(code, why, &message))
}

/// The `Status` answer for a request whose target cannot be read one way only.
pub fn attributes_refusal(error: &RequestInfoError) -> ResponseEnvelope {
    let reason = if error.status() == 405 { "MethodNotAllowed" } else { "BadRequest" };
    ResponseEnvelope::status(error.status(), reason, &error.to_string())
}

/// The `Status` answer for a request the chain path does not carry.
pub fn not_carried(what: NotCarried) -> ResponseEnvelope {
    ResponseEnvelope::status(501, "NotImplemented", &what.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::lookup_abort;

    fn message(e: &ResponseEnvelope) -> (u16, String) {
        let v: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
        (e.status, v["message"].as_str().unwrap().to_string())
    }

    fn abort(module: &str, code: u64) -> RoundTripError {
        RoundTripError::Chain(ChainError::Abort {
            module: module.into(),
            code,
            abort: lookup_abort(module, code),
            digest: sui_sdk_types::Digest::ZERO,
        })
    }

    #[test]
    fn refusals_name_the_permission_the_stake_and_the_fix() {
        let attributes = RequestAttributes::from_http("DELETE", "/api/v1/namespaces/default/pods/web").unwrap();
        let token = Address::from([7; 32]);
        let mut ctx = RequestContext { attributes: &attributes, token, cluster_name: "lab", facts: None };
        let (code, m) = message(&explain(&abort("seal_token", 24), &ctx));
        assert_eq!(code, 403);
        assert!(m.starts_with(&format!("seal token {token} lacks delete on pods in namespace default; ask the cluster admin: kubectl sui cluster grant {token} --allow delete:pods:default")), "{m}");
        ctx.facts = Some(TokenFacts { stake: 500_000_000, min_write_stake: 2_000_000_000, expires_at_ms: 0 });
        let (code, m) = message(&explain(&abort("seal_token", 25), &ctx));
        assert_eq!(code, 403);
        assert!(
            m.contains("needs a stake of at least 2 SUI on cluster lab; seal token")
                && m.contains("has 0.5 SUI")
                && m.ends_with("--stake 1.5"),
            "{m}"
        );
        let (code, m) = message(&explain(&abort("seal_token", 22), &ctx));
        assert_eq!(code, 403);
        assert!(m.contains("expired at 1970-01-01T00:00:00Z; run `kubectl sui login --cluster lab`"), "{m}");
    }

    #[test]
    fn unreachable_chain_and_silent_node_are_503_and_504() {
        let attributes = RequestAttributes::from_http("GET", "/api/v1/pods").unwrap();
        let ctx = RequestContext { attributes: &attributes, token: Address::ZERO, cluster_name: "lab", facts: None };
        let down = RoundTripError::Chain(ChainError::Rpc {
            method: "ExecuteTransaction",
            code: crate::chain::RpcCode::Unavailable,
            message: "refused".into(),
        });
        assert_eq!(explain(&down, &ctx).status, 503);
        let silent = RoundTripError::Timeout {
            node: Address::ZERO,
            cluster: Address::ZERO,
            waited: std::time::Duration::from_secs(30),
            gave_up: crate::proxy::roundtrip::GaveUp::Cancelled,
        };
        let (code, m) = message(&explain(&silent, &ctx));
        assert_eq!(code, 504);
        assert!(m.contains("cluster lab within 30s") && m.contains("cancelled on chain, so it will not run"), "{m}");
    }

    #[test]
    fn a_gas_coin_run_low_says_how_to_fund_it() {
        let attributes = RequestAttributes::from_http("GET", "/api/v1/pods").unwrap();
        let ctx = RequestContext { attributes: &attributes, token: Address::ZERO, cluster_name: "lab", facts: None };
        let low = RoundTripError::Chain(ChainError::Failed {
            error: Box::new(sui_sdk_types::ExecutionError::InsufficientGas),
            digest: sui_sdk_types::Digest::ZERO,
        });
        let (code, m) = message(&explain(&low, &ctx));
        assert_eq!(code, 503);
        assert!(m.contains("kubectl sui status") && m.contains("kubectl sui login --cluster lab"), "{m}");
        let other = RoundTripError::Chain(ChainError::Failed {
            error: Box::new(sui_sdk_types::ExecutionError::ObjectTooBig { object_size: 1, max_object_size: 0 }),
            digest: sui_sdk_types::Digest::ZERO,
        });
        assert_eq!(explain(&other, &ctx).status, 502);
    }
}
