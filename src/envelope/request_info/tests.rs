//! The resolution table of kube-apiserver's `requestinfo_test.go`, and every reading the
//! node refuses because the API server could take it otherwise.

use super::*;

fn info(method: &str, target: &str) -> RequestInfo {
    RequestInfo::parse(method, target).unwrap_or_else(|e| panic!("{method} {target}: {e}"))
}

/// (verb, group, resource/sub, namespace, name) of a request.
fn attrs(method: &str, target: &str) -> (Verb, String, String, String, String) {
    let a = info(method, target).attributes();
    (Verb::from_code(a.verb).unwrap(), a.group, a.resource, a.namespace, a.name)
}

fn t(v: Verb, g: &str, r: &str, ns: &str, n: &str) -> (Verb, String, String, String, String) {
    (v, g.into(), r.into(), ns.into(), n.into())
}

fn refused(method: &str, target: &str) -> RequestInfoError {
    match RequestInfo::parse(method, target) {
        Ok(i) => panic!("{method} {target} was accepted as {i:?}"),
        Err(e) => e,
    }
}

#[test]
fn resolves_like_the_api_server() {
    use Verb::*;
    let cases = [
        ("GET", "/api/v1/pods", t(List, "", "pods", "", "")),
        ("GET", "/api/v1/namespaces/default/pods?limit=500", t(List, "", "pods", "default", "")),
        ("GET", "/api/v1/namespaces/default/pods/web", t(Get, "", "pods", "default", "web")),
        ("GET", "/api/v1/namespaces/default/pods/web/log", t(Get, "", "pods/log", "default", "web")),
        ("GET", "/api/v1/namespaces/default/pods?watch=true", t(Watch, "", "pods", "default", "")),
        ("GET", "/api/v1/namespaces/default/pods?watch=false", t(List, "", "pods", "default", "")),
        ("POST", "/apis/apps/v1/namespaces/prod/deployments", t(Create, "apps", "deployments", "prod", "")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/prod/deployments/web/scale",
            t(Patch, "apps", "deployments/scale", "prod", "web"),
        ),
        ("PUT", "/api/v1/namespaces/a/configmaps/c", t(Update, "", "configmaps", "a", "c")),
        ("DELETE", "/api/v1/namespaces/a/secrets/s", t(Delete, "", "secrets", "a", "s")),
        ("DELETE", "/api/v1/namespaces/a/secrets", t(DeleteCollection, "", "secrets", "a", "")),
        ("GET", "/api/v1/namespaces", t(List, "", "namespaces", "", "")),
        // The namespace object is in its own namespace, as RBAC sees it.
        ("GET", "/api/v1/namespaces/kube-system", t(Get, "", "namespaces", "kube-system", "kube-system")),
        ("PUT", "/api/v1/namespaces/x/finalize", t(Update, "", "namespaces/finalize", "x", "x")),
        ("GET", "/api/v1/namespaces/x/status", t(Get, "", "namespaces/status", "x", "x")),
        ("GET", "/api/v1/nodes/kwok-node-0", t(Get, "", "nodes", "", "kwok-node-0")),
        (
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user",
            t(Get, "rbac.authorization.k8s.io", "clusterroles", "", "system:basic-user"),
        ),
        // kubectl get pod web -w: a watch of one object, named by its field selector.
        (
            "GET",
            "/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Dweb&watch=true",
            t(Watch, "", "pods", "a", "web"),
        ),
        (
            "GET",
            "/api/v1/namespaces/a/pods?fieldSelector=status.phase%3DRunning,metadata.name%3D%3Dweb",
            t(List, "", "pods", "a", "web"),
        ),
        ("GET", "/api/v1/namespaces/a/pods?fieldSelector=metadata.name%21%3Dweb", t(List, "", "pods", "a", "")),
        (
            "POST",
            "/api/v1/namespaces/a/serviceaccounts/default/token",
            t(Create, "", "serviceaccounts/token", "a", "default"),
        ),
    ];
    for (method, target, want) in cases {
        assert_eq!(attrs(method, target), want, "{method} {target}");
    }
}

#[test]
fn non_resource_paths_are_reads_named_by_path() {
    for path in [
        "/",
        "/api",
        "/apis",
        "/api/v1",
        "/version",
        "/openapi/v3",
        "/apis/apps",
        "/apis/apps/v1",
        "/healthz",
        "/metrics",
        "/debug/pprof/",
    ] {
        if path.ends_with('/') && path != "/" {
            assert!(matches!(refused("GET", path), RequestInfoError::Segment(_)), "{path}");
            continue;
        }
        assert_eq!(attrs("GET", &format!("{path}?timeout=32s")), t(Verb::Get, "", "", "", path), "{path}");
        assert!(matches!(refused("POST", path), RequestInfoError::NonResourceWrite { .. }), "{path}");
    }
    let long = format!("/openapi/{}", "x".repeat(250));
    assert!(matches!(refused("GET", &long), RequestInfoError::PathTooLong(_)));
}

