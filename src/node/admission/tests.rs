//! Every admission rule, refusing and admitting, without a chain or a cluster.

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;

use super::*;
use crate::envelope::{PublicKey, SecretKey};

const CLUSTER: Address = Address::from_static("0xc1");
const REQUESTER: Address = Address::from_static("0xb0b");

fn keys() -> NodeKeys {
    NodeKeys {
        signing: Ed25519PrivateKey::generate(rand_core::OsRng),
        sealing: SecretKey::generate(),
        previous_sealing: Some(SecretKey::generate()),
    }
}

/// What `submit` recorded for `method path`, sealed to `to`.
fn submitted(method: &str, path: &str, to: &PublicKey) -> RequestSubmitted {
    let a = RequestAttributes::from_http(method, path).unwrap();
    RequestSubmitted {
        request_id: Address::from_static("0x4e"),
        cluster_id: CLUSTER,
        token_id: Address::from_static("0x70"),
        requester: REQUESTER,
        node: Address::from_static("0xb0de"),
        verb: a.verb,
        group: a.group,
        resource: a.resource,
        namespace: a.namespace,
        name: a.name,
        body_len: 0,
        body_digest: vec![0; 32],
        chunk_count: 0,
        sealing_key: to.to_bytes().to_vec(),
        reply_key: vec![1; 32],
        timestamp_ms: 0,
    }
}

fn envelope(method: &str, path: &str, body: &[u8]) -> RequestEnvelope {
    RequestEnvelope { method: method.into(), path: path.into(), headers: vec![], body: body.to_vec() }
}

/// `sent` sealed as the proxy seals it for the request `s` records.
fn seal(s: &RequestSubmitted, sent: &RequestEnvelope, to: &PublicKey) -> Sealed {
    let binding = Binding::Request { cluster: CLUSTER, requester: s.requester, audit: approved(s).digest() };
    Sealed::seal(sent, to, &binding).unwrap()
}

#[test]
fn what_the_contract_approved_is_admitted_rebuilt_from_its_parts() {
    let k = keys();
    let path = "/api/v1/namespaces/default/configmaps/web";
    let s = submitted("GET", path, &k.sealing.public_key());
    let admitted = admit(&s, &seal(&s, &envelope("GET", path, b""), &k.sealing.public_key()), CLUSTER, &k, 1 << 20)
        .expect("admitted");
    assert_eq!(admitted.info.uri(), path);
    assert_eq!(admitted.info.attributes(), approved(&s));
}

#[test]
fn a_body_sealed_to_the_previous_key_still_opens() {
    let k = keys();
    let previous = k.previous_sealing.as_ref().unwrap().public_key();
    let path = "/api/v1/namespaces/default/configmaps";
    let s = submitted("POST", path, &previous);
    assert!(admit(&s, &seal(&s, &envelope("POST", path, b"{}"), &previous), CLUSTER, &k, 1 << 20).is_ok());
}

#[test]
fn a_key_the_node_does_not_hold_is_a_conflict_to_retry() {
    let k = keys();
    let other = SecretKey::generate().public_key();
    let path = "/api/v1/namespaces/default/pods";
    let s = submitted("GET", path, &other);
    let refused = admit(&s, &seal(&s, &envelope("GET", path, b""), &other), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (409, "unknown_sealing_key"));
    assert!(refused.message.contains("retry"), "{}", refused.message);
}

