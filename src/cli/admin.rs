//! The cluster admin's commands: create a cluster object, set its policy, register nodes,
//! grant and revoke tokens. Each signs with the identity holding the admin capability.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, Owner};
use sui_transaction_builder::{Argument, TransactionBuilder};

use super::CliError;
use super::chain_ops::{GAS_RESERVE, connect, execute, fund};
use crate::chain::{format_sui, parse_sui};
use crate::config::{AdminCluster, Identity, Paths, Settings};
use crate::contract::access::parse_rules;
use crate::contract::objects::{Cluster, Policy};
use crate::contract::{Contract, ContractError, ObjectArg, Role};
use crate::credential::{self, StorePreference};

/// `kubectl sui cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Create a cluster object; you receive its admin capability.
    Create(CreateArgs),
    /// Grant a role or explicit rules to a seal token.
    Grant {
        /// The seal token's object id.
        token: Address,
        /// A predefined role: none, view, edit or admin.
        #[arg(long, conflicts_with = "allow", required_unless_present = "allow")]
        role: Option<String>,
        /// An explicit permission, VERBS:RESOURCE[:NAMESPACE]; repeatable.
        #[arg(long, value_name = "RULE")]
        allow: Vec<String>,
        /// The cluster (name or id) [default: the only one you administer].
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Revoke a seal token.
    Revoke {
        /// The seal token's object id.
        token: Address,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Show the cluster policy, or change it with flags.
    Policy {
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Set the namespaces no preset role and no `*` rule reaches (default: nautilus, the
    /// node's own); only `--allow` rules naming one reach it.
    Protect {
        /// A protected namespace; repeat for several. None protects nothing.
        #[arg(long = "namespace", value_name = "NAMESPACE")]
        namespaces: Vec<String>,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Name the cluster's auditors: the X25519 public keys (from `kubectl sui audit keygen`)
    /// every session (exec, attach, port-forward) opened from now on is recorded for, so that
    /// `kubectl sui audit replay` with one of their secret keys replays it. Without keys, shows
    /// them.
    Auditors {
        /// An auditor's public key (64 hex digits); repeat for several (at most 8). Replaces
        /// the list.
        #[arg(value_name = "KEY", conflicts_with = "none")]
        keys: Vec<String>,
        /// Name no auditor: sessions opened from now on are not recorded for anyone.
        #[arg(long)]
        none: bool,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Manage the cluster's nodes.
    #[command(subcommand)]
    Node(NodeCommand),
    /// Manage the enclave images (PCR measurements) whose nodes may register by attestation.
    #[command(subcommand)]
    Enclave(EnclaveCommand),
}

/// `kubectl sui cluster enclave …`.
#[derive(Debug, Subcommand)]
pub enum EnclaveCommand {
    /// Accept an enclave image: its nodes may then register with `nautilus attest`. Several
    /// may be accepted at once, so an upgrade can roll.
    Add(MeasurementArgs),
    /// Withdraw an enclave image: its attested nodes stop answering at once.
    Remove(MeasurementArgs),
    /// Whether an attestation document must carry the challenge (a nonce naming this cluster,
    /// which `nautilus attest` puts there). Required on a new cluster; make it optional only
    /// for an image whose node cannot put one: the document's 10-minute age bound then stands
    /// alone.
    Challenge {
        /// `required` or `optional`.
        #[arg(value_enum)]
        mode: ChallengeMode,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
}

/// Whether a cluster requires the attestation challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChallengeMode {
    /// A document without a nonce naming the cluster is refused.
    Required,
    /// A document without a nonce is accepted (one naming another cluster still is not).
    Optional,
}

/// One enclave image's measurements.
#[derive(Debug, Args)]
pub struct MeasurementArgs {
    /// A PCR as INDEX=HEX (48 bytes, SHA-384); repeat for each: PCR0, PCR1 and PCR2 at least.
    #[arg(long = "pcr", value_name = "INDEX=HEX", required_unless_present = "measurements")]
    pub pcrs: Vec<String>,
    /// The JSON `nitro-cli build-enclave` or `describe-eif` prints; its `Measurements`
    /// (PCR0, PCR1, PCR2, and any other PCRn) are taken.
    #[arg(long, value_name = "FILE", conflicts_with = "pcrs")]
    pub measurements: Option<PathBuf>,
    /// The cluster (name or id).
    #[arg(long)]
    pub cluster: Option<String>,
}

impl MeasurementArgs {
    /// The PCRs given, by index, in the order given (or ascending from a nitro-cli file).
    pub fn pcrs(&self) -> Result<Vec<(u8, Vec<u8>)>, CliError> {
        let pairs: Vec<(String, String)> = match &self.measurements {
            Some(file) => {
                let text =
                    std::fs::read_to_string(file).map_err(|e| CliError::Message(format!("{}: {e}", file.display())))?;
                nitro_cli_measurements(&text).map_err(|e| CliError::Message(format!("{}: {e}", file.display())))?
            }
            None => self
                .pcrs
                .iter()
                .map(|p| {
                    p.split_once('=')
                        .map(|(i, v)| (i.trim_start_matches("PCR").to_string(), v.to_string()))
                        .ok_or_else(|| CliError::Message(format!("--pcr {p:?}: expected INDEX=HEX")))
                })
                .collect::<Result<_, _>>()?,
        };
        let mut pcrs = Vec::with_capacity(pairs.len());
        for (index, value) in pairs {
            let index: u8 = index
                .parse()
                .ok()
                .filter(|i| *i <= 31)
                .ok_or_else(|| CliError::Message(format!("PCR index {index:?} is not 0..31")))?;
            let value = hex_bytes(&value)
                .filter(|v| v.len() == 48)
                .ok_or_else(|| CliError::Message(format!("PCR{index} is not 48 bytes of hex (SHA-384)")))?;
            if pcrs.iter().any(|(i, _)| *i == index) {
                return Err(CliError::Message(format!("PCR{index} is given twice")));
            }
            pcrs.push((index, value));
        }
        if ![0, 1, 2].iter().all(|i| pcrs.iter().any(|(p, _)| p == i)) {
            return Err(CliError::Message("an enclave measurement needs PCR0, PCR1 and PCR2".into()));
        }
        Ok(pcrs)
    }
}

/// The `Measurements` of nitro-cli's JSON output, as (index, hex) pairs by ascending index.
fn nitro_cli_measurements(text: &str) -> Result<Vec<(String, String)>, String> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let measurements = json
        .get("Measurements")
        .and_then(|m| m.as_object())
        .ok_or("no \"Measurements\" object (the output of nitro-cli build-enclave or describe-eif)")?;
    let mut pairs: Vec<(u8, String)> = measurements
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("PCR")?.parse().ok()?, v.as_str()?.to_string())))
        .collect();
    pairs.sort();
    Ok(pairs.into_iter().map(|(i, v)| (i.to_string(), v)).collect())
}

fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    hex::decode(text.trim().trim_start_matches("0x")).ok()
}

