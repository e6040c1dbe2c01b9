//! Interactive sessions through the chain with the real kubectl: `exec` (one command, stdin,
//! a failing command), `cp` both ways, `attach`; the exact-subresource rule refusing exec to
//! a token that may only read pods; a revoked token ending a running session; the idle,
//! time and byte limits ending one (output and input), kubectl told which; an auditor
//! replaying a recorded session that no other key reads; and the API server's audit log
//! showing each session ran once, as approved, as the requester.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use crate::kubectl::User;
use crate::node::{Setup, setup};
use crate::streams::{metric, until_metric};

/// A cluster whose node runs (its metrics at `metrics`), with a running pod `p`.
struct Rig {
    setup: Setup,
    metrics: std::net::SocketAddr,
    _node: (tokio::sync::watch::Sender<bool>, tokio::task::JoinHandle<Result<(), kubectl_sui::node::NodeError>>),
}

async fn rig() -> Rig {
    rig_with(|_| {}).await
}

/// As [`rig`], the node's configuration changed by `change` first.
async fn rig_with(change: impl FnOnce(&mut kubectl_sui::node::NodeConfig)) -> Rig {
    let setup = setup().await;
    let mut config = setup.node_config();
    change(&mut config);
    let (node, metrics) = setup.start_node_serving_metrics(config).await;
    running_pod(&setup);
    Rig { setup, metrics, _node: node }
}

