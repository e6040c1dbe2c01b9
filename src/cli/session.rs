//! The user's commands: `login`, `credential`, `logout`, `status` and `token`. `login`,
//! `credential` and `logout` map flags to the inputs of [`crate::session`]'s use cases and
//! their outcomes to text (and prompt between a login's plan and its completion); `status`
//! and `token` compose [`crate::config`], [`crate::credential`], the chain and the proxy
//! daemon.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use clap::Args;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::chain_ops::{GAS_RESERVE, connect, execute, fund, spinner};
use super::{CliError, OutputFormat, write_out};
use crate::chain::{ChainClient, format_sui, parse_sui};
use crate::config::{Login, Paths, Settings};
use crate::contract::access::parse_rules;
use crate::contract::objects::{Cluster, SealToken};
use crate::contract::{Contract, Role};
use crate::credential::{self, ExecInfo, StorePreference};
use crate::proxy::daemon;
use crate::session::login::{self, Completion, KeyChoice, LoginOutcome, LoginRequest, Requested};
use crate::session::logout::LogoutOutcome;

/// `kubectl sui login`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Login")]
pub struct LoginArgs {
    /// Cluster object id (0x…) or the name of a cluster known here.
    #[arg(long)]
    pub cluster: String,
    /// A predefined role: view, edit or admin [default: the cluster's self-service role].
    #[arg(long, conflicts_with = "allow")]
    pub role: Option<String>,
    /// An explicit permission, VERBS:RESOURCE[:NAMESPACE] (e.g. get,list:pods:default,
    /// get:pods/log, get:/metrics for a non-resource path); repeatable.
    #[arg(long, value_name = "RULE")]
    pub allow: Vec<String>,
    /// Stake to lock, in SUI (e.g. 0.5) [default: the cluster's minimum for writes, 0 for view].
    #[arg(long)]
    pub stake: Option<String>,
    /// Network: devnet, localnet, testnet, mainnet, a configured name, or a gRPC URL.
    #[arg(long, default_value = "devnet")]
    pub network: String,
    /// Faucet URL, for a network given by URL.
    #[arg(long)]
    pub faucet: Option<String>,
    /// The kubectl-sui package id on that network.
    #[arg(long)]
    pub package: Option<Address>,
    /// Import the key from the Sui CLI keystore (this directory, else $SUI_CONFIG_DIR or
    /// ~/.sui/sui_config).
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "", conflicts_with_all = ["key_file", "new_key"])]
    pub import_keystore: Option<PathBuf>,
    /// With --import-keystore: the address to import [default: the keystore's active address].
    #[arg(long, requires = "import_keystore")]
    pub address: Option<Address>,
    /// Import a `suiprivkey1…` key from this file (`-` reads standard input).
    #[arg(long, value_name = "FILE", conflicts_with = "new_key")]
    pub key_file: Option<PathBuf>,
    /// Generate a new key even if one is configured.
    #[arg(long)]
    pub new_key: bool,
    /// Name of the kubeconfig context [default: sui-<cluster name>].
    #[arg(long)]
    pub context: Option<String>,
    /// Do not make the new context current.
    #[arg(long)]
    pub no_switch: bool,
    /// Never prompt; stake without asking.
    #[arg(long, short)]
    pub yes: bool,
}

/// Which login a command applies to.
#[derive(Debug, Args)]
pub struct ClusterSelector {
    /// Context, cluster name or cluster id [default: the current kubeconfig context].
    #[arg(long)]
    pub cluster: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(CliError::Runtime)
}

fn current_context() -> Option<String> {
    let path = credential::default_kubeconfig_path().ok()?;
    credential::read_kubeconfig(&path).ok()?.current_context
}