/// `kubectl sui cluster create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The cluster's name.
    pub name: String,
    /// Network: devnet, localnet, testnet, mainnet, a configured name, or a gRPC URL.
    #[arg(long, default_value = "devnet")]
    pub network: String,
    /// Faucet URL, for a network given by URL.
    #[arg(long)]
    pub faucet: Option<String>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// Policy fields; unset ones keep their current (or default) value.
#[derive(Debug, Args, Default)]
pub struct PolicyArgs {
    /// Stake needed for writes, in SUI [default: 1].
    #[arg(long)]
    pub min_write_stake: Option<String>,
    /// Seal token lifetime (e.g. 24h) [default: 24h].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub token_lifetime: Option<Duration>,
    /// How long a stake stays locked after it last changed, so a write's stake is at risk
    /// while the admin can still slash it (e.g. 1h); tokens keep the lock they were given
    /// [default: 24h].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub unstake_lock: Option<Duration>,
    /// Whether unattested (debug) nodes may answer [default: true on the devnet, false
    /// elsewhere].
    #[arg(long)]
    pub allow_debug_nodes: Option<bool>,
    /// Highest role a staker gets without the admin: none, view, edit or admin [default: edit].
    #[arg(long)]
    pub self_service_role: Option<String>,
    /// Whether the admin may slash stakes [default: false].
    #[arg(long)]
    pub slashing: Option<bool>,
}

impl PolicyArgs {
    fn is_empty(&self) -> bool {
        self.min_write_stake.is_none()
            && self.token_lifetime.is_none()
            && self.unstake_lock.is_none()
            && self.allow_debug_nodes.is_none()
            && self.self_service_role.is_none()
            && self.slashing.is_none()
    }

