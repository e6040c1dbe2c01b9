//! The round trip's rules in milliseconds, on the in-process devnet with a node run against an
//! API server in the process ([`crate::testkit::Rig`]); `tests/node.rs` and `tests/kubectl.rs`
//! run the same path against a real kube-apiserver.

use std::time::Duration;

use super::*;
use crate::contract::Role;
use crate::testkit::{self, Rig, api_server, request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_for_one_transaction_goes_in_uploads_and_arrives_whole() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, _) = rig.requester(Role::Edit).await;
    // 300 KiB of data: far more than the chunks `submit` itself carries.
    let data = "x".repeat(300 * 1024);
    let body = format!(r#"{{"metadata":{{"name":"big"}},"data":{{"d":"{data}"}}}}"#);
    let create = RequestEnvelope {
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.clone().into_bytes(),
        ..request("POST", "/api/v1/namespaces/default/configmaps")
    };
    let answer = user.call(&create).await.unwrap();
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].body_len, body.len(), "the API server got the whole body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_in_time_cancels_the_request_on_chain_so_it_never_runs() {
    let rig = Rig::new().await;
    let (user, _) = rig.requester(Role::Edit).await;
    let user = RoundTrip { timeout: Duration::from_millis(300), ..user };
    // No node runs.
    let gave_up = user.call(&request("GET", "/api/v1/namespaces/default/configmaps/late")).await;
    assert!(matches!(gave_up, Err(RoundTripError::Timeout { gave_up: GaveUp::Cancelled, .. })), "{gave_up:?}");
    // The node that starts afterwards finds it cancelled and runs nothing.
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (other, _) = rig.requester(Role::Edit).await;
    assert_eq!(other.call(&request("GET", "/api/v1/namespaces/default/configmaps/now")).await.unwrap().status, 200);
    let ran = ran.lock().unwrap().clone();
    assert_eq!(ran.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), ["/api/v1/namespaces/default/configmaps/now"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_after_the_node_rotated_its_key_twice_is_sealed_to_the_new_one() {
    let rig = Rig::new().await;
    let (user, _) = rig.requester(Role::Edit).await;
    let first = user.node().await.unwrap().sealing_key.to_bytes();
    // Two rotations: the key the proxy read is neither the current one nor the previous.
    for _ in 0..2 {
        let before = rig.published_sealing_key().await;
        let (api, _) = api_server();
        let (stop, node) = rig.start_rotating(api);
        rig.wait_for_sealing_key_other_than(&before).await;
        stop.send(true).unwrap();
        node.await.unwrap().unwrap();
    }
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let answer = user.call(&request("GET", "/api/v1/namespaces/default/configmaps/rotated")).await.unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_ne!(user.node().await.unwrap().sealing_key.to_bytes(), first);
    assert_eq!(ran.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_a_node_is_refused_with_the_next_step() {
    let chain = testkit::Chain::new().await;
    let admin = chain.funded().await;
    let (cluster, _) = chain.cluster(&admin, &testkit::policy(Role::Edit)).await;
    let rig = Rig { chain, cluster, node_dir: tempfile::tempdir().unwrap() };
    let (user, _) = rig.requester(Role::Edit).await;
    let refused = user.call(&request("GET", "/api/v1/namespaces")).await.unwrap_err();
    assert!(matches!(refused, RoundTripError::NoNode(c) if c == cluster), "{refused:?}");
    assert!(refused.to_string().contains("kubectl sui cluster node add"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_goes_to_a_stream_that_carries_no_session_key() {
    // A node answering an exec with a plain stream (here: a watch, which is one) gives the
    // proxy no key to seal input with: it refuses to send any, and the stream can be hung up.
    let rig = Rig::new().await;
    let (api, _) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, _) = rig.requester(Role::Edit).await;
    let path = "/api/v1/namespaces/default/configmaps?watch=true";
    let attributes = crate::envelope::RequestAttributes::from_http("GET", path).unwrap();
    let Reply::Stream(stream) = user.exchange(&request("GET", path), attributes).await.unwrap() else {
        panic!("a watch is answered with a stream");
    };
    let refused = user.session_input(&stream).await.unwrap_err();
    assert!(matches!(refused, RoundTripError::NotASession { node } if node == stream.node.address), "{refused:?}");
    assert!(refused.to_string().contains("carries no session key"), "{refused}");
    // Hung up, or ended by the node first (the fake API server's watch body is short): either
    // way a hang-up succeeds, and a second one finds nothing left to end.
    user.hang_up(stream.request).await.unwrap();
    user.hang_up(stream.request).await.unwrap();
}
