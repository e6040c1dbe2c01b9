//! The node's rules in milliseconds: [`super::run_with`] over the in-process devnet (the contract's
//! real execution, no sockets) and an API server in the process that records what it is sent,
//! with requests made by the proxy's [`crate::proxy::RoundTrip`] ([`crate::testkit::Rig`]). The same rules are tested end to end
//! against a real kube-apiserver in `tests/node.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::chain::ChainError;
use crate::contract::{Abort, Role};
use crate::envelope::{RequestAttributes, RequestEnvelope};
use crate::node::kube;
use crate::proxy::RoundTripError;
use crate::testkit::{Ran, Rig, address, api_server, api_server_hanging, request};

const CONFIGMAP: &str = "/api/v1/namespaces/default/configmaps/seen";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_runs_once_as_its_requester_exactly_as_the_chain_approved_it() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, key) = rig.requester(Role::Edit).await;
    let answer = user.call(&request("GET", CONFIGMAP)).await.unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert!(String::from_utf8_lossy(&answer.body).contains(r#""name":"seen""#));
    let expected = Ran {
        method: "GET".into(),
        path: CONFIGMAP.into(),
        user: kube::impersonated_user(&address(&key)),
        body_len: 0,
    };
    assert_eq!(*ran.lock().unwrap(), [expected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_unlike_its_approval_is_refused_and_nothing_runs() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (user, _) = rig.requester(Role::Edit).await;
    // The sealed envelope deletes; the attributes the chain approved say "get".
    let approved = RequestAttributes::from_http("GET", CONFIGMAP).unwrap();
    let answer = user.call_with_attributes(&request("DELETE", CONFIGMAP), approved).await.unwrap();
    assert_eq!(answer.status, 403, "{}", String::from_utf8_lossy(&answer.body));
    assert!(ran.lock().unwrap().is_empty(), "the API server was sent {:?}", ran.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_contract_refuses_never_reaches_the_node() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (_stop, _node) = rig.start(api);
    let (viewer, _) = rig.requester(Role::View).await;
    let refused = viewer.call(&request("DELETE", CONFIGMAP)).await;
    assert!(
        matches!(&refused, Err(RoundTripError::Chain(ChainError::Abort { abort: Some(a), .. })) if a.kind == Abort::EPermissionDenied),
        "{refused:?}"
    );
    assert!(ran.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_made_while_the_node_is_down_run_once_each_after_it_restarts() {
    let rig = Rig::new().await;
    let (api, ran) = api_server();
    let (stop, node) = rig.start(api.clone());
    let (user, _) = rig.requester(Role::Edit).await;
    let user = Arc::new(user);
    assert_eq!(user.call(&request("GET", CONFIGMAP)).await.unwrap().status, 200);
    stop.send(true).unwrap();
    node.await.unwrap().unwrap();

    let calls: Vec<_> = (0..3)
        .map(|i| {
            let user = user.clone();
            tokio::spawn(async move { user.call(&request("GET", &format!("{CONFIGMAP}-{i}"))).await })
        })
        .collect();
    // Submitted on chain while no node runs.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ran.lock().unwrap().len(), 1);
    let (_stop, _node) = rig.start(api);
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().status, 200);
    }
    let mut paths: Vec<String> = ran.lock().unwrap().iter().map(|r| r.path.clone()).collect();
    paths.sort();
    let expected: Vec<String> =
        std::iter::once(CONFIGMAP.to_string()).chain((0..3).map(|i| format!("{CONFIGMAP}-{i}"))).collect();
    assert_eq!(paths, expected, "each ran once, the first not again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_a_crash_interrupted_is_never_run_again_and_is_answered_as_unknown() {
    let rig = Rig::new().await;
    let (hanging, ran) = api_server_hanging(true);
    let (_stop, node) = rig.start(hanging);
    let (user, _) = rig.requester(Role::Edit).await;
    let user = Arc::new(user);
    let create = RequestEnvelope {
        headers: vec![("content-type".into(), "application/json".into())],
        body: br#"{"metadata":{"name":"once"}}"#.to_vec(),
        ..request("POST", "/api/v1/namespaces/default/configmaps")
    };
    let call = tokio::spawn({
        let (user, create) = (user.clone(), create.clone());
        async move { user.call(&create).await }
    });
    // The write reached the API server; the node dies before it hears back.
    while ran.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.abort();
    let _ = node.await;

    let (api, ran_after) = api_server();
    let (_stop, _node) = rig.start(api);
    let answer = call.await.unwrap().unwrap();
    assert_eq!(answer.status, 500, "{}", String::from_utf8_lossy(&answer.body));
    assert!(
        String::from_utf8_lossy(&answer.body).contains("not run again"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(ran_after.lock().unwrap().is_empty(), "ran again: {:?}", ran_after.lock().unwrap());
    assert_eq!(ran.lock().unwrap().len(), 1);
}