    fn apply(&self, mut policy: Policy) -> Result<Policy, CliError> {
        if let Some(s) = &self.min_write_stake {
            policy.min_write_stake = parse_sui(s).map_err(CliError::Message)?;
        }
        if let Some(d) = self.token_lifetime {
            policy.token_lifetime_ms = d.as_millis() as u64;
        }
        if let Some(d) = self.unstake_lock {
            policy.unstake_lock_ms = d.as_millis() as u64;
        }
        if let Some(b) = self.allow_debug_nodes {
            policy.allow_debug_nodes = b;
        }
        if let Some(r) = &self.self_service_role {
            policy.self_service_role = parse_role(r)?.code();
        }
        if let Some(b) = self.slashing {
            policy.slashing_enabled = b;
        }
        Ok(policy)
    }
}

/// Default lock of a stake after it last changed: a day.
pub const DEFAULT_UNSTAKE_LOCK_MS: u64 = 24 * 3_600_000;

/// The policy of a new cluster before flags.
pub fn default_policy() -> Policy {
    Policy {
        min_write_stake: crate::chain::MIST_PER_SUI,
        token_lifetime_ms: 24 * 3_600_000,
        unstake_lock_ms: DEFAULT_UNSTAKE_LOCK_MS,
        allow_debug_nodes: true,
        self_service_role: Role::Edit.code(),
        slashing_enabled: false,
        protected_namespaces: crate::contract::access::default_protected_namespaces(),
        enclaves: vec![],
        require_attestation_nonce: true,
        auditors: vec![],
    }
}

/// `kubectl sui cluster node …`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Register a debug (unattested) node by its public keys.
    Add {
        /// The node's data directory (reads its public keys; on this machine).
        #[arg(long, conflicts_with_all = ["signing_key", "sealing_key"])]
        node_dir: Option<PathBuf>,
        /// The node's Ed25519 public key, hex.
        #[arg(long, requires = "sealing_key")]
        signing_key: Option<String>,
        /// The node's X25519 sealing key, hex.
        #[arg(long)]
        sealing_key: Option<String>,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
}

fn parse_role(name: &str) -> Result<Role, CliError> {
    Role::parse(name).ok_or_else(|| CliError::Message(format!("{name:?} is not a role: none, view, edit or admin")))
}

fn hex32(text: &str, what: &str) -> Result<[u8; 32], CliError> {
    hex_bytes(text)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CliError::Message(format!("{what} is not 32 bytes of hex")))
}

/// The identity's key, creating one (stored as `login` would) when there is none.
pub(super) fn admin_key(paths: &Paths, settings: &Settings) -> Result<Ed25519PrivateKey, CliError> {
    if let Some(id) = &settings.identity {
        return Ok(credential::load_key(paths, id.address, id.store)?);
    }
    let key = Ed25519PrivateKey::generate(rand_core::OsRng);
    let (store, _) = credential::store_key(paths, &key, StorePreference::from_env()?)?;
    let address = key.public_key().derive_address();
    Settings::update(paths, |s| s.identity = Some(Identity { address, store }))?;
    eprintln!("Created key {address}, stored in {store}.");
    Ok(key)
}