/// A running pod `p` on a kwok node (kwok runs its exec on this machine, in the plane's
/// exec directory, and its attach follows the plane's pod log).
fn running_pod(setup: &Setup) {
    setup
        .plane
        .kubectl_stdin(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nspec:\n  containers: [{name: c, image: busybox}]\n",
        )
        .unwrap();
    setup.plane.kubectl(&["wait", "--for=condition=Ready", "pod/p", "--timeout=60s"]).unwrap();
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_exec_cp_and_attach_run_through_the_chain_exactly_as_approved() {
    let Rig { setup, metrics: addr, _node } = rig().await;
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);
    let began = Instant::now();
    let step = |what: &str| eprintln!("sessions: {what} at {:?}", began.elapsed());

    // One command: its output, and the session ended on chain by the API server's close.
    let out = user.kubectl(&["exec", "p", "--", "echo", "hi"], "");
    assert!(out.status.success(), "kubectl exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hi\n");
    until_metric(addr, "nautilus_stream_ends_total{reason=\"completed\"}", |v| v >= 1.0).await;

    step("Standard input goes");
    // Standard input goes the other way, in the requester's own transactions.
    let lines: String = (0..50).map(|i| format!("line {i} typed through the chain\n")).collect();
    // (kwok never closes an exec's stdin, so the command reads a known amount, not to the end.)
    let out = user.kubectl(&["exec", "-i", "p", "--", "head", "-n", "50"], &lines);
    assert!(out.status.success(), "kubectl exec -i: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), lines);

    step("A failing command fails");
    // A failing command fails through the chain exactly as it does straight to the API server.
    let failing = ["exec", "p", "--", "sh", "-c", "echo no >&2; exit 3"];
    let direct = setup.plane.kubectl(&failing).unwrap_err().to_string();
    let out = user.kubectl(&failing, "");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no") && text(&out.stderr).contains("exit status 3"), "{}", text(&out.stderr));
    assert!(direct.contains("exit status 3"), "{direct}");

    step("kubectl cp (exec + tar)");
    // `kubectl cp` (exec + tar) moves 1 MiB in and back out byte for byte.
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 1 << 20];
    let mut x: u64 = 0x2545f4914f6cdd1d;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let local = dir.path().join("local.bin");
    std::fs::write(&local, &data).unwrap();
    let inside = dir.path().join("in-the-pod");
    std::fs::create_dir(&inside).unwrap();
    let remote = format!("p:{}/copied.bin", inside.display());
    let out = user.kubectl(&["cp", local.to_str().unwrap(), &remote], "");
    assert!(out.status.success(), "kubectl cp in: {}", text(&out.stderr));
    assert!(std::fs::read(inside.join("copied.bin")).unwrap() == data, "the copy in differs");
    let back = dir.path().join("back.bin");
    let out = user.kubectl(&["cp", &remote, back.to_str().unwrap()], "");
    assert!(out.status.success(), "kubectl cp out: {}", text(&out.stderr));
    assert!(std::fs::read(&back).unwrap() == data, "the copy out differs");

    step("kubectl attach follows");
    // `kubectl attach` follows the container; killing kubectl hangs the session up on chain.
    let mut command = user.command(crate::util::kubectl());
    command.args(["attach", "p"]);
    let mut attach = command.spawn().unwrap();
    let stdout = attach.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    until_metric(addr, "nautilus_streams_open", |v| v >= 1.0).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let attached = loop {
        setup.plane.log_line("attached through the chain").unwrap();
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(line) if line.contains("attached through the chain") => break line,
            _ => assert!(Instant::now() < deadline, "kubectl attach printed nothing through the chain"),
        }
    };
    assert!(attached.contains("attached through the chain"));
    let hung_up = metric(addr, "nautilus_stream_ends_total{reason=\"client\"}").await;
    attach.kill().unwrap();
    let _ = attach.wait();
    until_metric(addr, "nautilus_stream_ends_total{reason=\"client\"}", |v| v > hung_up).await;
    until_metric(addr, "nautilus_streams_open", |v| v == 0.0).await;

    step("The trail: every session");
    // The trail: every session one line, create on pods/exec or pods/attach, with its end;
    // the API server ran each once, as the requester, as approved.
    let trail = user.audit();
    let sessions: Vec<_> =
        trail.iter().filter(|r| r["resource"] == "pods/exec" || r["resource"] == "pods/attach").collect();
    // exec ×3, cp in (kubectl first runs `test -d` on the destination, then tar), cp out, attach
    assert_eq!(sessions.len(), 7, "{trail:#?}");
    assert!(sessions.iter().all(|r| r["verb"] == "create" && r["outcome"]["kind"] == "streamed"), "{sessions:#?}");
    let is_session =
        |e: &&kubectl_sui::audit::cluster_log::Execution| e.resource == "pods/exec" || e.resource == "pods/attach";
    setup.ran_once_done(|ran| ran.iter().filter(is_session).count() == sessions.len()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_needs_exec_on_the_pod_and_a_revoked_token_ends_a_running_session() {
    let Rig { setup, metrics: addr, _node } = rig().await;

    // A token that may read pods may not exec into them: the contract refuses, kubectl says
    // why, and the API server runs nothing.
    let viewer = User::new();
    viewer.login(&setup, setup.cluster, &["--role", "view"]);
    assert!(viewer.kubectl(&["get", "pod", "p"], "").status.success());
    let out = viewer.kubectl(&["exec", "p", "--", "echo", "hi"], "");
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(said.contains("Forbidden") && said.contains("pods/exec"), "{said}");
    assert!(setup.cluster_ran_only_what_the_chain_approved().await.iter().all(|e| e.resource != "pods/exec"));

    // A running session ends when the admin revokes its token: kubectl stops, the end is on
    // chain with its reason.
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);
    let status: serde_json::Value = serde_json::from_slice(&user.sui(&["status", "-o", "json"]).stdout).unwrap();
    let token: sui_sdk_types::Address = status["logins"][0]["token"].as_str().unwrap().parse().unwrap();
    let mut command = user.command(crate::util::kubectl());
    command.args(["exec", "-i", "p", "--", "cat"]);
    let mut session = command.spawn().unwrap();
    let mut stdin = session.stdin.take().unwrap();
    let stdout = session.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    stdin.write_all(b"before the revocation\n").unwrap();
    stdin.flush().unwrap();
    let echoed = rx.recv_timeout(Duration::from_secs(30)).expect("cat echoed through the chain");
    assert_eq!(echoed, "before the revocation");
    let ended_before = metric(addr, "nautilus_stream_ends_total{reason=\"token\"}").await;
    setup.revoke(token).await;
    until_metric(addr, "nautilus_stream_ends_total{reason=\"token\"}", |v| v > ended_before).await;
    let waited = Instant::now();
    let status = loop {
        if let Some(status) = session.try_wait().unwrap() {
            break status;
        }
        assert!(waited.elapsed() < Duration::from_secs(30), "kubectl outlived its session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    drop(stdin);
    assert!(status.code().is_some(), "kubectl exited by itself");
    let trail = user.audit();
    let ended: Vec<_> = trail.iter().filter(|r| r["resource"] == "pods/exec").collect();
    assert!(ended.iter().any(|r| r["outcome"]["ended"] == "token"), "{ended:#?}");
    setup.cluster_ran_only_what_the_chain_approved().await;
}

/// The local port `kubectl port-forward` says it listens on.
fn forwarded_port(lines: &std::sync::mpsc::Receiver<String>) -> u16 {
    let line = lines.recv_timeout(Duration::from_secs(60)).expect("kubectl port-forward said where it listens");
    // "Forwarding from 127.0.0.1:41234 -> 80"
    line.strip_prefix("Forwarding from 127.0.0.1:")
        .and_then(|rest| rest.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("unexpected: {line}"))
}

fn lines_of(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_port_forward_and_an_interactive_terminal_work_through_the_chain() {
    let Rig { setup, metrics: addr, _node } = rig().await;
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);

    // `kubectl port-forward` (SPDY framing inside the WebSocket), then real HTTP requests
    // through the forwarded port, to what kwok forwards every pod port to.
    let mut command = user.command(crate::util::kubectl());
    command.args(["port-forward", "pod/p", ":80"]);
    let mut forward = command.spawn().unwrap();
    let port = forwarded_port(&lines_of(&mut forward));
    for path in ["/through/the/chain", "/and/again"] {
        let reply = reqwest::get(format!("http://127.0.0.1:{port}{path}")).await.expect("a reply through the forward");
        assert_eq!(reply.status(), 200);
        let body = reply.text().await.unwrap();
        assert!(body.contains(kubectl_sui::controlplane::forward::GREETING), "{body}");
        assert!(body.contains(&format!("GET {path} HTTP/1.1")), "{body}");
    }
    let hung_up = metric(addr, "nautilus_stream_ends_total{reason=\"client\"}").await;
    forward.kill().unwrap();
    let _ = forward.wait();
    until_metric(addr, "nautilus_stream_ends_total{reason=\"client\"}", |v| v > hung_up).await;

    // `kubectl exec -it` in a pseudo-terminal: a typed line is run and its output read back.
    let kubectl = crate::util::kubectl();
    let mut command = user.command("script");
    command.args(["-qfec", &format!("{} exec -it p -- sh", kubectl.display()), "/dev/null"]);
    let mut terminal = command.spawn().unwrap();
    let output = lines_of(&mut terminal);
    let mut keys = terminal.stdin.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut typed = false;
    while !seen.iter().any(|l: &String| l.trim_end() == "typed-42") {
        if !typed {
            // Typed once the shell is there (its prompt, or a moment after the session opened).
            keys.write_all(b"echo typed-$((6*7))\r").unwrap();
            keys.flush().unwrap();
            typed = true;
        }
        match output.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => seen.push(line),
            Err(_) => assert!(Instant::now() < deadline, "no echo through the terminal: {seen:?}"),
        }
    }
    keys.write_all(b"exit\r").unwrap();
    keys.flush().unwrap();
    let waited = Instant::now();
    while terminal.try_wait().unwrap().is_none() {
        assert!(waited.elapsed() < Duration::from_secs(30), "the terminal session did not end: {seen:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let trail = user.audit();
    assert!(trail.iter().any(|r| r["resource"] == "pods/portforward" && r["verb"] == "create"), "{trail:#?}");
    setup.cluster_ran_only_what_the_chain_approved().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auditor_replays_a_session_and_no_other_key_reads_it() {
    let Rig { setup, metrics: _, _node } = rig().await;
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);
    let keys = tempfile::tempdir().unwrap();
    let keygen = |name: &str| {
        let path = keys.path().join(name).to_str().unwrap().to_string();
        let out = user.sui(&["audit", "keygen", "--out", &path]);
        assert!(out.status.success(), "keygen: {}", text(&out.stderr));
        (path, text(&out.stdout).trim().to_string())
    };
    let (auditor, auditor_public) = keygen("auditor.key");
    let (stranger, _) = keygen("stranger.key");
    let again = user.sui(&["audit", "keygen", "--out", &auditor]);
    assert!(!again.status.success() && text(&again.stderr).contains("never overwritten"), "{}", text(&again.stderr));

    // A session opened before the admin names the auditor is recorded for nobody else.
    let out = user.kubectl(&["exec", "p", "--", "echo", "unrecorded"], "");
    assert!(out.status.success(), "kubectl exec: {}", text(&out.stderr));
    let public: [u8; 32] = hex::decode(&auditor_public).unwrap().try_into().unwrap();
    setup.set_auditors(&[public]).await;
    let typed = "typed by the requester\n";
    let out = user.kubectl(&["exec", "-i", "p", "--", "head", "-n", "1"], typed);
    assert!(out.status.success(), "kubectl exec -i: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), typed);

    let trail = user.audit();
    let execs: Vec<String> = trail
        .iter()
        .filter(|r| r["resource"] == "pods/exec")
        .map(|r| r["request"].as_str().unwrap().to_string())
        .collect();
    let [before, recorded] = &execs[..] else { panic!("two sessions: {trail:#?}") };

    // The auditor, with no login of its own, reads both directions: what was typed, what came
    // back, how it ended.
    let reader = User::new();
    let (grpc, cluster) = (setup.devnet.grpc_url(), setup.cluster.to_string());
    let replay = |session: &str, key: &str, extra: &[&str]| {
        let mut args = vec!["audit", "replay", session, "--key", key, "--network", &grpc, "--cluster", &cluster];
        args.extend_from_slice(extra);
        reader.sui(&args)
    };
    let out = replay(recorded, &auditor, &["-o", "json"]);
    assert!(out.status.success(), "replay: {}", text(&out.stderr));
    let recording: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = recording["events"].as_array().unwrap();
    let carried = |direction: &str, channel: u64| {
        events.iter().any(|e| e["direction"] == direction && e["channel"] == channel && e["data"] == typed)
    };
    assert!(carried("input", 0), "stdin not recorded: {recording:#}");
    assert!(carried("output", 1), "stdout not recorded: {recording:#}");
    assert_eq!(recording["ended"], "completed");
    assert_eq!(recording["protocol"], "v5.channel.k8s.io");
    let typed_at = events.iter().position(|e| e["direction"] == "input" && e["data"] == typed).unwrap();
    let echoed_at = events.iter().position(|e| e["direction"] == "output" && e["data"] == typed).unwrap();
    assert!(typed_at < echoed_at, "the echo came before what was typed: {recording:#}");
    // The transcript and the paced replay say the same.
    let out = replay(recorded, &auditor, &[]);
    assert!(text(&out.stdout).contains("input  stdin   \"typed by the requester\\n\""), "{}", text(&out.stdout));
    let out = replay(recorded, &auditor, &["--play", "--speed", "50"]);
    assert!(out.status.success(), "replay --play: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), typed);
    // Reading can start at the session's checkpoint, from the trail; not after it.
    let at = trail.iter().find(|r| r["request"] == recorded.as_str()).unwrap()["checkpoint"].as_u64().unwrap();
    let out = replay(recorded, &auditor, &["--from-checkpoint", &at.to_string(), "--play", "--speed", "50"]);
    assert!(out.status.success(), "replay --from-checkpoint: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), typed);
    let out = replay(recorded, &auditor, &["--from-checkpoint", &(at + 1).to_string()]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("with the checkpoint of each"), "{}", text(&out.stderr));

    // Another key reads nothing, and the auditor's key nothing opened before it was named.
    for (session, key) in [(recorded, &stranger), (before, &auditor)] {
        let out = replay(session, key, &[]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("cannot open session"), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn input_not_sealed_with_the_session_key_ends_the_session_and_reaches_nothing() {
    use kubectl_sui::contract::{Contract, EndReason, Role};
    use kubectl_sui::envelope::{Frame, RequestEnvelope, RequestInfo, SessionKey};
    use kubectl_sui::proxy::{Reply, StreamItem};

    let Rig { setup, metrics: addr, _node } = rig().await;
    setup.set_auditors(&[kubectl_sui::envelope::SecretKey::generate().public_key().to_bytes()]).await;
    // A hostile requester with a client of its own opens `cat` with stdin, then sends input
    // sealed with a key of its own: input the auditors could not read.
    let hostile = setup.requester(Role::Edit, 2 * crate::fixtures::SUI).await;
    let path = "/api/v1/namespaces/default/pods/p/exec?command=cat&container=c&stdin=true&stdout=true";
    let envelope = RequestEnvelope {
        method: "GET".into(),
        path: path.into(),
        headers: vec![("sec-websocket-protocol".into(), "v5.channel.k8s.io".into())],
        body: vec![],
    };
    let attributes = RequestInfo::parse("GET", path).unwrap().attributes();
    let Reply::Stream(mut stream) = hostile.exchange(&envelope, attributes).await.unwrap() else {
        panic!("the session did not open")
    };
    assert_eq!(stream.status, 101);
    let refused_before = metric(addr, "nautilus_errors_total{kind=\"session_input\"}").await;
    let hidden =
        Frame::Message { binary: true, data: b"\x00hidden from the auditors\n".to_vec(), last: true, at_ms: 0 };
    let sealed = SessionKey::generate().seal_input(&hidden, setup.cluster, stream.request, 0).unwrap();
    let mut client =
        kubectl_sui::chain::ChainClient::new(&setup.devnet.grpc_url(), kubectl_sui::devnet::package_id()).unwrap();
    let request_arg = client.object_arg(stream.request).await.unwrap();
    let mut tx = sui_transaction_builder::TransactionBuilder::new();
    Contract::new(kubectl_sui::devnet::package_id()).send_input(&mut tx, request_arg, 0, vec![sealed]).unwrap();
    crate::fixtures::execute(&mut client, &hostile.key, tx).await;

    // The node refuses it and ends the session (`limit`); `cat` never saw it.
    let mut seen = Vec::new();
    let ended = loop {
        let item = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("the node ended the session")
            .expect("the stream ends on chain")
            .unwrap();
        match item {
            StreamItem::Message(message) => seen.extend(message.data),
            StreamItem::End { reason, .. } => break reason,
            StreamItem::Data(_) | StreamItem::Closed { .. } => {}
        }
    };
    assert_eq!(ended, Some(EndReason::Limit));
    assert!(!text(&seen).contains("hidden"), "{}", text(&seen));
    assert!(metric(addr, "nautilus_errors_total{kind=\"session_input\"}").await > refused_before);
    // The API server ran the session once, as approved, and nothing else.
    setup.cluster_ran_only_what_the_chain_approved().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_ends_at_its_idle_time_and_byte_limits_and_kubectl_says_why() {
    const MAX_BYTES: u64 = 256 * 1024;
    let Rig { setup, metrics: addr, _node } = rig_with(|config| {
        config.limits.session_idle_secs = 2;
        config.limits.session_max_secs = 6;
        config.limits.stream_max_bytes = MAX_BYTES;
    })
    .await;
    let user = User::new();
    user.login(&setup, setup.cluster, &[]);
    let run = |input: Option<std::time::Duration>| {
        let mut command = user.command(crate::util::kubectl());
        command.args(["exec", "-i", "p", "--", "cat"]);
        let mut child = command.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let began = Instant::now();
        // Typing every `input` keeps the session busy; nothing typed leaves it idle.
        std::thread::spawn(move || {
            while let Some(every) = input {
                if stdin.write_all(b"still here\n").and_then(|()| stdin.flush()).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
            std::thread::sleep(Duration::from_secs(60));
            drop(stdin);
        });
        let out = child.wait_with_output().unwrap();
        (began.elapsed(), out)
    };

    // Idle: nothing either way for session-idle-secs.
    let (took, out) = tokio::task::block_in_place(|| run(None));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("session-idle-secs"), "{}", text(&out.stderr));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(20), "{took:?}");
    // Busy: it runs until session-max-secs, however busy.
    let (took, out) = tokio::task::block_in_place(|| run(Some(Duration::from_millis(300))));
    assert!(!out.status.success());
    assert!(text(&out.stdout).contains("still here"), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("session-max-secs"), "{}", text(&out.stderr));
    assert!(took >= Duration::from_secs(6) && took < Duration::from_secs(30), "{took:?}");
    // Bytes, out: a command writing 4 MiB is cut off past stream-max-bytes.
    let mut flood = user.command(crate::util::kubectl());
    flood.args(["exec", "p", "--", "head", "-c", "4194304", "/dev/zero"]);
    let out = tokio::task::block_in_place(|| User::run(flood, ""));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stream-max-bytes"), "{}", text(&out.stderr));
    assert!((out.stdout.len() as u64) <= MAX_BYTES, "{} bytes reached kubectl", out.stdout.len());
    // Bytes, in: 4 MiB typed into `wc -c` ends the session before wc can count them.
    let mut counted = user.command(crate::util::kubectl());
    counted.args(["exec", "-i", "p", "--", "wc", "-c"]);
    let out = tokio::task::block_in_place(|| {
        let mut child = counted.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // kubectl stops reading once the session ends: the rest of the input is refused.
        std::thread::spawn(move || {
            let _ = stdin.write_all(&vec![b'x'; 4 << 20]);
        });
        child.wait_with_output().unwrap()
    });
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("stream-max-bytes"), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("4194304"), "wc counted everything: {}", text(&out.stdout));
    until_metric(addr, "nautilus_stream_ends_total{reason=\"limit\"}", |v| v >= 4.0).await;
    let trail = user.audit();
    let limited = trail.iter().filter(|r| r["resource"] == "pods/exec" && r["outcome"]["ended"] == "limit").count();
    assert_eq!(limited, 4, "{trail:#?}");
    // The API server ran each session once, as approved, and nothing else.
    setup.cluster_ran_only_what_the_chain_approved().await;
}