/// The key the flags choose: imported (read here), new, or the configured identity's.
fn key_choice(args: &LoginArgs) -> Result<KeyChoice, CliError> {
    if let Some(dir) = &args.import_keystore {
        let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
        return Ok(KeyChoice::Imported(Box::new(credential::import_sui_keystore(dir, args.address)?)));
    }
    if let Some(file) = &args.key_file {
        let (text, what) = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| CliError::Io("reading the key from standard input", e))?;
            (text, "standard input".to_string())
        } else {
            let text = std::fs::read_to_string(file).map_err(crate::fs::failed("reading", file))?;
            (text, file.display().to_string())
        };
        return Ok(KeyChoice::Imported(Box::new(credential::parse_suiprivkey(&text, &what)?)));
    }
    Ok(if args.new_key { KeyChoice::New } else { KeyChoice::Configured })
}

/// What the flags ask the contract for.
fn requested(args: &LoginArgs) -> Result<Requested, CliError> {
    Ok(match (&args.role, args.allow.is_empty()) {
        (Some(role), _) => Requested::Role(
            Role::parse(role)
                .ok_or_else(|| CliError::Message(format!("--role {role:?} is not view, edit or admin")))?,
        ),
        (None, false) => Requested::Rules(parse_rules(&args.allow).map_err(CliError::Message)?),
        (None, true) => Requested::SelfService,
    })
}

/// `kubectl sui login`.
pub fn login(args: LoginArgs) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let (endpoints, package) = settings.resolve(&args.network, args.faucet.clone(), args.package)?;
    let (key, new_key) = login::key(&paths, &settings, key_choice(&args)?)?;
    let address = key.public_key().derive_address();
    let request = LoginRequest {
        cluster: resolve_cluster(&settings, &args.cluster)?,
        requested: requested(&args)?,
        stake: args.stake.as_deref().map(parse_sui).transpose().map_err(CliError::Message)?,
        context: args.context.clone(),
    };
    runtime()?.block_on(async {
        let mut client = connect(&endpoints, package).await?;
        let plan = login::plan(&mut client, &settings, address, request).await?;
        let (cluster, name) = (plan.cluster.id, plan.cluster.name.clone());
        if plan.cluster.policy.allow_debug_nodes {
            eprintln!(
                "warning: cluster {name} allows debug (unattested) nodes: whoever runs such a node can read what you send and answer for it; see `kubectl sui status` for which nodes are attested"
            );
        }
        fund(&mut client, &endpoints, address, plan.stake + GAS_RESERVE).await?;
        if plan.stake > 0 && !args.yes {
            confirm(&format!("Stake {} on cluster {name} ({cluster})?", format_sui(plan.stake)))?;
        }
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| CliError::Io("locating this kubectl-sui binary for the kubeconfig", e))?;
        let env = [crate::config::HOME_ENV, credential::KEY_STORE_ENV]
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok().filter(|v| !v.is_empty())?)))
            .collect();
        let completion = Completion {
            network: args.network.clone(),
            endpoints: endpoints.clone(),
            package,
            key: &key,
            new_key,
            store: StorePreference::from_env()?,
            kubeconfig: credential::default_kubeconfig_path()?,
            switch: !args.no_switch,
            exe,
            env,
            port: match &plan.previous {
                Some(previous) => previous.proxy_port,
                None => free_port()?,
            },
        };
        let bar = spinner(&format!("obtaining a seal token on cluster {name}"));
        let done = login::complete(&mut client, &paths, &settings, plan, completion).await;
        bar.finish_and_clear();
        let LoginOutcome { login, token, stored_key, backup } = done?;
        if let Some((store, fallback)) = stored_key {
            eprintln!("Key for {address} stored in {store}.");
            if let Some(why) = fallback {
                eprintln!("  (the OS keyring was not usable: {why})");
            }
        }
        if let Some(backup) = backup {
            eprintln!("Backed up {} to {}.", login.kubeconfig.display(), backup.display());
        }
        let role = Role::from_code(token.role).map(Role::as_str).unwrap_or("?");
        let expires = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(token.expires_at_ms));
        let context = &login.context;
        println!(
            "Logged in to cluster {name} ({cluster}) as {address}\n  seal token {}: role {role}, stake {}, expires {expires}\n  kubeconfig context {context} in {}{}",
            login.token,
            format_sui(token.stake.value),
            login.kubeconfig.display(),
            if args.no_switch { String::new() } else { " (current)".to_string() }
        );
        println!("Next: kubectl get pods -A{}", if args.no_switch { format!(" --context {context}") } else { String::new() });
        Ok(())
    })
}