/// Runs a cluster command.
pub fn run(command: ClusterCommand) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    match command {
        ClusterCommand::Create(args) => runtime.block_on(create(&paths, &settings, args)).map(|_| ()),
        ClusterCommand::Grant { token, role, allow, cluster } => {
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            let key = admin_key(&paths, &settings)?;
            let role = role.as_deref().map(parse_role).transpose()?;
            let rules = if role.is_none() { parse_rules(&allow).map_err(CliError::Message)? } else { vec![] };
            runtime.block_on(admin_call(&admin, &key, Some(token), "granting", |contract, tx, args| {
                let token = args.token.expect("a token was asked for");
                match role {
                    Some(role) => contract.grant_role(tx, args.cap, args.cluster, token, role),
                    None => contract.grant_rules(tx, args.cap, args.cluster, token, &rules),
                }
            }))?;
            println!("Granted on seal token {token} (cluster {}).", admin.name);
            Ok(())
        }
        ClusterCommand::Revoke { token, cluster } => {
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            let key = admin_key(&paths, &settings)?;
            runtime.block_on(admin_call(&admin, &key, Some(token), "revoking", |contract, tx, args| {
                contract.revoke(tx, args.cap, args.cluster, args.token.expect("a token was asked for"))
            }))?;
            println!("Revoked seal token {token} on cluster {}.", admin.name);
            Ok(())
        }
        ClusterCommand::Policy { cluster, policy } => {
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            runtime.block_on(async {
                let current: Cluster =
                    connect(&admin.endpoints, admin.package).await?.move_object(admin.cluster).await?;
                let shown = if policy.is_empty() {
                    current.policy
                } else {
                    let key = admin_key(&paths, &settings)?;
                    let next = policy.apply(current.policy)?;
                    admin_call(&admin, &key, None, "setting the policy", |contract, tx, args| {
                        contract.set_policy(tx, args.cap, args.cluster, &next)
                    })
                    .await?;
                    next
                };
                print_policy(&admin.name, &shown);
                Ok(())
            })
        }
        ClusterCommand::Auditors { keys, none, cluster } => {
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            if keys.is_empty() && !none {
                let current: Cluster = runtime.block_on(async {
                    Ok::<_, CliError>(connect(&admin.endpoints, admin.package).await?.move_object(admin.cluster).await?)
                })?;
                print_auditors(&admin.name, &current.policy.auditors);
                return Ok(());
            }
            let auditors =
                keys.iter().map(|k| hex32(k, &format!("auditor key {k:?}"))).collect::<Result<Vec<_>, _>>()?;
            let key = admin_key(&paths, &settings)?;
            runtime.block_on(admin_call(&admin, &key, None, "naming the auditors", |contract, tx, args| {
                contract.set_auditors(tx, args.cap, args.cluster, &auditors)
            }))?;
            print_auditors(&admin.name, &auditors.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            Ok(())
        }
        ClusterCommand::Protect { namespaces, cluster } => {
            if let Some(bad) = namespaces.iter().find(|n| n.is_empty() || n.as_str() == "*") {
                return Err(CliError::Message(format!("{bad:?} is not a namespace name to protect")));
            }
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            let key = admin_key(&paths, &settings)?;
            runtime.block_on(admin_call(
                &admin,
                &key,
                None,
                "setting the protected namespaces",
                |contract, tx, args| contract.set_protected_namespaces(tx, args.cap, args.cluster, &namespaces),
            ))?;
            match namespaces.is_empty() {
                true => println!("Cluster {} protects no namespace.", admin.name),
                false => println!("Cluster {} protects {}.", admin.name, namespaces.join(", ")),
            }
            Ok(())
        }
        ClusterCommand::Enclave(command) => {
            let (args, adding) = match &command {
                EnclaveCommand::Add(a) => (a, true),
                EnclaveCommand::Remove(a) => (a, false),
                EnclaveCommand::Challenge { mode, cluster } => {
                    let admin = settings.admin_cluster(cluster.as_deref())?.clone();
                    let key = admin_key(&paths, &settings)?;
                    let required = *mode == ChallengeMode::Required;
                    runtime.block_on(admin_call(
                        &admin,
                        &key,
                        None,
                        "setting the attestation challenge",
                        |contract, tx, a| contract.set_attestation_nonce_required(tx, a.cap, a.cluster, required),
                    ))?;
                    match required {
                        true => {
                            println!("Cluster {} requires the attestation challenge (a nonce naming it).", admin.name)
                        }
                        false => println!(
                            "Cluster {} accepts attestation documents without a challenge (their age is still bounded to 10 minutes).",
                            admin.name
                        ),
                    }
                    return Ok(());
                }
            };
            let pcrs = args.pcrs()?;
            let admin = settings.admin_cluster(args.cluster.as_deref())?.clone();
            let key = admin_key(&paths, &settings)?;
            let what = if adding { "accepting the enclave image" } else { "withdrawing the enclave image" };
            runtime.block_on(admin_call(&admin, &key, None, what, |contract, tx, a| match adding {
                true => contract.add_enclave(tx, a.cap, a.cluster, &pcrs),
                false => contract.remove_enclave(tx, a.cap, a.cluster, &pcrs),
            }))?;
            match adding {
                true => println!(
                    "Cluster {} accepts the enclave image PCR0={}…; its nodes register with `nautilus attest`.",
                    admin.name,
                    &hex::encode(&pcrs[0].1)[..16]
                ),
                false => println!(
                    "Cluster {} no longer accepts the enclave image PCR0={}…; its attested nodes no longer answer.",
                    admin.name,
                    &hex::encode(&pcrs[0].1)[..16]
                ),
            }
            Ok(())
        }
        ClusterCommand::Node(NodeCommand::Add { node_dir, signing_key, sealing_key, cluster }) => {
            let admin = settings.admin_cluster(cluster.as_deref())?.clone();
            let key = admin_key(&paths, &settings)?;
            let (signing, sealing) = match (node_dir, signing_key, sealing_key) {
                (Some(dir), _, _) => {
                    let keys = crate::node::keys::NodeKeys::load_or_create(&dir)?;
                    (*keys.signing.public_key().inner(), keys.sealing.public_key().to_bytes())
                }
                (None, Some(signing), Some(sealing)) => {
                    (hex32(&signing, "--signing-key")?, hex32(&sealing, "--sealing-key")?)
                }
                _ => return Err(CliError::Message("pass --node-dir, or --signing-key and --sealing-key".into())),
            };
            let node = sui_sdk_types::Ed25519PublicKey::new(signing).derive_address();
            runtime.block_on(register_node(&admin, &key, node, signing, sealing))?;
            println!("Registered debug node {node} on cluster {}.", admin.name);
            Ok(())
        }
    }
}

