//! A hostile token holder with a client of their own: it signs and submits `request::submit`
//! with attributes of its choosing and a sealed envelope of its choosing, bypassing the
//! proxy. Every case is refused with nothing executed, or executed exactly as approved; the
//! API server's own audit log is the judge of what ran.

use kubectl_sui::contract::Role;
use kubectl_sui::contract::access::parse_rule;
use kubectl_sui::envelope::{RequestAttributes, RequestEnvelope};
use kubectl_sui::proxy::RoundTripError;

use crate::fixtures::{SUI, address, policy};
use crate::node::{Requester, request, setup_with};

fn attrs(verb: u8, group: &str, resource: &str, namespace: &str, name: &str) -> RequestAttributes {
    RequestAttributes {
        verb,
        group: group.into(),
        resource: resource.into(),
        namespace: namespace.into(),
        name: name.into(),
    }
}

const GET: u8 = 0;
const LIST: u8 = 1;

const CREATE: u8 = 3;
const UPDATE: u8 = 4;
const DELETE: u8 = 6;

/// The HTTP status and message a call ends with: the node's answer, or the contract's abort.
async fn outcome(who: &Requester, envelope: &RequestEnvelope, approved: RequestAttributes) -> (u16, String) {
    match who.call_with_attributes(envelope, approved).await {
        Ok(response) => {
            let message = serde_json::from_slice::<serde_json::Value>(&response.body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&response.body).into_owned());
            (response.status, message)
        }
        Err(RoundTripError::Chain(kubectl_sui::chain::ChainError::Abort { abort: Some(a), .. })) => {
            (403, format!("contract: {}", a.name))
        }
        Err(e) => panic!("{} {}: {e}", envelope.method, envelope.path),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_client_gets_exactly_what_the_contract_approved_or_nothing() {
    let setup = setup_with(&policy(SUI, Role::Admin)).await;
    let plane = &setup.plane;
    plane.kubectl(&["create", "configmap", "keep-me"]).unwrap();
    plane.kubectl(&["create", "secret", "generic", "top", "-n", "kube-system", "--from-literal=k=v"]).unwrap();
    plane.kubectl(&["create", "namespace", "nautilus"]).unwrap();
    plane.kubectl(&["create", "secret", "generic", "nautilus-keys", "-n", "nautilus", "--from-literal=k=v"]).unwrap();
    plane.kubectl(&["run", "web", "--image=nginx"]).unwrap();
    let (_stop, _node) = setup.start_node();
    let attacker = setup.requester(Role::Edit, 2 * SUI).await;
    let admin = setup.requester(Role::Admin, 2 * SUI).await;
    let custom = setup.requester(Role::None, 0).await;
    setup.grant_rules(custom.token, &[parse_rule("get:configmaps:default").unwrap()]).await;

    let cm = "/api/v1/namespaces/default/configmaps";
    let secrets = "/api/v1/namespaces/kube-system/secrets";
    let cases: Vec<(&str, &Requester, RequestEnvelope, RequestAttributes, u16, &str)> = vec![
        // Smuggling a resource request past the contract as a discovery read.
        (
            "non-resource smuggling",
            &attacker,
            request("GET", secrets, ""),
            attrs(GET, "", "", "", secrets),
            403,
            "not the get",
        ),
        (
            "absolute form",
            &attacker,
            request("GET", &format!("https://x{secrets}"), ""),
            attrs(GET, "", "", "", "/api"),
            400,
            "not a path",
        ),
        (
            "authority form",
            &attacker,
            request("GET", "//x/api/v1/secrets", ""),
            attrs(GET, "", "", "", "/api"),
            400,
            "not a path",
        ),
        // What the API server would decode or route otherwise.
        (
            "encoded slash to exec",
            &attacker,
            request("GET", "/api/v1/namespaces/default/pods/web%2Fexec", ""),
            attrs(GET, "", "pods", "default", "web%2Fexec"),
            400,
            "percent escape",
        ),
        (
            "encoded slash to token",
            &attacker,
            request("POST", "/api/v1/namespaces/default/serviceaccounts/default%2Ftoken", "{}"),
            attrs(CREATE, "", "serviceaccounts", "default", "default%2Ftoken"),
            400,
            "percent escape",
        ),
        (
            "empty segment",
            &attacker,
            request("GET", "/api/v1/namespaces//secrets", ""),
            attrs(LIST, "", "configmaps", "default", ""),
            400,
            "empty",
        ),
        (
            "dot segment",
            &attacker,
            request("GET", &format!("{cm}/../secrets"), ""),
            attrs(GET, "", "configmaps", "default", ".."),
            400,
            "empty",
        ),
        (
            "legacy watch prefix",
            &attacker,
            request("GET", "/api/v1/watch/namespaces/default/configmaps", ""),
            attrs(LIST, "", "configmaps", "default", ""),
            400,
            "deprecated",
        ),
        (
            "legacy proxy prefix",
            &attacker,
            request("GET", "/api/v1/proxy/namespaces/default/pods/web", ""),
            attrs(GET, "", "pods", "default", "web"),
            400,
            "deprecated",
        ),
        (
            "namespace subresource",
            &admin,
            request("PUT", "/api/v1/namespaces/default/finalize", "{}"),
            attrs(UPDATE, "", "finalize", "default", ""),
            403,
            "not the update",
        ),
        (
            "watch=yes",
            &attacker,
            request("GET", &format!("{cm}?watch=yes"), ""),
            attrs(LIST, "", "configmaps", "default", ""),
            400,
            "true or false",
        ),
        (
            "repeated watch",
            &attacker,
            request("GET", &format!("{cm}?watch=false&watch=true"), ""),
            attrs(LIST, "", "configmaps", "default", ""),
            400,
            "repeated",
        ),
        (
            "semicolon pair",
            &attacker,
            request("GET", &format!("{cm}?watch=false;watch=true"), ""),
            attrs(LIST, "", "configmaps", "default", ""),
            400,
            "';'",
        ),
        (
            "subresource swap",
            &attacker,
            request("GET", "/api/v1/namespaces/default/pods/web/log", ""),
            attrs(GET, "", "pods", "default", "web"),
            403,
            "not the get",
        ),
        (
            "method swap",
            &attacker,
            request("DELETE", &format!("{cm}/keep-me"), ""),
            attrs(GET, "", "configmaps", "default", "keep-me"),
            403,
            "not the get",
        ),
        (
            "HEAD",
            &attacker,
            request("HEAD", &format!("{cm}/keep-me"), ""),
            attrs(GET, "", "configmaps", "default", "keep-me"),
            405,
            "not carried",
        ),
        (
            "lower-case method",
            &attacker,
            request("delete", &format!("{cm}/keep-me"), ""),
            attrs(DELETE, "", "configmaps", "default", "keep-me"),
            405,
            "not carried",
        ),
        // Approved, but a session that offers no WebSocket subprotocol the node relays.
        (
            "exec without a subprotocol",
            &attacker,
            request("POST", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true", ""),
            attrs(CREATE, "", "pods/exec", "default", "web"),
            400,
            "WebSocket subprotocol",
        ),
        // Approved, but the proxy subresource, which the chain path does not relay.
        (
            "pod proxy",
            &attacker,
            request("GET", "/api/v1/namespaces/default/pods/web/proxy", ""),
            attrs(GET, "", "pods/proxy", "default", "web"),
            501,
            "proxy subresource",
        ),
        // Honest attributes the contract refuses.
        (
            "protected namespace",
            &attacker,
            request("GET", "/api/v1/namespaces/nautilus/secrets/nautilus-keys", ""),
            attrs(GET, "", "secrets", "nautilus", "nautilus-keys"),
            403,
            "EPermissionDenied",
        ),
        (
            "protected namespace, admin",
            &admin,
            request("GET", "/api/v1/namespaces/nautilus/secrets", ""),
            attrs(LIST, "", "secrets", "nautilus", ""),
            403,
            "EPermissionDenied",
        ),
        (
            "deleting the node's namespace",
            &admin,
            request("DELETE", "/api/v1/namespaces/nautilus", ""),
            attrs(DELETE, "", "namespaces", "nautilus", "nautilus"),
            403,
            "EPermissionDenied",
        ),
        (
            "secrets across namespaces",
            &attacker,
            request("GET", "/api/v1/secrets", ""),
            attrs(LIST, "", "secrets", "", ""),
            403,
            "EPermissionDenied",
        ),
        (
            "metrics without a rule",
            &attacker,
            request("GET", "/metrics", ""),
            attrs(GET, "", "", "", "/metrics"),
            403,
            "EPermissionDenied",
        ),
        (
            "pprof without a rule",
            &attacker,
            request("GET", "/debug/pprof/", ""),
            attrs(GET, "", "", "", "/debug/pprof/"),
            403,
            "EPermissionDenied",
        ),
        (
            "outside an explicit grant",
            &custom,
            request("GET", &format!("{secrets}/top"), ""),
            attrs(GET, "", "secrets", "kube-system", "top"),
            403,
            "EPermissionDenied",
        ),
        (
            "explicit grant, other verb",
            &custom,
            request("DELETE", &format!("{cm}/keep-me"), ""),
            attrs(DELETE, "", "configmaps", "default", "keep-me"),
            403,
            "EPermissionDenied",
        ),
    ];
    for (what, who, envelope, approved, status, says) in &cases {
        let (got, message) = outcome(who, envelope, approved.clone()).await;
        assert_eq!(got, *status, "{what}: {message}");
        assert!(message.contains(says), "{what}: the Status must say why; got {message:?}");
    }

    // Executed exactly as approved: the explicit grant works through the cluster's RBAC, the
    // admin reads /metrics, and credentials or impersonation smuggled in headers are dropped.
    let mut smuggled = request("GET", &format!("{cm}/keep-me"), "");
    for (name, value) in [
        ("Impersonate-User", "admin"),
        ("Impersonate-Group", "system:masters"),
        ("Authorization", "Bearer stolen"),
        ("User-Agent", "nautilus/0 request/0x1"),
    ] {
        smuggled.headers.push((name.into(), value.into()));
    }
    let expect_ok = [
        (&custom, request("GET", &format!("{cm}/keep-me"), ""), attrs(GET, "", "configmaps", "default", "keep-me")),
        (&admin, request("GET", "/metrics", ""), attrs(GET, "", "", "", "/metrics")),
        (&attacker, smuggled, attrs(GET, "", "configmaps", "default", "keep-me")),
    ];
    for (who, envelope, approved) in &expect_ok {
        let (got, message) = outcome(who, envelope, approved.clone()).await;
        assert_eq!(got, 200, "{} {}: {message}", envelope.method, envelope.path);
    }

    // The API server's audit log: one execution per approved call above and nothing else,
    // each the operation approved, as the requester (never as admin or system:masters).
    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    for (who, expected) in [(&attacker, 1), (&admin, 1), (&custom, 1)] {
        let user = format!("sui:{}", address(&who.key));
        let theirs: Vec<_> = ran.iter().filter(|e| e.user == user).collect();
        assert_eq!(theirs.len(), expected, "{user} ran {theirs:#?}");
    }
    assert!(ran.iter().all(|e| e.user.starts_with("sui:0x")), "{ran:#?}");
    plane.kubectl(&["get", "configmap", "keep-me"]).expect("nothing deleted");
    plane.kubectl(&["get", "namespace", "nautilus"]).expect("the node's namespace stands");
}

/// Submits `envelope` while the node is stopped, then lets `change` happen on chain before the
/// node starts and executes it.
async fn submitted_then_changed<F: std::future::Future<Output = ()>>(
    setup: &crate::node::Setup,
    who: &Requester,
    envelope: RequestEnvelope,
    change: F,
) -> (u16, String) {
    let info = kubectl_sui::envelope::RequestInfo::parse(&envelope.method, &envelope.path).unwrap();
    let call = who.call_with_attributes(&envelope, info.attributes());
    let (result, node) = tokio::join!(call, async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        change.await;
        setup.start_node()
    });
    drop(node);
    let response = result.expect("answered");
    let message = serde_json::from_slice::<serde_json::Value>(&response.body).unwrap()["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (response.status, message)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_change_or_revocation_applies_to_the_next_request_the_node_runs() {
    let setup = setup_with(&policy(SUI, Role::Admin)).await;
    setup.plane.kubectl(&["create", "secret", "generic", "db", "--from-literal=k=v"]).unwrap();
    let secret = "/api/v1/namespaces/default/secrets/db";

    // Approved for an admin, downgraded to view before the node runs it: the node
    // impersonates the role the token has now, and the cluster refuses view a Secret.
    let downgraded = setup.requester(Role::Admin, 2 * SUI).await;
    let (status, message) = submitted_then_changed(
        &setup,
        &downgraded,
        request("GET", secret, ""),
        setup.grant_role(downgraded.token, Role::View),
    )
    .await;
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("secrets \"db\" is forbidden") && message.contains("sui:"), "{message}");

    // Approved, then revoked before the node runs it: refused by the node, nothing runs.
    let revoked = setup.requester(Role::Edit, 2 * SUI).await;
    let (status, message) =
        submitted_then_changed(&setup, &revoked, request("GET", secret, ""), setup.revoke(revoked.token)).await;
    assert_eq!(status, 403, "{message}");
    assert!(message.contains("revoked"), "{message}");

    // A grant applies at once, through the cluster's RBAC too.
    let (_stop, _node) = setup.start_node();
    let custom = setup.requester(Role::None, 0).await;
    setup.grant_rules(custom.token, &[parse_rule("get:configmaps:default").unwrap()]).await;
    let cm = request("GET", "/api/v1/namespaces/default/configmaps/kube-root-ca.crt", "");
    assert_eq!(custom.call(&cm).await.unwrap().status, 200);
    assert!(custom.call(&request("GET", secret, "")).await.is_err(), "not granted yet");
    setup.grant_rules(custom.token, &[parse_rule("get:secrets:default").unwrap()]).await;
    assert_eq!(custom.call(&request("GET", secret, "")).await.unwrap().status, 200, "the new grant works");
    assert!(custom.call(&cm).await.is_err(), "the old grant is gone on chain");

    let ran = setup.cluster_ran_only_what_the_chain_approved().await;
    let by = |who: &Requester| ran.iter().filter(|e| e.user == format!("sui:{}", address(&who.key))).count();
    assert_eq!((by(&downgraded), by(&revoked), by(&custom)), (1, 0, 2), "{ran:#?}");
}
