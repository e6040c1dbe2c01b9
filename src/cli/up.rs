//! `kubectl sui up` and `down`: the one-command quick start. `up` starts a background stack
//! (the devnet, a node, and a local Kubernetes control plane, built from its Go modules the
//! first time; or, with `--context`, an existing cluster), creates the cluster object and
//! registers the node the first time, then logs in; `down` stops the stack and the proxies
//! (`--purge` also removes its data). State stays under `--data-dir`, so `up` again resumes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use super::CliError;
use super::admin::{self, CreateArgs, PolicyArgs};
use super::chain_ops::{connect, fund, spinner};
use super::session::{self, LoginArgs};
use crate::config::{Paths, Settings};
use crate::contract::objects::Cluster;
use crate::controlplane::{ControlPlane, ControlPlaneSpec};
use crate::devnet::{self, Devnet, DevnetConfig};
use crate::fs::{create_private_dir, write_atomic};
use crate::node::keys::NodeKeys;
use crate::node::{self, NodeConfig};
use crate::process::supervise;
use crate::proxy::daemon;

/// Name of the cluster object `up` creates.
const CLUSTER_NAME: &str = "local";
/// How long the stack may take to become ready (a control plane's first start included).
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// `kubectl sui up`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Up")]
pub struct UpArgs {
    /// Where the services keep their state [default: <data dir>/up].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Serve the existing cluster of this kubeconfig context instead of a local control
    /// plane. Self-service is then `view` unless --self-service says otherwise.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Highest role anyone may stake for without the admin: none, view, edit or admin
    /// [default: admin on the local control plane, whose one user you are; view with --context].
    #[arg(long, value_name = "ROLE")]
    pub self_service: Option<String>,
    /// The default since the local control plane is built by `up` itself; kept so that
    /// older scripts still run.
    #[arg(long, hide = true)]
    pub local_control_plane: bool,
    /// Run the stack in the foreground (what `up` starts in the background).
    #[arg(long, hide = true)]
    pub serve: bool,
}

/// Where the node `up` runs serves its health and Prometheus metrics.
const NODE_METRICS: &str = "127.0.0.1:9412";

/// What the stack reports once ready.
#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    cluster: Address,
    node: Address,
    target: String,
    /// The devnet's gRPC endpoint.
    #[serde(default)]
    devnet: String,
    /// The node's health and metrics address.
    #[serde(default)]
    metrics: String,
    /// The local control plane's API server, when it runs one.
    #[serde(default)]
    server: Option<String>,
}

/// What the stack serves, fixed at the first `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Target {
    /// A local control plane, or the kubeconfig context named by `--context`.
    local_control_plane: bool,
    /// The kubeconfig and context the node uses (when not local).
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
    /// The cluster policy's self-service role, and the role `up` logs in with.
    #[serde(default = "admin_role")]
    self_service: String,
}

fn admin_role() -> String {
    "admin".into()
}

fn data_dir(paths: &Paths, args: &UpArgs) -> PathBuf {
    args.data_dir.clone().unwrap_or_else(|| paths.data_dir.join("up"))
}

fn pid_file(dir: &Path) -> PathBuf {
    dir.join("stack.pid")
}