/// Registers a debug node on `admin`'s cluster.
pub async fn register_node(
    admin: &AdminCluster,
    key: &Ed25519PrivateKey,
    node: Address,
    signing: [u8; 32],
    sealing: [u8; 32],
) -> Result<(), CliError> {
    admin_call(admin, key, None, "registering the node", |contract, tx, args| {
        contract.register_debug_node(tx, args.cap, args.cluster, node, &signing, &sealing)
    })
    .await
}

/// The call arguments an admin call takes: the capability, the cluster, and a token.
struct AdminArgs {
    cap: ObjectArg,
    cluster: ObjectArg,
    token: Option<ObjectArg>,
}

/// Signs and executes one admin call on `admin`'s cluster, which `build` adds to the
/// transaction; `what` is shown while the chain works.
async fn admin_call(
    admin: &AdminCluster,
    key: &Ed25519PrivateKey,
    token: Option<Address>,
    what: &str,
    build: impl FnOnce(&Contract, &mut TransactionBuilder, AdminArgs) -> Result<Argument, ContractError>,
) -> Result<(), CliError> {
    let mut client = connect(&admin.endpoints, admin.package).await?;
    let token = match token {
        Some(t) => Some(client.object_arg(t).await.map_err(|e| CliError::Message(format!("seal token {t}: {e}")))?),
        None => None,
    };
    let args =
        AdminArgs { cap: client.object_arg(admin.cap).await?, cluster: client.object_arg(admin.cluster).await?, token };
    let mut tx = TransactionBuilder::new();
    build(&Contract::new(admin.package), &mut tx, args)?;
    execute(&mut client, key, tx, what).await?;
    Ok(())
}

fn print_policy(name: &str, p: &Policy) {
    println!(
        "cluster {name}\n  min write stake    {}\n  token lifetime     {}\n  unstake lock       {}\n  debug nodes        {}\n  self-service role  {}\n  slashing           {}\n  protected          {}",
        format_sui(p.min_write_stake),
        humantime::format_duration(Duration::from_millis(p.token_lifetime_ms)),
        humantime::format_duration(Duration::from_millis(p.unstake_lock_ms)),
        if p.allow_debug_nodes { "allowed" } else { "forbidden" },
        Role::from_code(p.self_service_role).map(Role::as_str).unwrap_or("?"),
        if p.slashing_enabled { "enabled" } else { "disabled" },
        if p.protected_namespaces.is_empty() { "none".to_string() } else { p.protected_namespaces.join(", ") },
    );
    println!("  challenge          {}", if p.require_attestation_nonce { "required" } else { "optional" });
    println!(
        "  auditors           {}",
        match p.auditors.len() {
            0 => "none (sessions are not recorded; kubectl sui cluster auditors)".to_string(),
            n => format!("{n} (kubectl sui cluster auditors)"),
        }
    );
    match p.enclaves.is_empty() {
        true => println!("  enclaves           none accepted (kubectl sui cluster enclave add)"),
        false => {
            for (i, m) in p.enclaves.iter().enumerate() {
                let pcrs: Vec<String> =
                    m.pcrs.iter().map(|p| format!("PCR{}={}", p.index, hex::encode(&p.value))).collect();
                println!("  enclave {}          {}", i + 1, pcrs.join("\n                     "));
            }
        }
    }
}

