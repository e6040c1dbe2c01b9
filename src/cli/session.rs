//! The user's commands: `login`, `credential`, `logout`, `status` and `token`. Each composes
//! [`crate::config`], [`crate::credential`], the chain and the proxy daemon; none holds
//! logic of its own beyond choosing what to reuse.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::chain_ops::{GAS_RESERVE, connect, execute, fund};
use super::{CliError, OutputFormat, write_out};
use crate::chain::{ChainClient, format_sui, parse_sui};
use crate::config::{Identity, Login, Paths, Settings, file_safe};
use crate::contract::access::parse_rules;
use crate::contract::events::TokenIssued;
use crate::contract::objects::{Cluster, Rule, SealToken};
use crate::contract::{CallArg, Contract, Role};
use crate::credential::{
    self, BearerToken, CachedCredential, CredentialCache, ExecInfo, KubeconfigEntry, StorePreference,
};
use crate::proxy::daemon;

/// A fresh credential is valid this long (or until the seal token expires, if sooner).
const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(3600);

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

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Runtime::new().map_err(CliError::Runtime)
}

fn current_context() -> Option<String> {
    let path = credential::default_kubeconfig_path().ok()?;
    credential::read_kubeconfig(&path).ok()?.current_context
}

/// The key to use: imported, generated, or the configured identity's.
fn identity_key(paths: &Paths, settings: &Settings, args: &LoginArgs) -> Result<(Ed25519PrivateKey, bool), CliError> {
    if let Some(dir) = &args.import_keystore {
        let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
        return Ok((credential::import_sui_keystore(dir, args.address)?, true));
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
        return Ok((credential::parse_suiprivkey(&text, &what)?, true));
    }
    match (&settings.identity, args.new_key) {
        (Some(id), false) => Ok((credential::load_key(paths, id.address, id.store)?, false)),
        _ => Ok((Ed25519PrivateKey::generate(rand_core::OsRng), true)),
    }
}

/// What the login asks the contract for.
enum Ask {
    Role(Role),
    Rules(Vec<Rule>),
}

impl Ask {
    fn writes(&self) -> bool {
        match self {
            Ask::Role(role) => matches!(role, Role::Edit | Role::Admin),
            Ask::Rules(rules) => rules.iter().any(|r| r.verbs & !0x07 != 0),
        }
    }

    fn satisfied_by(&self, token: &SealToken) -> bool {
        match self {
            Ask::Role(role) => token.role == role.code(),
            Ask::Rules(rules) => token.role == Role::Custom.code() && &token.rules == rules,
        }
    }
}

