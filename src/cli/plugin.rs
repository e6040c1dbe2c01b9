//! `kubectl-sui`, the kubectl plugin: its commands and their flags.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

use super::contract::{self, ContractArgs};
use super::devnet::{self, DevnetArgs};
use super::{CliError, OutputFormat};

/// Kubernetes access governed by a Sui Move contract.
///
/// `kubectl sui login` stakes SUI for a seal token and writes a kubeconfig context; from then
/// on plain kubectl works: each request is authorised and recorded on chain, executed by the
/// cluster's Nautilus node, and answered through the chain, with bodies sealed end to end.
#[derive(Debug, Parser)]
#[command(name = "kubectl-sui", bin_name = "kubectl sui", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stake SUI for a seal token on a cluster and write a kubeconfig context for it.
    Login(LoginArgs),
    /// Remove this cluster's kubeconfig entries and cached credentials.
    Logout(ClusterSelector),
    /// Print an ExecCredential for kubectl (called by the kubeconfig exec hook).
    Credential(ClusterSelector),
    /// Run the localhost HTTPS proxy that carries kubectl requests through the chain.
    Proxy(ProxyArgs),
    /// Show identity, network, balance, tokens, cluster, nodes and proxy state.
    Status {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Show the on-chain audit trail of a cluster.
    Audit(AuditArgs),
    /// Manage your seal tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Administer a cluster object (needs its admin capability).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run the embedded local Sui devnet in the foreground.
    Devnet(DevnetArgs),
    /// Start devnet, node, proxy, cluster object and login in one command.
    Up(UpArgs),
    /// Stop the services `kubectl sui up` started.
    Down,
    /// Inspect the contract this build speaks to.
    Contract(ContractArgs),
    /// Print shell completions.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Which cluster a command applies to.
#[derive(Debug, Args)]
struct ClusterSelector {
    /// Cluster object id or name; defaults to the current kubeconfig context's cluster.
    #[arg(long)]
    cluster: Option<String>,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Login")]
struct LoginArgs {
    /// Cluster object id or name.
    #[arg(long)]
    cluster: String,
    /// A predefined role: view, edit or admin.
    #[arg(long, conflicts_with = "allow")]
    role: Option<String>,
    /// An explicit permission, VERB:RESOURCE[:NAMESPACE]; repeatable.
    #[arg(long, value_name = "RULE")]
    allow: Vec<String>,
    /// Stake to lock, in SUI (e.g. 0.5).
    #[arg(long)]
    stake: Option<String>,
    /// Network: devnet, localnet, testnet, mainnet or a gRPC URL.
    #[arg(long, default_value = "devnet")]
    network: String,
    /// Do not make the new context current.
    #[arg(long)]
    no_switch: bool,
    /// Never prompt; fail instead.
    #[arg(long, short)]
    yes: bool,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Proxy")]
struct ProxyArgs {
    /// Cluster object id or name.
    #[arg(long)]
    cluster: Option<String>,
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Audit")]
struct AuditArgs {
    /// Cluster object id or name.
    #[arg(long)]
    cluster: Option<String>,
    /// Keep printing new requests as they land.
    #[arg(long, short)]
    follow: bool,
    /// Only requests newer than this duration (e.g. 1h).
    #[arg(long)]
    since: Option<String>,
    /// Only requests by this address.
    #[arg(long)]
    user: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    output: OutputFormat,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// List your seal tokens.
    List,
    /// Revoke a token (cluster admin).
    Revoke {
        /// Token object id.
        token: String,
    },
    /// Delete a token and get its stake back, after the lock period.
    Unstake {
        /// Token object id.
        token: String,
    },
}

#[derive(Debug, Subcommand)]
enum ClusterCommand {
    /// Create a cluster object; you receive its admin capability.
    Create {
        /// Human name of the cluster.
        name: String,
    },
    /// Grant a role or explicit rules to a token.
    Grant {
        /// Token object id.
        token: String,
        /// A predefined role: none, view, edit or admin.
        #[arg(long, conflicts_with = "allow")]
        role: Option<String>,
        /// An explicit permission, VERB:RESOURCE[:NAMESPACE]; repeatable.
        #[arg(long, value_name = "RULE")]
        allow: Vec<String>,
    },
    /// Show or change the cluster policy.
    Policy,
    /// Manage the cluster's nodes.
    #[command(subcommand)]
    Node(NodeCommand),
}

#[derive(Debug, Subcommand)]
enum NodeCommand {
    /// Register a debug node by its keys.
    Add {
        /// The node's Sui address.
        address: String,
    },
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Up")]
struct UpArgs {
    /// Where the services keep their state.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Build or reuse a local control plane instead of the current kubeconfig context.
    #[arg(long)]
    local_control_plane: bool,
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let not_yet = |command, issue| Err(CliError::NotYetAvailable { command, issue });
    match cli.command {
        Command::Contract(args) => contract::run(args),
        Command::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kubectl-sui", &mut out);
            super::write_out(&out)
        }
        Command::Devnet(args) => devnet::run(args),
        Command::Login(_) => not_yet("kubectl sui login", 4),
        Command::Logout(_) => not_yet("kubectl sui logout", 4),
        Command::Credential(_) => not_yet("kubectl sui credential", 4),
        Command::Status { .. } => not_yet("kubectl sui status", 4),
        Command::Token(_) => not_yet("kubectl sui token", 4),
        Command::Cluster(_) => not_yet("kubectl sui cluster", 4),
        Command::Proxy(_) => not_yet("kubectl sui proxy", 7),
        Command::Audit(_) => not_yet("kubectl sui audit", 7),
        Command::Up(_) => not_yet("kubectl sui up", 7),
        Command::Down => not_yet("kubectl sui down", 7),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kubectl-sui").chain(args.iter().copied()))
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn login_role_conflicts_with_allow() {
        assert!(parse(&["login", "--cluster", "c", "--role", "view"]).is_ok());
        let err = parse(&["login", "--cluster", "c", "--role", "view", "--allow", "get:pods"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }

    #[test]
    fn devnet_defaults_are_loopback() {
        let Command::Devnet(args) = parse(&["devnet"]).unwrap().command else { panic!("devnet") };
        assert_eq!(args.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(args.faucet_listen.to_string(), "127.0.0.1:9123");
        assert_eq!(args.checkpoint_interval, std::time::Duration::from_millis(20));
        let Command::Devnet(args) = parse(&["devnet", "--checkpoint-interval", "1s"]).unwrap().command else {
            panic!()
        };
        assert_eq!(args.checkpoint_interval, std::time::Duration::from_secs(1));
        assert!(parse(&["devnet", "--checkpoint-interval", "soon"]).is_err());
    }

    #[test]
    fn unimplemented_commands_name_their_issue() {
        let err = run(parse(&["proxy"]).unwrap()).unwrap_err();
        assert_eq!(err.to_string(), "`kubectl sui proxy` is not available in this build yet (tracked in issue #7)");
    }
}