fn print_auditors(name: &str, auditors: &[Vec<u8>]) {
    match auditors.is_empty() {
        true => println!("Cluster {name} names no auditor: sessions are not recorded for anyone."),
        false => {
            println!("Cluster {name} records every session opened from now on for these auditors:");
            for key in auditors {
                println!("  {}", hex::encode(key));
            }
        }
    }
}

/// Creates a cluster object; records its admin capability in the settings.
pub async fn create(paths: &Paths, settings: &Settings, args: CreateArgs) -> Result<AdminCluster, CliError> {
    let (endpoints, package) = settings.resolve(&args.network, args.faucet.clone(), None)?;
    let key = admin_key(paths, settings)?;
    let address = key.public_key().derive_address();
    // Debug nodes are for the devnet's quick start; a cluster on a real network forbids them
    // unless its admin says otherwise.
    let on_devnet = package == crate::devnet::package_id();
    let policy = args.policy.apply(Policy { allow_debug_nodes: on_devnet, ..default_policy() })?;
    let mut client = connect(&endpoints, package).await?;
    fund(&mut client, &endpoints, address, GAS_RESERVE).await?;
    let mut tx = TransactionBuilder::new();
    Contract::new(package).create_cluster(&mut tx, &args.name, &policy)?;
    let created = execute(&mut client, &key, tx, "creating the cluster object").await?.created();
    let cluster = created.iter().find(|(_, o)| matches!(o, Owner::Shared(_))).map(|(id, _)| *id);
    let cap = created.iter().find(|(_, o)| *o == Owner::Address(address)).map(|(id, _)| *id);
    let (Some(cluster), Some(cap)) = (cluster, cap) else {
        return Err(CliError::Message("the chain created no cluster object".into()));
    };
    let admin =
        AdminCluster { name: args.name.clone(), cluster, cap, network: args.network.clone(), endpoints, package };
    Settings::update(paths, |s| s.clusters.insert(args.name.clone(), admin.clone()))?;
    println!("Created cluster {} ({cluster}); you hold its admin capability {cap}.", args.name);
    print_policy(&args.name, &policy);
    println!(
        "Next: register its node (kubectl sui cluster node add --node-dir …), then kubectl sui login --cluster {cluster}"
    );
    Ok(admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pcrs: &[&str]) -> MeasurementArgs {
        MeasurementArgs { pcrs: pcrs.iter().map(|p| p.to_string()).collect(), measurements: None, cluster: None }
    }

    #[test]
    fn measurements_come_from_flags_or_nitro_cli_and_are_checked() {
        let (a, b, c) = ("aa".repeat(48), "bb".repeat(48), "cc".repeat(48));
        let given = args(&[&format!("0={a}"), &format!("PCR1={b}"), &format!("2=0x{c}"), &format!("16={a}")]);
        let pcrs = given.pcrs().unwrap();
        assert_eq!(pcrs.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1, 2, 16]);
        assert_eq!(pcrs[1].1, vec![0xbb; 48]);
        for bad in [
            args(&[&format!("0={a}"), &format!("1={b}")]),
            args(&[&format!("0={a}"), &format!("1={b}"), "2=abcd"]),
            args(&[&format!("0={a}"), &format!("1={b}"), &format!("2={c}"), &format!("2={c}")]),
            args(&[&format!("0={a}"), &format!("1={b}"), &format!("32={c}")]),
            args(&[&format!("0={a}"), &format!("1={b}"), &c]),
        ] {
            assert!(bad.pcrs().is_err(), "{:?}", bad.pcrs);
        }
        let json = format!(
            r#"{{"Measurements": {{"HashAlgorithm": "Sha384 {{ ... }}", "PCR2": "{c}", "PCR0": "{a}", "PCR1": "{b}", "PCR8": "{a}"}}}}"#
        );
        let pairs = nitro_cli_measurements(&json).unwrap();
        assert_eq!(pairs.iter().map(|(i, _)| i.as_str()).collect::<Vec<_>>(), ["0", "1", "2", "8"]);
        assert!(nitro_cli_measurements("{}").is_err());
    }
}