#[test]
fn a_body_bound_to_another_request_or_cluster_does_not_open() {
    let k = keys();
    let to = k.sealing.public_key();
    let path = "/api/v1/namespaces/default/configmaps";
    let s = submitted("POST", path, &to);
    // Sealed for another cluster: replaying a sealed body elsewhere fails to open.
    let binding =
        Binding::Request { cluster: Address::from_static("0xbad"), requester: REQUESTER, audit: approved(&s).digest() };
    let elsewhere = Sealed::seal(&envelope("POST", path, b"{}"), &to, &binding).unwrap();
    let refused = admit(&s, &elsewhere, CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (400, "unsealable"));
    // Garbage where the sealed body should be.
    let refused = admit(&s, &Sealed(vec![7; 100]), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!(refused.status, 400);
}

#[test]
fn a_sealed_request_other_than_the_approved_one_is_refused_unrun() {
    let k = keys();
    let to = k.sealing.public_key();
    // The chain approved a GET of one config map; the sealed request deletes a secret.
    let s = submitted("GET", "/api/v1/namespaces/default/configmaps/web", &to);
    let sent = envelope("DELETE", "/api/v1/namespaces/default/secrets/web", b"");
    let refused = admit(&s, &seal(&s, &sent, &to), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (403, "mismatch"));
    assert!(refused.message.contains("not the get on configmaps web in namespace default"), "{}", refused.message);
    // A smuggled path that kube-apiserver would read as something else never parses.
    let sent = envelope("GET", "/api/v1/namespaces/default/configmaps/web/../../secrets/x", b"");
    let refused = admit(&s, &seal(&s, &sent, &to), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (400, "unparsable"));
}

#[test]
fn the_proxy_subresource_is_refused_sessions_and_watches_admitted_as_streams() {
    let k = keys();
    let to = k.sealing.public_key();
    let path = "/api/v1/namespaces/default/pods/web/proxy";
    let s = submitted("GET", path, &to);
    let refused = admit(&s, &seal(&s, &envelope("GET", path, b""), &to), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (501, "not_carried"));
    let path = "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&stdin=true";
    let s = submitted("GET", path, &to);
    let refused = admit(&s, &seal(&s, &envelope("GET", path, b""), &to), CLUSTER, &k, 1 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (400, "session_protocol"), "no subprotocol offered");
    let mut offered = envelope("GET", path, b"");
    offered.headers.push(("sec-websocket-protocol".into(), "x-evil, v5.channel.k8s.io".into()));
    let admitted = admit(&s, &seal(&s, &offered, &to), CLUSTER, &k, 1 << 20).unwrap();
    assert!(admitted.info.is_session() && !admitted.info.is_stream());
    assert_eq!(crate::node::kube::offered_protocols(&admitted.envelope), ["v5.channel.k8s.io"]);
    for path in ["/api/v1/namespaces/default/pods?watch=true", "/api/v1/namespaces/default/pods/web/log?follow=true"] {
        let s = submitted("GET", path, &to);
        let admitted = admit(&s, &seal(&s, &envelope("GET", path, b""), &to), CLUSTER, &k, 1 << 20).unwrap();
        assert!(admitted.info.is_stream(), "{path}");
    }
    let path = "/api/v1/namespaces/default/pods/web/log";
    let s = submitted("GET", path, &to);
    assert!(!admit(&s, &seal(&s, &envelope("GET", path, b""), &to), CLUSTER, &k, 1 << 20).unwrap().info.is_stream());
}

#[test]
fn a_read_cannot_carry_a_large_body_a_write_may() {
    let k = keys();
    let to = k.sealing.public_key();
    let big = vec![b'x'; MAX_READ_BODY + 1];
    let path = "/api/v1/namespaces/default/configmaps/web";
    let s = submitted("GET", path, &to);
    let refused = admit(&s, &seal(&s, &envelope("GET", path, &big), &to), CLUSTER, &k, 16 << 20).unwrap_err();
    assert_eq!((refused.status, refused.cause), (400, "unsealable"));
    let s = submitted("PUT", path, &to);
    assert!(admit(&s, &seal(&s, &envelope("PUT", path, &big), &to), CLUSTER, &k, 16 << 20).is_ok());
    // And a write past the node's own limit is refused too.
    let refused = admit(&s, &seal(&s, &envelope("PUT", path, &big), &to), CLUSTER, &k, 1024).unwrap_err();
    assert_eq!(refused.status, 400);
}

#[test]
fn a_revocation_names_the_token() {
    let k = keys();
    let s = submitted("GET", "/api/v1/pods", &k.sealing.public_key());
    let refused = revoked(&s);
    assert_eq!((refused.status, refused.cause), (403, "revoked"));
    assert!(refused.message.contains(&s.token_id.to_string()));
    assert_eq!(refused.to_response().status, 403);
}