/// `kubectl sui up`.
pub fn up(args: UpArgs) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let dir = data_dir(&paths, &args);
    create_private_dir(&dir)?;
    if args.serve {
        return serve(&paths, &dir);
    }
    let target = target(&dir, args.context.as_deref(), args.self_service.as_deref())?;
    let ready_file = dir.join("ready.json");
    if supervise::live_pid(&pid_file(&dir)).is_none() {
        // Built (or found) here, in the foreground, where its progress can be seen.
        let k8s_bin = if target.local_control_plane { Some(super::chain_ops::control_plane_binaries()?) } else { None };
        let _ = std::fs::remove_file(&ready_file);
        let log = dir.join("stack.log");
        let exe = std::env::current_exe().map_err(|e| CliError::Io("locating this kubectl-sui binary", e))?;
        let mut command = Command::new(exe);
        command.args(["up", "--serve", "--data-dir"]).arg(&dir);
        if let Some(bin) = &k8s_bin {
            command.env("KUBECTL_SUI_K8S_BIN", bin);
        }
        let mut started = supervise::spawn_detached(&mut command, &log)?;
        let bar = spinner(if target.local_control_plane {
            "starting the devnet, a local control plane and the node"
        } else {
            "starting the devnet and the node"
        });
        let waited = supervise::wait_until_ready(&mut started.child, READY_TIMEOUT, Duration::from_millis(200), || {
            ready_file.exists()
        });
        if let Err(why) = waited {
            bar.finish_and_clear();
            return Err(CliError::Message(format!(
                "the stack did not start: {why}; see {}:\n{}",
                log.display(),
                started.log_tail(8)
            )));
        }
        bar.finish_and_clear();
    }
    let ready: Ready = serde_json::from_slice(
        &std::fs::read(&ready_file).map_err(|e| CliError::Io("reading the stack's ready file", e))?,
    )
    .map_err(|e| CliError::Message(format!("{}: {e}", ready_file.display())))?;
    session::login(LoginArgs {
        cluster: ready.cluster.to_string(),
        role: Some(target.self_service.clone()),
        allow: vec![],
        stake: None,
        network: "devnet".into(),
        faucet: None,
        package: None,
        import_keystore: None,
        address: None,
        key_file: None,
        new_key: false,
        context: None,
        no_switch: false,
        yes: true,
    })?;
    println!("\n{}", table(&stack_rows(&paths, &dir, &ready)));
    println!(
        "`kubectl sui status` shows this again; `kubectl sui down` stops the stack, `kubectl sui up` resumes it with its data, `kubectl sui down --purge` removes it."
    );
    Ok(())
}

/// What the stack serves: fixed by the first `up` (a local control plane, or the context
/// named then), so later runs never point the node elsewhere; a different `--context` needs
/// another `--data-dir`.
fn target(dir: &Path, context: Option<&str>, self_service: Option<&str>) -> Result<Target, CliError> {
    let file = dir.join("target.json");
    if let Ok(bytes) = std::fs::read(&file)
        && let Ok(target) = serde_json::from_slice::<Target>(&bytes)
    {
        let serves = |t: &Target| match &t.context {
            Some(c) if !t.local_control_plane => format!("context {c}"),
            _ => "a local control plane".to_string(),
        };
        if context.is_some() && target.context.as_deref() != context {
            return Err(CliError::Message(format!(
                "{} already serves {}; give `up --context {}` another --data-dir, or `kubectl sui down --purge` first",
                dir.display(),
                serves(&target),
                context.unwrap_or_default()
            )));
        }
        if self_service.is_some_and(|r| r != target.self_service) {
            return Err(CliError::Message(format!(
                "the stack in {} was created with self-service {}; change it with `kubectl sui cluster policy --self-service-role ROLE`",
                dir.display(),
                target.self_service
            )));
        }
        return Ok(target);
    }
    let role = |default: &str| -> Result<String, CliError> {
        let role = self_service.unwrap_or(default);
        crate::contract::Role::parse(role)
            .map(|_| role.to_string())
            .ok_or_else(|| CliError::Message(format!("--self-service {role}: expected none, view, edit or admin")))
    };
    let target = match context {
        None => Target { local_control_plane: true, kubeconfig: None, context: None, self_service: role("admin")? },
        Some(context) => {
            let kubeconfig = crate::credential::default_kubeconfig_path()?;
            let config = crate::credential::read_kubeconfig(&kubeconfig)?;
            if !config.contexts.iter().any(|c| c.name == context) {
                return Err(CliError::Message(format!(
                    "{} has no context {context}; `kubectl config get-contexts` lists them",
                    kubeconfig.display()
                )));
            }
            Target {
                local_control_plane: false,
                kubeconfig: Some(kubeconfig),
                context: Some(context.to_string()),
                self_service: role("view")?,
            }
        }
    };
    write_atomic(&file, &serde_json::to_vec_pretty(&target).expect("target serializes"), 0o600)?;
    Ok(target)
}