fn confirm(question: &str) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Message(format!("{question} Pass --yes to confirm without a terminal")));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| CliError::Io("reading the answer", e))?;
    match answer.trim() {
        "y" | "Y" | "yes" => Ok(()),
        _ => Err(CliError::Message("cancelled; nothing was staked".to_string())),
    }
}

fn free_port() -> Result<u16, CliError> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| CliError::Io("choosing a port for the proxy", e))?;
    Ok(listener.local_addr().map_err(|e| CliError::Io("choosing a port for the proxy", e))?.port())
}

/// The cluster id of `selector`: an id, or the name of a cluster known from a login or
/// administered here.
fn resolve_cluster(settings: &Settings, selector: &str) -> Result<Address, CliError> {
    if let Ok(id) = selector.parse::<Address>() {
        return Ok(id);
    }
    settings
        .logins
        .values()
        .find(|l| l.cluster_name == selector)
        .map(|l| l.cluster)
        .or_else(|| settings.clusters.values().find(|c| c.name == selector).map(|c| c.cluster))
        .ok_or_else(|| {
            CliError::Message(format!(
                "unknown cluster {selector:?}; pass its object id (0x…), which its admin can give you"
            ))
        })
}

/// `kubectl sui credential`.
pub fn credential(selector: ClusterSelector) -> Result<(), CliError> {
    let info = ExecInfo::parse(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref()).map_err(CliError::Message)?;
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let exe = std::env::current_exe().map_err(|e| CliError::Io("locating this kubectl-sui binary", e))?;
    let outcome = crate::session::credential::credential(&paths, &settings, selector.cluster.as_deref(), &info, &exe)?;
    if outcome.started_proxy && info.interactive {
        eprintln!("started the kubectl-sui proxy for {} on {}", outcome.login.context, outcome.login.server());
    }
    write_out(format!("{}\n", outcome.exec_credential).as_bytes())
}

/// `kubectl sui logout`.
pub fn logout(selector: ClusterSelector) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let LogoutOutcome { login, removed_entry, .. } =
        crate::session::logout::logout(&paths, &settings, selector.cluster.as_deref(), current_context().as_deref())?;
    println!(
        "Logged out of {}: {}proxy stopped, cached credential removed. The seal token {} keeps its stake; `kubectl sui token unstake {}` returns it.",
        login.cluster_name,
        if removed_entry {
            format!("context {} removed from {}, ", login.context, login.kubeconfig.display())
        } else {
            String::new()
        },
        login.token,
        login.token
    );
    Ok(())
}

/// What `kubectl sui status` reports.
#[derive(Debug, serde::Serialize)]
struct Status {
    identity: Option<Address>,
    key_store: Option<String>,
    logins: Vec<LoginStatus>,
}

#[derive(Debug, serde::Serialize)]
struct LoginStatus {
    context: String,
    network: String,
    rpc: String,
    cluster: Address,
    cluster_name: String,
    balance_mist: Option<u64>,
    token: Address,
    role: Option<String>,
    stake_mist: Option<u64>,
    expires: String,
    revoked: Option<bool>,
    nodes: Vec<NodeStatus>,
    proxy: String,
    chain: String,
}

/// One node of a cluster, as `status` shows it.
#[derive(Debug, serde::Serialize)]
struct NodeStatus {
    address: Address,
    /// Registered by attestation (else a debug node).
    attested: bool,
    /// Allowed to answer now (`cluster::is_active_node`).
    active: bool,
    /// The measurement its attestation matched, `index=hex`.
    pcrs: Vec<String>,
    /// When its last attestation document was made (RFC 3339), if attested.
    attested_at: Option<String>,
}

