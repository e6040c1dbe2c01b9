//! `kubectl sui up` and `down`: the one-command quick start. `up` starts a background stack
//! (the devnet, a node, and with `--local-control-plane` a local Kubernetes control plane),
//! creates the cluster object and registers the node the first time, then logs in; `down`
//! stops the stack and the proxies. State stays under `--data-dir`, so `up` again resumes.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    /// Run a local control plane (built by tests/k8s/build.sh, or $KUBECTL_SUI_K8S_BIN)
    /// instead of using the current kubeconfig context's cluster.
    #[arg(long)]
    pub local_control_plane: bool,
    /// Run the stack in the foreground (what `up` starts in the background).
    #[arg(long, hide = true)]
    pub serve: bool,
}

/// What the stack reports once ready.
#[derive(Debug, Serialize, Deserialize)]
struct Ready {
    cluster: Address,
    node: Address,
    target: String,
}

/// What the stack serves, fixed at the first `up`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Target {
    /// A local control plane, or the kubeconfig context that was current.
    local_control_plane: bool,
    /// The kubeconfig and context the node uses (when not local).
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
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
    let target = target(&dir, args.local_control_plane)?;
    let ready_file = dir.join("ready.json");
    if daemon::live_pid(&pid_file(&dir)).is_none() {
        let _ = std::fs::remove_file(&ready_file);
        let log = dir.join("stack.log");
        let open = || std::fs::OpenOptions::new().create(true).append(true).open(&log);
        let (out, err) = (
            open().map_err(|e| CliError::Io("opening the stack log", e))?,
            open().map_err(|e| CliError::Io("opening the stack log", e))?,
        );
        let exe = std::env::current_exe().map_err(|e| CliError::Io("locating this kubectl-sui binary", e))?;
        let mut command = Command::new(exe);
        command.args(["up", "--serve", "--data-dir"]).arg(&dir).stdin(Stdio::null()).stdout(out).stderr(err);
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| CliError::Io("starting the stack", e))?;
        let bar = spinner(if target.local_control_plane {
            "starting the devnet, a local control plane and the node"
        } else {
            "starting the devnet and the node"
        });
        let deadline = Instant::now() + READY_TIMEOUT;
        while !ready_file.exists() {
            if let Ok(Some(status)) = child.try_wait() {
                bar.finish_and_clear();
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(8).collect();
                return Err(CliError::Message(format!(
                    "the stack stopped ({status}); see {}:\n{}",
                    log.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )));
            }
            if Instant::now() > deadline {
                return Err(CliError::Message(format!(
                    "the stack is not ready after {}s; see {}",
                    READY_TIMEOUT.as_secs(),
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bar.finish_and_clear();
    }
    let ready: Ready = serde_json::from_slice(
        &std::fs::read(&ready_file).map_err(|e| CliError::Io("reading the stack's ready file", e))?,
    )
    .map_err(|e| CliError::Message(format!("{}: {e}", ready_file.display())))?;
    eprintln!("Stack running: devnet {}, node {} serving {}.", devnet::DEFAULT_LISTEN, ready.node, ready.target);
    session::login(LoginArgs {
        cluster: ready.cluster.to_string(),
        role: Some("admin".into()),
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
    println!("`kubectl sui down` stops the stack; `kubectl sui up` resumes it with its data.");
    Ok(())
}

/// What the stack serves: fixed by the first `up` (a local control plane, or the context
/// current then), so later runs never point the node at a `sui-*` context.
fn target(dir: &Path, local: bool) -> Result<Target, CliError> {
    let file = dir.join("target.json");
    if let Ok(bytes) = std::fs::read(&file)
        && let Ok(target) = serde_json::from_slice::<Target>(&bytes)
    {
        if local && !target.local_control_plane {
            return Err(CliError::Message(format!(
                "{} serves context {}; use another --data-dir for a local control plane",
                dir.display(),
                target.context.as_deref().unwrap_or("?")
            )));
        }
        return Ok(target);
    }
    let target = if local {
        Target { local_control_plane: true, kubeconfig: None, context: None }
    } else {
        let kubeconfig = crate::credential::default_kubeconfig_path()?;
        let context = crate::credential::read_kubeconfig(&kubeconfig)?.current_context.ok_or_else(|| {
            CliError::Message(format!(
                "{} has no current context: point kubectl at a cluster first, or pass --local-control-plane",
                kubeconfig.display()
            ))
        })?;
        Target { local_control_plane: false, kubeconfig: Some(kubeconfig), context: Some(context) }
    };
    write_atomic(&file, &serde_json::to_vec_pretty(&target).expect("target serializes"), 0o600)?;
    Ok(target)
}

/// The binaries of the local control plane: `$KUBECTL_SUI_K8S_BIN`, else the newest build
/// cached by `tests/k8s/build.sh`.
fn k8s_bin_dir() -> Result<PathBuf, CliError> {
    if let Some(dir) = std::env::var_os("KUBECTL_SUI_K8S_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let cache = directories::BaseDirs::new().map(|b| b.cache_dir().join("kubectl-sui").join("k8s"));
    cache
        .and_then(|c| std::fs::read_dir(c).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| crate::controlplane::BINARIES.iter().all(|name| b.join(name).is_file()))
        .max_by_key(|b| std::fs::metadata(b).and_then(|m| m.modified()).ok())
        .ok_or_else(|| CliError::Message(
            "no local control plane binaries; build them once with tests/k8s/build.sh from the source checkout (needs Go), or set KUBECTL_SUI_K8S_BIN".into(),
        ))
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
            checkpoint_interval: Duration::from_millis(20),
        })
        .await?;
        let (plane, kubeconfig, described) = if target.local_control_plane {
            let work_dir = dir.join("k8s");
            create_private_dir(&work_dir)?;
            let spec = ControlPlaneSpec { bin_dir: k8s_bin_dir()?, work_dir, nodes: 2 };
            let plane = tokio::task::spawn_blocking(move || ControlPlane::start(&spec))
                .await
                .map_err(|e| CliError::Message(e.to_string()))?
                .map_err(|e| CliError::Message(format!("local control plane: {e}")))?;
            let kubeconfig = plane.kubeconfig().to_path_buf();
            let described = format!("local control plane {}", plane.server());
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
        let cluster = ensure_cluster(paths, dir).await?;
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
            metrics_listen: None,
            max_body: node::DEFAULT_MAX_BODY,
            rotate_sealing_key: false,
            // The stack's own devnet: backfilling it from the start is cheap, and no request
            // made while the node starts is missed. A resumed stack has a cursor.
            from_checkpoint: Some(0),
            limits: node::NodeLimits::default(),
        };
        let node_task = tokio::spawn(node::run(config, stop_rx, None));
        let ready = Ready { cluster, node: keys.address(), target: described };
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
async fn ensure_cluster(paths: &Paths, dir: &Path) -> Result<Address, CliError> {
    let settings = Settings::load(paths)?;
    let admin = match settings.clusters.get(CLUSTER_NAME) {
        Some(admin) => admin.clone(),
        None => {
            // The quick start's one user is the cluster's admin: they may stake for admin.
            let policy = PolicyArgs { self_service_role: Some("admin".into()), ..PolicyArgs::default() };
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

/// `kubectl sui down`.
pub fn down(data_dir: Option<PathBuf>) -> Result<(), CliError> {
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
    if daemon::terminate(&pid_file(&dir), Duration::from_secs(30), false) {
        stopped.push(format!("stack in {}", dir.display()));
    }
    if stopped.is_empty() {
        println!("nothing was running");
    } else {
        println!("stopped {}; data kept in {}", stopped.join(", "), dir.display());
    }
    Ok(())
}
