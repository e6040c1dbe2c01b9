//! The real control plane, driven straight by the real kubectl: the baseline the chain path
//! is measured against.

use crate::util::start_control_plane;

const DEPLOYMENT: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
"#;

#[test]
fn kubectl_runs_a_deployment_on_kwok_nodes() {
    let (plane, _dir) = start_control_plane(2);
    // On failure, show what the cluster saw, not just which command gave up.
    let diagnose = || {
        ["get pods,nodes -o wide", "get events --sort-by=.lastTimestamp"]
            .map(|a| plane.kubectl(&a.split(' ').collect::<Vec<_>>()).unwrap_or_else(|e| e.to_string()))
            .join("\n")
    };
    let k = |args: &[&str]| plane.kubectl(args).unwrap_or_else(|e| panic!("{e}\n{}", diagnose()));

    let nodes = k(&["get", "nodes", "-o", "name"]);
    assert_eq!(nodes.lines().count(), 2, "{nodes}");

    let applied = plane.kubectl_stdin(&["apply", "-f", "-"], DEPLOYMENT).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(applied.trim(), "deployment.apps/web created");
    k(&["rollout", "status", "deployment/web", "--timeout=120s"]);
    k(&["wait", "--for=jsonpath={.status.phase}=Running", "pod", "-l", "app=web", "--timeout=60s"]);

    let phases = k(&[
        "get",
        "pods",
        "-l",
        "app=web",
        "-o",
        "jsonpath={range .items[*]}{.status.phase} {.spec.nodeName}{\"\\n\"}{end}",
    ]);
    let pods: Vec<&str> = phases.lines().collect();
    assert_eq!(pods.len(), 3, "{phases}");
    assert!(pods.iter().all(|p| p.starts_with("Running kwok-node-")), "{phases}");

    // kwok's containers serve the control plane's pod log, and a follower sees it grow.
    let first = pods_names(&k(&["get", "pods", "-l", "app=web", "-o", "name"]));
    let logs = k(&["logs", &first, "--tail=5"]);
    assert!(logs.contains("kwok container started"), "{logs}");

    // Straight to the API server (the baseline of the chain path): exec runs the command in
    // kwok's work directory and gives its output and exit code; attach follows the log.
    assert_eq!(k(&["exec", &first, "--", "echo", "hi"]), "hi\n");
    let failed = plane.kubectl(&["exec", &first, "--", "sh", "-c", "echo no >&2; exit 3"]).unwrap_err().to_string();
    // kwok v0.7 reports a non-zero exit as an internal error naming it, not as the exit code
    // a kubelet sends (`command terminated with exit code 3`), so kubectl exits 1 here.
    assert!(failed.contains("no") && failed.contains("exit status 3"), "{failed}");
    let attached = attach_first_line(&plane, &first);
    assert!(attached.contains("attached: a line written after"), "{attached}");

    let table = k(&["get", "deployment", "web"]);
    assert!(table.lines().nth(1).is_some_and(|l| l.starts_with("web") && l.contains("3/3")), "{table}");
    let described = k(&["describe", "deployment", "web"]);
    assert!(described.contains("3 desired | 3 updated | 3 total | 3 available"), "{described}");

    assert_eq!(k(&["delete", "deployment", "web"]).trim(), "deployment.apps \"web\" deleted");
    k(&["wait", "--for=delete", "pod", "-l", "app=web", "--timeout=60s"]);
    assert_eq!(k(&["get", "pods", "-l", "app=web", "-o", "name"]).trim(), "");
}

#[test]
fn control_plane_stops_when_a_test_panics() {
    let server = std::panic::catch_unwind(|| {
        let (plane, _dir) = start_control_plane(0);
        let server = plane.server().to_string();
        std::panic::panic_any(server);
    })
    .expect_err("the closure panics")
    .downcast::<String>()
    .expect("the panic carries the server URL");
    let addr = server.trim_start_matches("https://");
    let refused = std::net::TcpStream::connect(addr).is_err();
    assert!(refused, "the API server at {addr} still accepts connections after the panic");
}

fn pods_names(names: &str) -> String {
    names.lines().next().expect("a pod").to_string()
}

/// What `kubectl attach` prints for `pod` once a line is appended to the containers' log
/// (kwok's attach follows the log from its end), within 30 s.
fn attach_first_line(plane: &kubectl_sui::controlplane::ControlPlane, pod: &str) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(crate::util::kubectl())
        .arg(format!("--kubeconfig={}", plane.kubeconfig().display()))
        .args(["attach", pod])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("kubectl attach starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let mut line = Err(std::sync::mpsc::RecvTimeoutError::Timeout);
    for _ in 0..30 {
        plane.log_line("attached: a line written after kubectl attach began").unwrap();
        line = rx.recv_timeout(std::time::Duration::from_secs(1));
        if line.is_ok() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    line.unwrap_or_else(|_| "kubectl attach printed nothing within 30 s".into())
}