impl NodeStatus {
    fn of(
        cluster: &Cluster,
        entry: &crate::contract::objects::Entry<Address, crate::contract::objects::NodeInfo>,
    ) -> NodeStatus {
        let info = &entry.value;
        NodeStatus {
            address: entry.key,
            attested: info.attested,
            active: cluster.is_active_node(&entry.key),
            pcrs: info.enclave.iter().map(|p| format!("{}={}", p.index, hex_of(&p.value))).collect(),
            attested_at: info.attested.then(|| {
                humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(info.attested_at_ms)).to_string()
            }),
        }
    }

    fn line(&self) -> String {
        let state = if self.active { "active" } else { "inactive" };
        match self.attested {
            true => format!(
                "{} attested {} ({state}; PCR{})",
                self.address,
                self.attested_at.as_deref().unwrap_or("?"),
                self.pcrs.iter().map(|p| p.chars().take(16).collect::<String>() + "…").collect::<Vec<_>>().join(" PCR")
            ),
            false => format!("{} debug, not attested ({state})", self.address),
        }
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `kubectl sui status`.
pub fn status(output: OutputFormat) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let logins = logins_status(&paths, &settings)?;
    let status = Status {
        identity: settings.identity.as_ref().map(|i| i.address),
        key_store: settings.identity.as_ref().map(|i| i.store.to_string()),
        logins,
    };
    match output {
        OutputFormat::Json => write_out(&serde_json::to_vec_pretty(&status).map_err(CliError::Json)?),
        OutputFormat::Yaml => write_out(serde_yaml::to_string(&status).expect("status serializes").as_bytes()),
        OutputFormat::Table => {
            let mut text = super::up::status_table(&paths).map(|t| format!("{t}\n")).unwrap_or_default();
            text += &match (&status.identity, &status.key_store) {
                (Some(a), Some(s)) => format!("identity  {a} (key in {s})\n"),
                _ => "identity  none: run `kubectl sui login --cluster <id>`\n".to_string(),
            };
            for l in &status.logins {
                let mist = |m: Option<u64>| m.map(format_sui).unwrap_or_else(|| "?".into());
                text += &format!(
                    "\ncontext   {}\nnetwork   {} ({}, {})\ncluster   {} ({})\nbalance   {}\ntoken     {} role {} stake {} expires {}{}\nnodes     {}\nproxy     {}\n",
                    l.context,
                    l.network,
                    l.rpc,
                    l.chain,
                    l.cluster_name,
                    l.cluster,
                    mist(l.balance_mist),
                    l.token,
                    l.role.as_deref().unwrap_or("?"),
                    mist(l.stake_mist),
                    l.expires,
                    if l.revoked == Some(true) { " REVOKED" } else { "" },
                    if l.nodes.is_empty() {
                        "none".to_string()
                    } else {
                        l.nodes.iter().map(NodeStatus::line).collect::<Vec<_>>().join("\n          ")
                    },
                    l.proxy
                );
            }
            write_out(text.as_bytes())
        }
    }
}

/// Every login as the chain and the proxies have it now.
fn logins_status(paths: &Paths, settings: &Settings) -> Result<Vec<LoginStatus>, CliError> {
    Ok(runtime()?.block_on(async {
        let mut out = Vec::new();
        for login in settings.logins.values() {
            out.push(login_status(paths, login).await);
        }
        out
    }))
}

