//! Admission: whether a complete request may run, decided from what the chain recorded and
//! what the requester sealed, without I/O.
//!
//! This module owns the node's checks of one request before execution: the body was sealed
//! to a key the node holds, it opens under the request's binding and within the size a read or
//! a write may have, it parses as one unambiguous Kubernetes request ([`RequestInfo`]), its
//! attributes are exactly the ones the contract approved, and it is something the chain path
//! carries; then, once the token's standing is read, that the token was not revoked since.
//! Each refusal is a Kubernetes `Status` and a metric cause. It does not read the chain, touch
//! the cluster or the journal ([`super::requests`] does, around it), so every rule here is
//! unit-tested in milliseconds.

use sui_sdk_types::Address;

use super::keys::NodeKeys;
use crate::contract::Verb;
use crate::contract::events::RequestSubmitted;
use crate::envelope::{Binding, RequestAttributes, RequestEnvelope, RequestInfo, ResponseEnvelope, Sealed};

/// Largest decompressed body of a read (get, list, watch): headers fit many times over, and a
/// free read cannot make the node inflate megabytes.
pub const MAX_READ_BODY: usize = 1024 * 1024;

/// A request that may run: its opened envelope and the one reading of it to execute.
#[derive(Debug)]
pub struct Admitted {
    /// What the requester sealed.
    pub envelope: RequestEnvelope,
    /// The request as kube-apiserver resolves it; its rebuilt URI is what runs.
    pub info: RequestInfo,
}

/// Why a request does not run: the `Status` the requester gets and the metric cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// HTTP status.
    pub status: u16,
    /// The `Status` reason.
    pub reason: &'static str,
    /// What the person reading it should know.
    pub message: String,
    /// `nautilus_errors_total{kind}`.
    pub cause: &'static str,
}

impl Refused {
    fn new(status: u16, reason: &'static str, cause: &'static str, message: impl Into<String>) -> Refused {
        Refused { status, reason, message: message.into(), cause }
    }

    /// The answer to put on chain.
    pub fn to_response(&self) -> ResponseEnvelope {
        ResponseEnvelope::status(self.status, self.reason, &self.message)
    }
}

/// The attributes the contract approved, as `submit` recorded them.
pub fn approved(submitted: &RequestSubmitted) -> RequestAttributes {
    RequestAttributes {
        verb: submitted.verb,
        group: submitted.group.clone(),
        resource: submitted.resource.clone(),
        namespace: submitted.namespace.clone(),
        name: submitted.name.clone(),
    }
}

/// Opens and checks a request for `cluster`; `max_body` is the node's limit for writes.
pub fn admit(
    submitted: &RequestSubmitted,
    sealed: &Sealed,
    cluster: Address,
    keys: &NodeKeys,
    max_body: usize,
) -> Result<Admitted, Refused> {
    let verb = Verb::from_code(submitted.verb).unwrap_or(Verb::Get);
    let approved = approved(submitted);
    let binding = Binding::Request { cluster, requester: submitted.requester, audit: approved.digest() };
    let key = keys.sealing_for(&submitted.sealing_key).ok_or_else(|| {
        Refused::new(
            409,
            "Conflict",
            "unknown_sealing_key",
            "the request was sealed to a key this node does not hold; retry to seal it to the node's current key",
        )
    })?;
    let max_body = if verb.is_read() { MAX_READ_BODY.min(max_body) } else { max_body };
    let envelope: RequestEnvelope = sealed.open(key, &binding, max_body).map_err(|e| {
        Refused::new(400, "BadRequest", "unsealable", format!("the sealed request could not be opened: {e}"))
    })?;
    // The one reading of the request: compared with what the contract approved, and the only
    // thing sent to the API server (rebuilt from its parts, never the sealed string).
    let info = RequestInfo::parse(&envelope.method, &envelope.path)
        .map_err(|e| Refused::new(e.status(), "BadRequest", "unparsable", e.to_string()))?;
    let actual = info.attributes();
    if actual != approved {
        return Err(Refused::new(
            403,
            "Forbidden",
            "mismatch",
            format!(
                "the request {} {} is {} on {}, not the {} on {} the contract approved; it was not executed",
                envelope.method,
                envelope.path,
                info.verb,
                describe(&actual),
                verb,
                describe(&approved)
            ),
        ));
    }
    if let Some(what) = info.not_carried() {
        return Err(Refused::new(501, "NotImplemented", "not_carried", what.to_string()));
    }
    if info.is_session() && super::kube::offered_protocols(&envelope).is_empty() {
        return Err(Refused::new(
            400,
            "BadRequest",
            "session_protocol",
            format!(
                "a session offers at least one WebSocket subprotocol the node relays ({}); nothing was run",
                super::kube::SESSION_PROTOCOLS.join(", ")
            ),
        ));
    }
    Ok(Admitted { envelope, info })
}

/// The refusal of a request whose token the admin revoked after it was submitted.
pub fn revoked(submitted: &RequestSubmitted) -> Refused {
    Refused::new(
        403,
        "Forbidden",
        "revoked",
        format!("seal token {} was revoked after this request was submitted; it was not executed", submitted.token_id),
    )
}

/// `pods web in namespace default`, for messages.
pub fn describe(a: &RequestAttributes) -> String {
    let group = if a.group.is_empty() { String::new() } else { format!(".{}", a.group) };
    let scope = if a.namespace.is_empty() { "cluster scope".to_string() } else { format!("namespace {}", a.namespace) };
    let name = if a.name.is_empty() { String::new() } else { format!(" {}", a.name) };
    format!("{}{group}{name} in {scope}", a.resource)
}

#[cfg(test)]
mod tests;