#[test]
fn the_node_runs_the_uri_it_rebuilt() {
    let cases = [
        ("/api/v1/namespaces/default/pods?limit=500", "/api/v1/namespaces/default/pods?limit=500"),
        ("/api/v1/namespaces/kube-system", "/api/v1/namespaces/kube-system"),
        ("/api/v1/namespaces/x/status", "/api/v1/namespaces/x/status"),
        ("/apis/apps/v1/namespaces/p/deployments/web/scale", "/apis/apps/v1/namespaces/p/deployments/web/scale"),
        // Escapes the API server would decode anyway come out canonical.
        (
            "/api/v1/namespaces/a/pods?labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb",
            "/api/v1/namespaces/a/pods?labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb",
        ),
        ("/api/v1/pods?labelSelector=a+in+(b,c)", "/api/v1/pods?labelSelector=a+in+%28b%2Cc%29"),
        ("/openapi/v3/apis/apps/v1?hash=ABC", "/openapi/v3/apis/apps/v1?hash=ABC"),
    ];
    for (target, uri) in cases {
        let parsed = info("GET", target);
        assert_eq!(parsed.uri(), uri, "{target}");
        // The rebuilt URI reads back as the same request: a fixed point.
        assert_eq!(info("GET", &parsed.uri()), parsed, "{target}");
    }
}

#[test]
fn encoded_slashes_and_escapes_in_the_path_are_refused() {
    for target in [
        "/api/v1/namespaces/a/pods/web%2Fexec",
        "/api/v1/namespaces/a/pods/web%2fproxy%2fx",
        "/api/v1/namespaces/a/serviceaccounts/default%2Ftoken",
        "/apis/apps/v1/namespaces/a/deployments/web%2Fscale",
        "/api/v1/namespaces/a/config%6Daps",
        "/api/v1/namespaces/a/pods/w\u{e9}b",
        "/api/v1/namespaces/a/pods/web b",
        "/api/v1/namespaces/a/pods/web\\exec",
        "/api/v1/namespaces/a/pods/web;exec",
    ] {
        assert!(matches!(refused("GET", target), RequestInfoError::PathCharacter { .. }), "{target}");
    }
}

#[test]
fn empty_and_dot_segments_are_refused() {
    for target in [
        "/api/v1/namespaces//secrets",
        "/api/v1//namespaces/kube-system/secrets",
        "/api/v1/namespaces/a/pods/",
        "/api/v1/namespaces/a/pods/./x",
        "/api/v1/namespaces/a/configmaps/../secrets",
        "/api/v1/namespaces/a/pods/..",
    ] {
        assert!(matches!(refused("GET", target), RequestInfoError::Segment(_)), "{target}");
    }
}

#[test]
fn targets_that_are_not_paths_are_refused() {
    for target in [
        "https://x/api/v1/namespaces/kube-system/secrets",
        "x/api/v1/secrets",
        "//x/api/v1/secrets",
        "*",
        "",
        "/api/v1/namespaces/a/configmaps#/../secrets",
    ] {
        assert!(matches!(refused("GET", target), RequestInfoError::NotOriginForm(_)), "{target:?}");
    }
}

#[test]
fn legacy_prefixes_and_deep_paths_are_refused() {
    for target in
        ["/api/v1/watch/namespaces/a/secrets", "/api/v1/proxy/namespaces/a/pods/x", "/apis/apps/v1/watch/deployments"]
    {
        assert!(matches!(refused("GET", target), RequestInfoError::LegacyPrefix { .. }), "{target}");
    }
    for target in [
        "/api/v1/namespaces/a/pods/b/proxy/metrics",
        "/api/v1/namespaces/a/services/b:80/proxy/x",
        "/api/v1/namespaces/a/namespaces/b",
        "/api/v1/namespaces/a/namespaces",
        "/api/v1/namespaces/a/namespaces/a",
    ] {
        assert!(matches!(refused("GET", target), RequestInfoError::NotResource(_)), "{target}");
    }
}