/// The stack in the foreground: devnet, control plane, cluster object, node.
fn serve(paths: &Paths, dir: &Path) -> Result<(), CliError> {
    let target: Target = serde_json::from_slice(
        &std::fs::read(dir.join("target.json")).map_err(|e| CliError::Io("reading up/target.json", e))?,
    )
    .map_err(|e| CliError::Message(e.to_string()))?;
    write_atomic(&pid_file(dir), std::process::id().to_string().as_bytes(), 0o644)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let result = runtime.block_on(async {
        let devnet = Devnet::start(DevnetConfig {
            listen: devnet::DEFAULT_LISTEN.parse().expect("address"),
            faucet_listen: devnet::DEFAULT_FAUCET_LISTEN.parse().expect("address"),
            data_dir: dir.join("devnet"),
            checkpoint_interval: devnet::DEFAULT_CHECKPOINT_INTERVAL,
            finality: std::time::Duration::ZERO,
        })
        .await?;
        let mut server = None;
        let (plane, kubeconfig, described) = if target.local_control_plane {
            let work_dir = dir.join("k8s");
            create_private_dir(&work_dir)?;
            let bin_dir = crate::controlplane::build::ensure(&mut |p| eprintln!("{p:?}"))?;
            let spec = ControlPlaneSpec { bin_dir, work_dir, nodes: 2 };
            let plane = tokio::task::spawn_blocking(move || ControlPlane::start(&spec))
                .await
                .map_err(|e| CliError::Message(e.to_string()))?
                .map_err(|e| CliError::Message(format!("local control plane: {e}")))?;
            let kubeconfig = plane.kubeconfig().to_path_buf();
            let described = format!("local control plane {}", plane.server());
            server = Some(plane.server().to_string());
            (Some(plane), kubeconfig, described)
        } else {
            let kubeconfig = dir.join("node-kubeconfig");
            let mut config = crate::credential::read_kubeconfig(target.kubeconfig.as_deref().expect("a kubeconfig"))?;
            config.current_context = target.context.clone();
            write_atomic(&kubeconfig, serde_yaml::to_string(&config).expect("kubeconfig").as_bytes(), 0o600)?;
            (None, kubeconfig, format!("context {}", target.context.as_deref().unwrap_or("?")))
        };
        // The local control plane's own kubectl, else the user's (kubectl-sui is its plugin).
        let program = plane.as_ref().map_or(Path::new("kubectl"), |p| p.kubectl_path());
        crate::controlplane::kubectl(program, &kubeconfig, &["apply", "-f", "-"], node::kube::GROUP_BINDINGS)
            .map_err(|e| CliError::Message(format!("granting the node's groups their roles: {e}")))?;
        let cluster = ensure_cluster(paths, dir, &target.self_service).await?;
        let node_dir = dir.join("node");
        let keys = NodeKeys::load_or_create(&node_dir)?;
        let stop_rx = super::stop_on_signal()?;
        let config = NodeConfig {
            chain_url: devnet.grpc_url(),
            package: devnet::package_id(),
            cluster,
            data_dir: node_dir,
            kubeconfig: Some(kubeconfig),
            concurrency: node::DEFAULT_CONCURRENCY,
            metrics_listen: Some(NODE_METRICS.parse().expect("address")),
            max_body: node::DEFAULT_MAX_BODY,
            rotate_sealing_key: false,
            // The stack's own devnet: backfilling it from the start is cheap, and no request
            // made while the node starts is missed. A resumed stack has a cursor.
            from_checkpoint: Some(0),
            limits: node::NodeLimits::default(),
        };
        let node_task = tokio::spawn(node::run(config, stop_rx, None));
        let ready = Ready {
            cluster,
            node: keys.address(),
            target: described,
            devnet: devnet.grpc_url(),
            metrics: format!("http://{NODE_METRICS}"),
            server,
        };
        write_atomic(&dir.join("ready.json"), &serde_json::to_vec(&ready).expect("ready"), 0o644)?;
        eprintln!("stack ready: {ready:?}");
        // The node returns on SIGINT/SIGTERM, or on a failure the log must show.
        match node_task.await {
            Ok(Err(e)) => eprintln!("node stopped: {e}"),
            Err(e) => eprintln!("node task failed: {e}"),
            Ok(Ok(())) => {}
        }
        devnet.shutdown().await?;
        drop(plane);
        Ok(())
    });
    let _ = std::fs::remove_file(dir.join("ready.json"));
    let _ = std::fs::remove_file(pid_file(dir));
    result
}

