//! `nautilus`, the node daemon: its commands and their flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use sui_sdk_types::Address;

use super::CliError;
use crate::node::{self, NodeConfig};

/// The Nautilus node: follows the chain, executes approved requests on the cluster's
/// Kubernetes API as the requester, and answers on chain with sealed responses.
///
/// It has no inbound API for users; the chain is its only input.
#[derive(Debug, Parser)]
#[command(name = "nautilus", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More logging: -v debug, -vv trace (NAUTILUS_LOG, e.g. `kubectl_sui::node=debug`, wins).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

impl Cli {
    /// The log filter the flags ask for.
    pub fn log_filter(&self) -> &'static str {
        match self.verbose {
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node in the foreground until stopped.
    Run(RunArgs),
    /// Register this node on its cluster by attestation: a document from the enclave's Nitro
    /// Security Module naming the node's keys and the cluster, verified by the chain against
    /// the enclave images the cluster's admin accepted. Run it inside the enclave, before `run`.
    Attest(AttestArgs),
    /// Check or repair the execution journal (with the node stopped).
    #[command(subcommand)]
    Journal(JournalCommand),
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Say what the journal holds and, when damaged, what would be lost. Exits 1 on damage.
    Check {
        /// The node's data directory [default: the user's data directory].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Rewrite a damaged journal with every valid record, before and after the damage. The
    /// requests whose records are lost and that ran may show a 500 "outcome unknown".
    Repair {
        /// The node's data directory [default: the user's data directory].
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct AttestArgs {
    /// Sui gRPC endpoint.
    #[arg(long, env = "NAUTILUS_CHAIN_URL")]
    chain_url: String,
    /// The contract package id.
    #[arg(long, env = "NAUTILUS_PACKAGE")]
    package: Address,
    /// The cluster object this node serves.
    #[arg(long, env = "NAUTILUS_CLUSTER")]
    cluster: Address,
    /// Where the node's keys are (created there the first time) [default: the user's data
    /// directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Node")]
struct RunArgs {
    /// Configuration file (YAML, keys as the flags' names); flags override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Sui gRPC endpoint.
    #[arg(long, env = "NAUTILUS_CHAIN_URL")]
    chain_url: Option<String>,
    /// The contract package id.
    #[arg(long, env = "NAUTILUS_PACKAGE")]
    package: Option<String>,
    /// The cluster object this node serves.
    #[arg(long, env = "NAUTILUS_CLUSTER")]
    cluster: Option<String>,
    /// Kubeconfig of the cluster; in-cluster configuration when absent.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Keys, checkpoint cursor and execution journal [default: the user's data directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Requests executed at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "127.0.0.1:9412")]
    metrics_listen: SocketAddr,
    /// Make a new sealing key and publish it before serving; requests sealed to the
    /// previous key are still answered.
    #[arg(long)]
    rotate_sealing_key: bool,
    /// With no cursor in the data directory, follow from this checkpoint instead of the
    /// chain's tip (a backfill; requests already answered or cancelled are not run).
    #[arg(long, value_name = "N")]
    from_checkpoint: Option<u64>,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(args) => run_node(args),
        Command::Attest(args) => attest(args),
        Command::Journal(JournalCommand::Check { data_dir }) => journal(data_dir, false),
        Command::Journal(JournalCommand::Repair { data_dir }) => journal(data_dir, true),
    }
}

fn default_data_dir() -> Result<PathBuf, CliError> {
    let dirs = directories::ProjectDirs::from("", "", "nautilus").ok_or(CliError::NoHomeDirectory)?;
    Ok(dirs.data_dir().to_path_buf())
}

fn journal(data_dir: Option<PathBuf>, repair: bool) -> Result<(), CliError> {
    let path = data_dir.map_or_else(default_data_dir, Ok)?.join(node::JOURNAL_FILE);
    let scan = match repair {
        true => crate::journal::repair::<node::requests::Entry>(&path),
        false => crate::journal::inspect::<node::requests::Entry>(&path),
    }
    .map_err(|e| CliError::Message(e.to_string()))?;
    println!("{}: {} bytes, {} valid records before any damage", path.display(), scan.file_len, scan.records.len());
    let Some(damage) = scan.damage else {
        println!("no damage");
        return Ok(());
    };
    match damage.next_valid {
        None => println!(
            "torn tail at byte {} ({} bytes): a crash mid-write, never acknowledged; cut at the next start",
            damage.offset, damage.bytes_lost
        ),
        Some(next) => {
            println!(
                "DAMAGED at byte {}: {} bytes unreadable, valid records resume at byte {next} ({} more)",
                damage.offset,
                damage.bytes_lost,
                scan.after_damage.len()
            );
            println!(
                "lost: whatever those bytes recorded (the requests they named may be answered 500, outcome unknown, if found again)"
            );
            match repair {
                true => println!("repaired: kept {} records", scan.records.len() + scan.after_damage.len()),
                false => {
                    return Err(CliError::Message(
                        "the journal is damaged; `nautilus journal repair` keeps every valid record".into(),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn attest(args: AttestArgs) -> Result<(), CliError> {
    use crate::node::attest::{self, AttestError, Nsm};
    let dir = args.data_dir.map_or_else(default_data_dir, Ok)?;
    let keys = node::keys::NodeKeys::load_or_create(&dir)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let unreachable = |e: crate::chain::ChainError| {
            CliError::Message(format!("the chain at {} is unreachable ({e}); check --chain-url", args.chain_url))
        };
        let mut client = crate::chain::ChainClient::new(&args.chain_url, args.package).map_err(unreachable)?;
        client.chain_id().await.map_err(unreachable)?;
        match attest::attest(&mut client, &keys, args.cluster, &Nsm).await {
            Ok(done) => {
                println!(
                    "Node {} is attested on cluster {} (enclave PCR{}).",
                    done.node,
                    args.cluster,
                    done.pcrs
                        .iter()
                        .map(|p| format!("{}={}…", p.index, p.value.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()))
                        .collect::<Vec<_>>()
                        .join(" PCR")
                );
                println!("Next: nautilus run --chain-url {} --package {} --cluster {} …", args.chain_url, args.package, args.cluster);
                Ok(())
            }
            Err(AttestError::NotInEnclave(why)) => {
                let cluster: Option<crate::contract::objects::Cluster> = client.move_object(args.cluster).await.ok();
                let next = match cluster.map(|c| c.policy.allow_debug_nodes) {
                    Some(true) => format!(
                        "this cluster allows debug nodes: its admin can register this one by its keys instead, `kubectl sui cluster node add --cluster {} --signing-key {} --sealing-key {}` (not attested: whoever runs it can read what it is sent)",
                        args.cluster,
                        hex::encode(keys.signing.public_key().inner()),
                        hex::encode(keys.sealing.public_key().to_bytes())
                    ),
                    Some(false) => "this cluster forbids debug nodes: run the node inside an enclave built from an image whose PCRs the admin accepted (docs/operations.md, \"Attested nodes\")".to_string(),
                    None => format!("cluster {} was not found on {}", args.cluster, args.chain_url),
                };
                Err(CliError::Message(format!("not inside an AWS Nitro enclave ({why}); {next}")))
            }
            Err(e) => Err(CliError::Message(e.to_string())),
        }
    })
}

fn run_node(args: RunArgs) -> Result<(), CliError> {
    let config = node_config(args)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let stop = super::stop_on_signal()?;
        node::run(config, stop, None).await.map_err(CliError::Node)
    })
}

/// The config file, then flags over it, validated before anything starts.
fn node_config(args: RunArgs) -> Result<NodeConfig, CliError> {
    let mut value: serde_yaml::Mapping = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(crate::fs::failed("reading", path))?;
            serde_yaml::from_str(&text)
                .map_err(|e| CliError::InvalidConfig { path: path.clone(), message: e.to_string() })?
        }
        None => serde_yaml::Mapping::new(),
    };
    let mut set = |key: &str, v: Option<serde_yaml::Value>| {
        if let Some(v) = v {
            value.insert(key.into(), v);
        }
    };
    set("chain-url", args.chain_url.map(Into::into));
    set("package", args.package.map(Into::into));
    set("cluster", args.cluster.map(Into::into));
    set("kubeconfig", args.kubeconfig.map(|p| p.display().to_string().into()));
    set("concurrency", args.concurrency.map(|c| (c as u64).into()));
    set("metrics-listen", Some(args.metrics_listen.to_string().into()));
    set("data-dir", args.data_dir.map(|p| p.display().to_string().into()));
    set("rotate-sealing-key", args.rotate_sealing_key.then_some(true.into()));
    set("from-checkpoint", args.from_checkpoint.map(Into::into));
    if !value.contains_key("data-dir") {
        value.insert("data-dir".into(), default_data_dir()?.display().to_string().into());
    }
    let origin = args.config.unwrap_or_else(|| PathBuf::from("flags"));
    serde_yaml::from_value(serde_yaml::Value::Mapping(value)).map_err(|e| CliError::InvalidConfig {
        path: origin,
        message: format!("{e} (set it in the file or with its flag)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verbosity_raises_the_log_level() {
        assert_eq!(Cli::try_parse_from(["nautilus", "run"]).unwrap().log_filter(), "info");
        assert_eq!(Cli::try_parse_from(["nautilus", "run", "-v"]).unwrap().log_filter(), "debug");
        assert_eq!(Cli::try_parse_from(["nautilus", "-vv", "run"]).unwrap().log_filter(), "trace");
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn args(argv: &[&str]) -> RunArgs {
        match Cli::try_parse_from(std::iter::once("nautilus").chain(argv.iter().copied())).unwrap().command {
            Command::Run(args) => args,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn flags_override_the_file_and_missing_fields_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node.yaml");
        std::fs::write(&file, "chain-url: http://127.0.0.1:9000\npackage: '0x2'\ncluster: '0xc1'\nconcurrency: 4\n")
            .unwrap();
        let f = file.to_str().unwrap();
        let config = node_config(args(&["run", "-c", f, "--concurrency", "8", "--data-dir", "/tmp/n"])).unwrap();
        assert_eq!((config.concurrency, config.chain_url.as_str()), (8, "http://127.0.0.1:9000"));
        assert_eq!(config.data_dir, PathBuf::from("/tmp/n"));
        assert_eq!(config.metrics_listen.unwrap().to_string(), "127.0.0.1:9412");
        let err = node_config(args(&["run", "--data-dir", "/tmp/n"])).unwrap_err().to_string();
        assert!(err.contains("chain-url"), "{err}");
        std::fs::write(&file, "chain-url: x\nbogus: 1\n").unwrap();
        let err = node_config(args(&["run", "-c", f])).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
