//! The cluster's own audit log against the chain's trail: an audit anyone can check.
//!
//! kube-apiserver records every request it runs (`--audit-log-path`, `audit.k8s.io/v1`
//! events, one JSON object per line) with the operation as *it* resolved it. The node names
//! the chain request in each call's User-Agent (`node::kube::user_agent`), so each execution by
//! a `sui:*` user can be matched with exactly one approval. [`verify`] reports every execution
//! with no approval on chain, every approval executed as something else, and every approval
//! executed twice. Pure: it reads text and records, nothing else.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::{AuditRecord, Outcome};

/// One request the API server ran for a `sui:*` user, as its audit log has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    /// The API server's id of the request.
    pub audit_id: String,
    /// The user the request ran as (`sui:<address>`).
    pub user: String,
    /// The verb as the API server resolved it.
    pub verb: String,
    /// API group.
    pub group: String,
    /// Resource, with its subresource after a slash; empty for non-resource requests.
    pub resource: String,
    /// Namespace.
    pub namespace: String,
    /// Object name; the path of a non-resource request.
    pub name: String,
    /// The chain request the node named in its User-Agent, if any.
    pub request: Option<Address>,
    /// The HTTP status the API server answered.
    pub code: u16,
    /// The request URI as received.
    pub uri: String,
}

/// Why the audit log and the chain disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Discrepancy {
    /// The cluster ran a request for a `sui:*` user that no approval on chain accounts for.
    Unapproved {
        /// What ran.
        execution: Execution,
    },
    /// The cluster ran something else than what the chain approved.
    Different {
        /// What the chain approved.
        approved: Box<AuditRecord>,
        /// What ran.
        execution: Execution,
    },
    /// One approval ran more than once.
    Repeated {
        /// What ran again.
        execution: Execution,
    },
}

/// Why an audit log cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("line {line} of the audit log is not an audit.k8s.io/v1 event: {source}")]
pub struct LogError {
    /// 1-based line number.
    pub line: usize,
    /// The parse error.
    pub source: serde_json::Error,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "auditID")]
    audit_id: String,
    stage: String,
    #[serde(rename = "requestURI")]
    request_uri: String,
    verb: String,
    user: UserInfo,
    impersonated_user: Option<UserInfo>,
    #[serde(default)]
    user_agent: String,
    object_ref: Option<ObjectRef>,
    response_status: Option<ResponseStatus>,
}

#[derive(Deserialize)]
struct UserInfo {
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    api_group: String,
}

#[derive(Deserialize)]
struct ResponseStatus {
    #[serde(default)]
    code: u16,
}

/// The completed requests of `sui:*` users in an audit log (JSON lines).
pub fn executions(log: &str) -> Result<Vec<Execution>, LogError> {
    let mut out = Vec::new();
    for (i, line) in log.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let event: Event = serde_json::from_str(line).map_err(|source| LogError { line: i + 1, source })?;
        if event.stage != "ResponseComplete" && event.stage != "Panic" {
            continue;
        }
        let user = event.impersonated_user.map(|u| u.username).unwrap_or(event.user.username);
        if !user.starts_with("sui:") {
            continue;
        }
        let path = event.request_uri.split('?').next().unwrap_or_default().to_string();
        let (group, resource, namespace, name) = match event.object_ref {
            Some(o) if !o.resource.is_empty() => {
                let resource =
                    if o.subresource.is_empty() { o.resource } else { format!("{}/{}", o.resource, o.subresource) };
                (o.api_group, resource, o.namespace, o.name)
            }
            _ => (String::new(), String::new(), String::new(), path),
        };
        let request =
            event.user_agent.split_whitespace().find_map(|w| w.strip_prefix("request/")).and_then(|id| id.parse().ok());
        out.push(Execution {
            audit_id: event.audit_id,
            user,
            verb: event.verb,
            group,
            resource,
            namespace,
            name,
            request,
            code: event.response_status.map(|s| s.code).unwrap_or_default(),
            uri: event.request_uri,
        });
    }
    Ok(out)
}

/// Whether `execution` is the operation `approved` names. A create approved without a name
/// ran with the name of the object it made (the API server records it). A session (exec,
/// attach, port-forward) is approved as `create` on its subresource and opened with a WebSocket
/// `GET`, which the API server records as `get`.
fn same_operation(approved: &AuditRecord, execution: &Execution) -> bool {
    let name_matches = approved.name == execution.name || (approved.verb == "create" && approved.name.is_empty());
    let session = ["pods/exec", "pods/attach", "pods/portforward"].contains(&approved.resource.as_str());
    let verb_matches =
        approved.verb == execution.verb || (session && approved.verb == "create" && execution.verb == "get");
    format!("sui:{}", approved.requester) == execution.user
        && verb_matches
        && approved.group == execution.group
        && approved.resource == execution.resource
        && approved.namespace == execution.namespace
        && name_matches
}