/// The cluster object of this stack, created (and its node registered) the first time.
async fn ensure_cluster(paths: &Paths, dir: &Path, self_service: &str) -> Result<Address, CliError> {
    let settings = Settings::load(paths)?;
    let admin = match settings.clusters.get(CLUSTER_NAME) {
        Some(admin) => admin.clone(),
        None => {
            // On a local control plane the quick start's one user is the cluster's admin and may
            // stake for admin; serving an existing cluster, self-service is view by default.
            let policy = PolicyArgs { self_service_role: Some(self_service.into()), ..PolicyArgs::default() };
            let args = CreateArgs { name: CLUSTER_NAME.into(), network: "devnet".into(), faucet: None, policy };
            admin::create(paths, &settings, args).await?
        }
    };
    let keys = NodeKeys::load_or_create(&dir.join("node"))?;
    let mut client = connect(&admin.endpoints, admin.package).await?;
    let cluster: Cluster = client.move_object(admin.cluster).await?;
    if cluster.node(&keys.address()).is_none() {
        let settings = Settings::load(paths)?;
        let identity = settings.identity.as_ref().ok_or_else(|| CliError::Message("no identity".into()))?;
        let key = crate::credential::load_key(paths, identity.address, identity.store)?;
        admin::register_node(
            &admin,
            &key,
            keys.address(),
            *keys.signing.public_key().inner(),
            keys.sealing.public_key().to_bytes(),
        )
        .await?;
    }
    fund(&mut client, &admin.endpoints, keys.address(), 10 * crate::chain::MIST_PER_SUI).await?;
    Ok(admin.cluster)
}

/// One line of the stack's table: what, where, how it is.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The component.
    pub component: String,
    /// Where it listens or what it is.
    pub location: String,
    /// Its health as last checked.
    pub health: String,
}

/// The rows of the stack `up` runs from `dir`, checked now.
fn stack_rows(paths: &Paths, dir: &Path, ready: &Ready) -> Vec<Row> {
    let listening = |url: &str| {
        let addr = url.trim_start_matches("http://").trim_start_matches("https://");
        let addr = addr.split('/').next().unwrap_or(addr);
        match addr.parse::<std::net::SocketAddr>() {
            Ok(a) if std::net::TcpStream::connect_timeout(&a, Duration::from_millis(500)).is_ok() => "listening",
            _ => "down",
        }
    };
    let node_health = node_readiness(&ready.metrics);
    let mut rows = vec![
        Row { component: "devnet".into(), location: ready.devnet.clone(), health: listening(&ready.devnet).into() },
        Row {
            component: "node".into(),
            location: format!("{} (health and metrics {})", ready.node, ready.metrics),
            health: node_health,
        },
    ];
    match &ready.server {
        Some(server) => rows.push(Row {
            component: "control plane".into(),
            location: format!("{server} (admin kubeconfig {})", dir.join("k8s/admin.kubeconfig").display()),
            health: listening(server).into(),
        }),
        None => rows.push(Row {
            component: "control plane".into(),
            location: ready.target.clone(),
            health: "not run by up".into(),
        }),
    }
    let settings = Settings::load(paths).unwrap_or_default();
    for login in settings.logins.values().filter(|l| l.cluster == ready.cluster) {
        let health = match daemon::running_pid(paths, &login.context) {
            Some(pid) => format!("running (pid {pid})"),
            None => "stopped (starts with the next kubectl call)".into(),
        };
        rows.push(Row {
            component: "proxy".into(),
            location: format!("{} for context {}", login.server(), login.context),
            health,
        });
    }
    rows
}

/// What the node's `/readyz` says, in a few words.
fn node_readiness(metrics: &str) -> String {
    let Some(addr) = metrics.strip_prefix("http://").and_then(|a| a.parse::<std::net::SocketAddr>().ok()) else {
        return "unknown".into();
    };
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return "down".into();
    };
    use std::io::{Read, Write};
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /readyz HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut response = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut response).is_err() {
        return "not answering".into();
    }
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").trim().to_string();
    if response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200") {
        "ready".into()
    } else {
        format!("not ready: {body}")
    }
}