/// `kubectl sui login`.
pub fn login(args: LoginArgs) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let (endpoints, package) = settings.resolve(&args.network, args.faucet.clone(), args.package)?;
    let (key, new_key) = identity_key(&paths, &settings, &args)?;
    let address = key.public_key().derive_address();
    let cluster = resolve_cluster(&settings, &args.cluster)?;
    runtime()?.block_on(async {
        let mut client = connect(&endpoints, package).await?;
        let object: Cluster = client.move_object(cluster).await.map_err(|e| {
            CliError::Message(format!(
                "cluster {cluster} is not on {} ({e}); check the id with its admin, or --network",
                endpoints.rpc
            ))
        })?;
        if object.policy.allow_debug_nodes {
            eprintln!(
                "warning: cluster {} allows debug (unattested) nodes: whoever runs such a node can read what you send and answer for it; see `kubectl sui status` for which nodes are attested",
                object.name
            );
        }
        let ask = match (&args.role, args.allow.is_empty()) {
            (Some(role), _) => Ask::Role(Role::parse(role).ok_or_else(|| {
                CliError::Message(format!("--role {role:?} is not view, edit or admin"))
            })?),
            (None, false) => {
                Ask::Rules(parse_rules(&args.allow).map_err(CliError::Message)?)
            }
            (None, true) => match Role::from_code(object.policy.self_service_role) {
                Some(Role::None) | None => {
                    return Err(CliError::Message(format!(
                        "cluster {} grants no role without its admin; log in with --role view and ask the admin for more: kubectl sui cluster grant",
                        object.name
                    )));
                }
                Some(role) => Ask::Role(role),
            },
        };
        let stake = match &args.stake {
            Some(s) => parse_sui(s).map_err(CliError::Message)?,
            None if ask.writes() => object.policy.min_write_stake,
            None => 0,
        };
        let context = args.context.clone().unwrap_or_else(|| format!("sui-{}", file_safe(&object.name)));
        let previous = settings.logins.get(&context).filter(|l| l.cluster == cluster && l.address == address).cloned();
        fund(&mut client, &endpoints, address, stake + GAS_RESERVE).await?;
        if stake > 0 && !args.yes {
            confirm(&format!("Stake {} on cluster {} ({cluster})?", format_sui(stake), object.name))?;
        }
        let (token, token_object) = obtain_token(&mut client, &key, cluster, &ask, stake, previous.as_ref()).await?;
        let kubeconfig = credential::default_kubeconfig_path()?;
        let proxy_port = match &previous {
            Some(p) => p.proxy_port,
            None => free_port()?,
        };
        let (store, fallback) = if new_key {
            credential::store_key(&paths, &key, StorePreference::from_env()?)?
        } else {
            (settings.identity.as_ref().expect("a configured identity").store, None)
        };
        let login = Login {
            context: context.clone(),
            network: args.network.clone(),
            endpoints: endpoints.clone(),
            package,
            cluster,
            cluster_name: object.name.clone(),
            address,
            token,
            token_expires_ms: token_object.expires_at_ms,
            proxy_port,
            kubeconfig: kubeconfig.clone(),
        };
        let tls = crate::proxy::tls::ProxyTls::load_or_create(&paths.proxy_dir(&context))?;
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|e| CliError::Io("locating this kubectl-sui binary for the kubeconfig", e))?;
        let env = [crate::config::HOME_ENV, credential::KEY_STORE_ENV]
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok().filter(|v| !v.is_empty())?)))
            .collect();
        let entry = KubeconfigEntry {
            name: context.clone(),
            server: login.server(),
            ca_pem: tls.ca_pem.clone(),
            command: exe,
            args: vec!["credential".into(), "--cluster".into(), context.clone()],
            env,
        };
        let backup = credential::upsert_entry(&kubeconfig, &entry, !args.no_switch)?;
        Settings::update(&paths, |s| {
            s.identity = Some(Identity { address, store });
            s.logins.insert(context.clone(), login.clone());
        })?;
        CredentialCache::new(paths.credential_cache_dir()).forget(&address.to_string(), &context);
        // A running proxy holds the previous token; the next kubectl call starts a fresh one.
        daemon::stop(&paths, &context);
        if new_key {
            eprintln!("Key for {address} stored in {store}.");
            if let Some(why) = fallback {
                eprintln!("  (the OS keyring was not usable: {why})");
            }
        }
        if let Some(backup) = backup {
            eprintln!("Backed up {} to {}.", kubeconfig.display(), backup.display());
        }
        let role = Role::from_code(token_object.role).map(Role::as_str).unwrap_or("?");
        let expires = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(token_object.expires_at_ms));
        println!(
            "Logged in to cluster {} ({cluster}) as {address}\n  seal token {token}: role {role}, stake {}, expires {expires}\n  kubeconfig context {context} in {}{}",
            object.name,
            format_sui(token_object.stake.value),
            kubeconfig.display(),
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

/// Reuses the previous login's token when it still serves `ask` (renewing it if expired),
/// else stakes for a new one.
async fn obtain_token(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    cluster: Address,
    ask: &Ask,
    stake: u64,
    previous: Option<&Login>,
) -> Result<(Address, SealToken), CliError> {
    let contract = Contract::new(client.package());
    if let Some(previous) = previous
        && let Ok(token) = client.move_object::<SealToken>(previous.token).await
        && !token.revoked
        && ask.satisfied_by(&token)
        && token.stake.value >= stake
    {
        if token.expires_at_ms > now_ms() + 60_000 {
            return Ok((previous.token, token));
        }
        let mut tx = TransactionBuilder::new();
        let (token_arg, cluster_arg) = (client.object_arg(previous.token).await?, client.object_arg(cluster).await?);
        contract.renew(&mut tx, token_arg, cluster_arg)?;
        execute(client, key, tx, "renewing the seal token").await?;
        return Ok((previous.token, client.move_object(previous.token).await?));
    }
    let mut tx = TransactionBuilder::new();
    let amount = tx.pure(&stake);
    let gas = tx.gas();
    let coin = tx.split_coins(gas, vec![amount]).remove(0);
    let cluster_arg = client.object_arg(cluster).await?;
    match ask {
        Ask::Role(role) => contract.stake(&mut tx, cluster_arg, CallArg::Result(coin), *role)?,
        Ask::Rules(rules) => contract.stake_with_rules(&mut tx, cluster_arg, CallArg::Result(coin), rules)?,
    };
    let staked = execute(client, key, tx, &format!("staking {} for a seal token", format_sui(stake))).await?;
    let token = staked
        .events_of::<TokenIssued>()
        .first()
        .map(|e| e.token_id)
        .ok_or(crate::chain::ChainError::Missing { what: "TokenIssued event" })?;
    Ok((token, client.move_object(token).await?))
}

/// `kubectl sui credential`.
pub fn credential(selector: ClusterSelector) -> Result<(), CliError> {
    let info = ExecInfo::parse(std::env::var("KUBERNETES_EXEC_INFO").ok().as_deref()).map_err(CliError::Message)?;
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let login = settings.login(selector.cluster.as_deref(), None)?.clone();
    let now = SystemTime::now();
    if login.token_expires_ms <= now_ms() {
        let when = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(login.token_expires_ms));
        return Err(CliError::Message(format!(
            "seal token {} for cluster {} expired at {when}; run `kubectl sui login --cluster {}`",
            login.token, login.cluster_name, login.cluster_name
        )));
    }
    let identity = settings
        .identity
        .as_ref()
        .filter(|i| i.address == login.address)
        .ok_or_else(|| {
            CliError::Message(format!(
                "context {} was logged in as {}, which is no longer the configured identity; run `kubectl sui login --cluster {}`",
                login.context, login.address, login.cluster_name
            ))
        })?;
    let cache = CredentialCache::new(paths.credential_cache_dir());
    let (cached, _hit) = cache.get_or_make(&login.address.to_string(), &login.context, now, || {
        let key = credential::load_key(&paths, identity.address, identity.store)?;
        let expires_ms = login.token_expires_ms.min(now_ms() + CREDENTIAL_LIFETIME.as_millis() as u64);
        let bearer =
            BearerToken { address: login.address, cluster: login.cluster, seal_token: login.token, expires_ms };
        Ok::<_, CliError>(CachedCredential { token: bearer.sign(&key), expires_ms })
    })?;
    let exe = std::env::current_exe().map_err(|e| CliError::Io("locating this kubectl-sui binary", e))?;
    if daemon::ensure_running(&paths, &login, &exe)? && info.interactive {
        eprintln!("started the kubectl-sui proxy for {} on {}", login.context, login.server());
    }
    let json = credential::exec_credential(&info.api_version, &cached.token, cached.expires());
    write_out(format!("{json}\n").as_bytes())
}

/// `kubectl sui logout`.
pub fn logout(selector: ClusterSelector) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let login = settings.login(selector.cluster.as_deref(), current_context().as_deref())?.clone();
    daemon::stop(&paths, &login.context);
    let removed = credential::remove_entry(&login.kubeconfig, &login.context)?;
    CredentialCache::new(paths.credential_cache_dir()).forget(&login.address.to_string(), &login.context);
    Settings::update(&paths, |s| s.logins.remove(&login.context))?;
    println!(
        "Logged out of {}: {}proxy stopped, cached credential removed. The seal token {} keeps its stake; `kubectl sui token unstake {}` returns it.",
        login.cluster_name,
        if removed {
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
        Some(pid) => format!("running (pid {pid}) at {}", login.server()),
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
