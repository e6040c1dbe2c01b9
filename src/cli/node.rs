//! `nautilus`, the node daemon: its commands and their flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::CliError;

/// The Nautilus node: follows the chain, executes approved requests on the cluster's
/// Kubernetes API as the requester, and answers on chain with sealed responses.
///
/// It has no inbound API for users; the chain is its only input.
#[derive(Debug, Parser)]
#[command(name = "nautilus", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the node in the foreground until stopped.
    Run(RunArgs),
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Node")]
struct RunArgs {
    /// Configuration file (flags override it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Sui gRPC endpoint.
    #[arg(long, env = "NAUTILUS_CHAIN_URL")]
    chain_url: Option<String>,
    /// The cluster object this node serves.
    #[arg(long, env = "NAUTILUS_CLUSTER")]
    cluster: Option<String>,
    /// File holding the node's key.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// Kubeconfig of the cluster; in-cluster configuration when absent.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Where the cursor and the execution journal are kept.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Requests executed at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, default_value = "127.0.0.1:9184")]
    metrics_listen: String,
    /// More logging (-v, -vv).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Run(_) => Err(CliError::NotYetAvailable { command: "nautilus run", issue: 6 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults() {
        let cli = Cli::try_parse_from(["nautilus", "run"]).unwrap();
        let Command::Run(args) = cli.command;
        assert_eq!(args.concurrency, 32);
        assert_eq!(args.metrics_listen, "127.0.0.1:9184");
    }
}