/// Every disagreement between what ran (`executions`) and what the chain approved (`trail`).
pub fn verify(trail: &[AuditRecord], executions: &[Execution]) -> Vec<Discrepancy> {
    let approved: HashMap<Address, &AuditRecord> = trail
        .iter()
        .filter(|r| !matches!(r.outcome, Outcome::Denied { .. }))
        .filter_map(|r| Some((r.request?, r)))
        .collect();
    let mut seen: HashMap<Address, usize> = HashMap::new();
    let mut out = Vec::new();
    for execution in executions {
        let Some((id, record)) = execution.request.and_then(|id| Some((id, *approved.get(&id)?))) else {
            out.push(Discrepancy::Unapproved { execution: execution.clone() });
            continue;
        };
        let count = seen.entry(id).or_default();
        *count += 1;
        if !same_operation(record, execution) {
            out.push(Discrepancy::Different { approved: Box::new(record.clone()), execution: execution.clone() });
        } else if *count > 1 {
            out.push(Discrepancy::Repeated { execution: execution.clone() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user: &str, verb: &str, object: &str, ua: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps/c","verb":"{verb}","user":{{"username":"node"}},"impersonatedUser":{{"username":"{user}"}},"userAgent":"{ua}","objectRef":{object},"responseStatus":{{"code":200}}}}"#
        )
    }

    fn record(request: Address, verb: &str, resource: &str, name: &str) -> AuditRecord {
        AuditRecord {
            time_ms: 0,
            requester: Address::from_static("0xaa"),
            verb: verb.into(),
            group: String::new(),
            resource: resource.into(),
            namespace: "default".into(),
            name: name.into(),
            outcome: Outcome::Answered { status: 200 },
            node: None,
            tx: sui_sdk_types::Digest::ZERO,
            checkpoint: 0,
            request: Some(request),
        }
    }

    #[test]
    fn each_execution_matches_its_approval_once() {
        let id = Address::from_static("0x1");
        let user = format!("sui:{}", Address::from_static("0xaa"));
        let ua = format!("nautilus/0 request/{id}");
        let object = r#"{"resource":"configmaps","namespace":"default","name":"c","apiVersion":"v1"}"#;
        let log = [
            event(&user, "get", object, &ua),
            event("admin", "get", object, "kubectl"),
            r#"{"auditID":"x","stage":"ResponseStarted","requestURI":"/","verb":"get","user":{"username":"sui:x"}}"#
                .into(),
        ]
        .join("\n");
        let ran = executions(&log).unwrap();
        assert_eq!(ran.len(), 1, "only sui:* users, only completed: {ran:?}");
        assert_eq!((ran[0].request, ran[0].resource.as_str()), (Some(id), "configmaps"));
        assert!(verify(&[record(id, "get", "configmaps", "c")], &ran).is_empty());

        let twice = [ran.clone(), ran.clone()].concat();
        assert!(matches!(verify(&[record(id, "get", "configmaps", "c")], &twice)[..], [Discrepancy::Repeated { .. }]));
        assert!(matches!(verify(&[record(id, "get", "secrets", "c")], &ran)[..], [Discrepancy::Different { .. }]));
        assert!(matches!(
            verify(&[record(id, "delete", "configmaps", "c")], &ran)[..],
            [Discrepancy::Different { .. }]
        ));
        assert!(matches!(verify(&[], &ran)[..], [Discrepancy::Unapproved { .. }]));
        let mut denied = record(id, "get", "configmaps", "c");
        denied.outcome = Outcome::Denied { reason: "EPermissionDenied".into() };
        assert!(matches!(verify(&[denied], &ran)[..], [Discrepancy::Unapproved { .. }]));
        let no_ua = executions(&event(&user, "get", object, "curl/8")).unwrap();
        assert!(matches!(
            verify(&[record(id, "get", "configmaps", "c")], &no_ua)[..],
            [Discrepancy::Unapproved { .. }]
        ));
    }

    #[test]
    fn subresources_non_resource_paths_and_created_names() {
        let id = Address::from_static("0x2");
        let user = format!("sui:{}", Address::from_static("0xaa"));
        let ua = format!("nautilus/0 request/{id}");
        let log =
            event(&user, "get", r#"{"resource":"pods","subresource":"log","namespace":"default","name":"c"}"#, &ua);
        assert_eq!(executions(&log).unwrap()[0].resource, "pods/log");
        let created =
            executions(&event(&user, "create", r#"{"resource":"configmaps","namespace":"default","name":"new"}"#, &ua))
                .unwrap();
        assert!(verify(&[record(id, "create", "configmaps", "")], &created).is_empty());
        assert!(!verify(&[record(id, "create", "configmaps", "other")], &created).is_empty());
        let path = event(&user, "get", "null", &ua).replace("/api/v1/namespaces/default/configmaps/c", "/metrics");
        let ran = executions(&path).unwrap();
        assert_eq!((ran[0].resource.as_str(), ran[0].name.as_str()), ("", "/metrics"));
        assert!(executions("{not json").is_err());
    }

    #[test]
    fn a_session_approved_as_create_ran_as_its_websocket_get_and_nothing_else_does() {
        let id = Address::from_static("0x3");
        let user = format!("sui:{}", Address::from_static("0xaa"));
        let ua = format!("nautilus/0 request/{id}");
        let exec = r#"{"resource":"pods","subresource":"exec","namespace":"default","name":"c"}"#;
        let ran = executions(&event(&user, "get", exec, &ua)).unwrap();
        assert!(verify(&[record(id, "create", "pods/exec", "c")], &ran).is_empty());
        let log = r#"{"resource":"pods","subresource":"log","namespace":"default","name":"c"}"#;
        let read = executions(&event(&user, "get", log, &ua)).unwrap();
        assert!(!verify(&[record(id, "create", "pods/log", "c")], &read).is_empty(), "only sessions");
        let pods = executions(&event(&user, "get", r#"{"resource":"pods","namespace":"default","name":"c"}"#, &ua));
        assert!(!verify(&[record(id, "create", "pods", "c")], &pods.unwrap()).is_empty());
    }
}