async fn login_status(paths: &Paths, login: &Login) -> LoginStatus {
    let proxy = match daemon::running_pid(paths, &login.context) {
        Some(pid) => match std::fs::read_to_string(daemon::metrics_file(paths, &login.context)) {
            Ok(metrics) => {
                format!("running (pid {pid}) at {}, metrics http://{}/metrics", login.server(), metrics.trim())
            }
            Err(_) => format!("running (pid {pid}) at {}", login.server()),
        },
        None => format!("stopped (starts with the next kubectl call) at {}", login.server()),
    };
    let expires =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(login.token_expires_ms)).to_string();
    let mut status = LoginStatus {
        context: login.context.clone(),
        network: login.network.clone(),
        rpc: login.endpoints.rpc.clone(),
        cluster: login.cluster,
        cluster_name: login.cluster_name.clone(),
        balance_mist: None,
        token: login.token,
        role: None,
        stake_mist: None,
        expires,
        revoked: None,
        nodes: vec![],
        proxy,
        chain: "unreachable".into(),
    };
    let Ok(mut client) = ChainClient::new(&login.endpoints.rpc, login.package) else { return status };
    if client.chain_id().await.is_err() {
        return status;
    }
    status.chain = "reachable".into();
    status.balance_mist = client.balance(login.address).await.ok();
    if let Ok(token) = client.move_object::<SealToken>(login.token).await {
        status.role = Role::from_code(token.role).map(|r| r.as_str().to_string());
        status.stake_mist = Some(token.stake.value);
        status.revoked = Some(token.revoked);
        status.expires =
            humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(token.expires_at_ms)).to_string();
    }
    if let Ok(cluster) = client.move_object::<Cluster>(login.cluster).await {
        status.nodes = cluster.nodes.contents.iter().map(|e| NodeStatus::of(&cluster, e)).collect();
    }
    status
}

/// `kubectl sui token list`: the tokens of this identity's logins, as the chain has them.
pub fn token_list(output: OutputFormat) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let rows = logins_status(&paths, &Settings::load(&paths)?)?;
    match output {
        OutputFormat::Json => write_out(&serde_json::to_vec_pretty(&rows).map_err(CliError::Json)?),
        OutputFormat::Yaml => write_out(serde_yaml::to_string(&rows).expect("rows serialize").as_bytes()),
        OutputFormat::Table => {
            let mut text = format!("{:<68} {:<16} {:<7} {:<12} {}\n", "TOKEN", "CLUSTER", "ROLE", "STAKE", "EXPIRES");
            for r in rows {
                text += &format!(
                    "{:<68} {:<16} {:<7} {:<12} {}{}\n",
                    r.token,
                    r.cluster_name,
                    r.role.unwrap_or_else(|| "?".into()),
                    r.stake_mist.map(format_sui).unwrap_or_else(|| "?".into()),
                    r.expires,
                    if r.revoked == Some(true) { " (revoked)" } else { "" }
                );
            }
            write_out(text.as_bytes())
        }
    }
}

/// `kubectl sui token unstake`: deletes a token of a login and returns its stake.
pub fn token_unstake(token: Address) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let login = settings.logins.values().find(|l| l.token == token).cloned().ok_or_else(|| {
        CliError::Message(format!("seal token {token} belongs to no login here; `kubectl sui token list` shows yours"))
    })?;
    let identity = settings.identity.clone().ok_or_else(|| CliError::Message("no identity configured".into()))?;
    let key = credential::load_key(&paths, identity.address, identity.store)?;
    runtime()?.block_on(async {
        let mut client = connect(&login.endpoints, login.package).await?;
        let mut tx = TransactionBuilder::new();
        let (token_arg, cluster_arg) = (client.object_arg(token).await?, client.object_arg(login.cluster).await?);
        Contract::new(login.package).unstake(&mut tx, token_arg, cluster_arg)?;
        execute(&mut client, &key, tx, "unstaking").await?;
        Ok::<_, CliError>(())
    })?;
    daemon::stop(&paths, &login.context);
    credential::remove_entry(&login.kubeconfig, &login.context)?;
    Settings::update(&paths, |s| s.logins.remove(&login.context))?;
    println!("Unstaked seal token {token}: its stake is back in {}; context {} removed.", login.address, login.context);
    Ok(())
}