/// The rows as an aligned table.
fn table(rows: &[Row]) -> String {
    let width = |f: fn(&Row) -> &str, title: &str| rows.iter().map(|r| f(r).len()).max().unwrap_or(0).max(title.len());
    let (w1, w2) = (width(|r| &r.component, "COMPONENT"), width(|r| &r.location, "WHERE"));
    let mut out = format!("{:<w1$}  {:<w2$}  HEALTH\n", "COMPONENT", "WHERE");
    for r in rows {
        out += &format!("{:<w1$}  {:<w2$}  {}\n", r.component, r.location, r.health);
    }
    out
}

/// The stack `up` runs under the default data directory: a table when it runs, a line saying
/// how to resume it when it is stopped (after `down`, or a reboot), nothing when there is none.
pub fn status_table(paths: &Paths) -> Option<String> {
    let dir = paths.data_dir.join("up");
    if !dir.join("target.json").exists() {
        return None;
    }
    let running = supervise::live_pid(&pid_file(&dir)).is_some();
    match std::fs::read(dir.join("ready.json")).ok().and_then(|b| serde_json::from_slice::<Ready>(&b).ok()) {
        Some(ready) if running => Some(table(&stack_rows(paths, &dir, &ready))),
        _ if running => Some(format!("stack     starting (data in {}); see its log, stack.log\n", dir.display())),
        _ => Some(format!(
            "stack     stopped (data kept in {}): `kubectl sui up` resumes it, `kubectl sui down --purge` removes it\n",
            dir.display()
        )),
    }
}

/// `kubectl sui down`.
pub fn down(data_dir: Option<PathBuf>, purge: bool) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let dir = data_dir.unwrap_or_else(|| paths.data_dir.join("up"));
    let settings = Settings::load(&paths)?;
    let mut stopped = Vec::new();
    for login in settings.logins.values().filter(|l| l.network == "devnet") {
        if daemon::stop(&paths, &login.context) {
            stopped.push(format!("proxy of {}", login.context));
        }
    }
    // The stack stops its components itself on SIGTERM; it is never killed outright.
    if supervise::terminate(&pid_file(&dir), Duration::from_secs(30), false) {
        stopped.push(format!("stack in {}", dir.display()));
    }
    let said =
        if stopped.is_empty() { "nothing was running".to_string() } else { format!("stopped {}", stopped.join(", ")) };
    if !purge {
        println!("{said}; data kept in {}", dir.display());
        return Ok(());
    }
    if supervise::live_pid(&pid_file(&dir)).is_some() {
        return Err(CliError::Message(format!("the stack in {} is still running; nothing removed", dir.display())));
    }
    // The stack's data, and what `up` wrote elsewhere for it: its logins and the admin
    // record of its cluster object (a purged devnet no longer has them).
    let existed = dir.exists();
    if existed {
        std::fs::remove_dir_all(&dir).map_err(|e| CliError::Io("removing the stack's data", e))?;
    }
    let settings = Settings::load(&paths)?;
    let logins: Vec<_> = settings.logins.values().filter(|l| l.network == "devnet").cloned().collect();
    for login in &logins {
        crate::credential::remove_entry(&login.kubeconfig, &login.context)?;
        crate::credential::CredentialCache::new(paths.credential_cache_dir())
            .forget(&login.address.to_string(), &login.context);
    }
    Settings::update(&paths, |s| {
        s.logins.retain(|_, l| l.network != "devnet");
        s.clusters.retain(|_, c| c.network != "devnet");
    })?;
    let contexts: Vec<String> = logins.iter().map(|l| l.context.clone()).collect();
    println!(
        "{said}; removed {}{}",
        if existed { dir.display().to_string() } else { "no data (there was none)".into() },
        if contexts.is_empty() { String::new() } else { format!(" and the contexts {}", contexts.join(", ")) }
    );
    Ok(())
}