#[test]
fn booleans_and_repeated_parameters_are_refused_unless_canonical() {
    for value in ["yes", "1", "TRUE", "True", "", "on", "y", "0", "no", "f"] {
        let target = format!("/api/v1/namespaces/a/pods?watch={value}");
        assert!(matches!(refused("GET", &target), RequestInfoError::Query { .. }), "{target}");
        let target = format!("/api/v1/namespaces/a/pods/web/log?follow={value}");
        assert!(matches!(refused("GET", &target), RequestInfoError::Query { .. }), "{target}");
    }
    for target in [
        "/api/v1/namespaces/a/pods?watch=false&watch=true",
        "/api/v1/namespaces/a/pods?limit=1&limit=2",
        "/api/v1/namespaces/a/pods?watch=false;watch=true",
        "/api/v1/namespaces/a/pods?watch%3Dtrue=x&=y",
        "/api/v1/namespaces/a/pods?=true",
        "/api/v1/namespaces/a/pods?labelSelector=%zz",
        "/api/v1/namespaces/a/pods?labelSelector=%e9",
        "/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Da,metadata.name%3Db",
        "/api/v1/namespaces/a/pods?fieldSelector=metadata.name%3Da%5C,b",
        "/api/v1/namespaces/a/pods?fieldSelector=metadata.name+%3D+a",
        // A watch on a named path is not a watch to the API server: refused, not guessed.
        "/api/v1/namespaces/a/pods/web?watch=true",
    ] {
        assert!(matches!(refused("GET", target), RequestInfoError::Query { .. }), "{target}");
    }
}

#[test]
fn methods_outside_the_five_are_refused() {
    for method in ["HEAD", "OPTIONS", "TRACE", "CONNECT", "get", "PROPFIND"] {
        assert_eq!(refused(method, "/api/v1/pods").status(), 405, "{method}");
    }
}

proptest::proptest! {
    /// Whatever the parser accepts, its rebuilt URI parses back to the same request, and that
    /// URI holds no escape in the path: what the node executes is what it checked.
    #[test]
    fn accepted_targets_rebuild_to_a_fixed_point(
        segments in proptest::collection::vec("(api|apis|v1|apps|namespaces|a|pods|x|status|log|watch|%2F|\\.|\\.\\.|)", 0..7),
        query in proptest::option::of("(watch|limit|fieldSelector|follow)=(true|false|metadata\\.name%3Dx|1|yes)(&(watch|limit)=(true|2))?"),
        method in "(GET|POST|PUT|PATCH|DELETE)",
    ) {
        let mut target = format!("/{}", segments.join("/"));
        if let Some(q) = query {
            target.push('?');
            target.push_str(&q);
        }
        if let Ok(parsed) = RequestInfo::parse(&method, &target) {
            let uri = parsed.uri();
            let (path, _) = uri.split_once('?').unwrap_or((&uri, ""));
            proptest::prop_assert!(!path.contains('%'));
            proptest::prop_assert_eq!(RequestInfo::parse(&method, &uri).unwrap(), parsed);
        }
    }
}

#[test]
fn sessions_are_create_on_their_subresource_with_their_argv_in_order() {
    for method in ["GET", "POST"] {
        for sub in ["exec", "attach", "portforward"] {
            let target = format!("/api/v1/namespaces/prod/pods/web/{sub}?container=app&stdin=true");
            let parsed = info(method, &target);
            assert!(parsed.is_session(), "{method} {target}");
            assert_eq!(parsed.not_carried(), None);
            assert_eq!(attrs(method, &target), t(Verb::Create, "", &format!("pods/{sub}"), "prod", "web"));
        }
    }
    let exec = info("GET", "/api/v1/namespaces/a/pods/web/exec?command=sh&command=-c&command=echo%20hi&stdout=true");
    let argv: Vec<&str> = exec.query.iter().filter(|(k, _)| k == "command").map(|(_, v)| v.as_str()).collect();
    assert_eq!(argv, ["sh", "-c", "echo hi"]);
    assert_eq!(info("GET", &exec.uri()), exec, "the rebuilt URI keeps every argument, in order");
    let forward = info("GET", "/api/v1/namespaces/a/pods/web/portforward?ports=80&ports=443");
    assert_eq!(forward.query, [("ports".to_string(), "80".to_string()), ("ports".to_string(), "443".to_string())]);
    // Only pods have sessions; the proxy subresource is still not carried; other keys stay single.
    assert!(!info("GET", "/apis/x.io/v1/namespaces/a/things/web/exec").is_session());
    assert!(!info("GET", "/api/v1/namespaces/a/pods/web/log").is_session());
    assert_eq!(info("GET", "/api/v1/namespaces/a/pods/web/proxy").not_carried(), Some(NotCarried::Stream));
    assert!(matches!(
        refused("GET", "/api/v1/namespaces/a/pods/web/exec?container=a&container=b"),
        RequestInfoError::Query { .. }
    ));
    assert!(matches!(refused("GET", "/api/v1/namespaces/a/pods/web/exec?tty=1"), RequestInfoError::Query { .. }));
}
