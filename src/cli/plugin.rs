//! `kubectl-sui`, the kubectl plugin: its commands and their flags.

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

use super::admin::{self, ClusterCommand};
use super::audit::{self, AuditArgs};
use super::contract::{self, ContractArgs};
use super::devnet::{self, DevnetArgs};
use super::proxy::{self, ProxyArgs};
use super::session::{self, ClusterSelector, LoginArgs};
use super::up::{self, UpArgs};
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
    /// Remove this cluster's kubeconfig entries and cached credentials; stop its proxy.
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
    /// Your seal tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Administer a cluster object (needs its admin capability).
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Run the embedded local Sui devnet in the foreground.
    Devnet(DevnetArgs),
    /// Start devnet, node, proxy, cluster object and login in one command.
    Up(UpArgs),
    /// Stop the services `kubectl sui up` started (their data is kept unless --purge).
    Down {
        /// The data directory given to `up`.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Also remove the stack's data (devnet ledger, node keys, control plane) and the
        /// devnet logins and cluster records `up` made.
        #[arg(long)]
        purge: bool,
    },
    /// Inspect the contract this build speaks to.
    Contract(ContractArgs),
    /// The local control plane `up` runs (kube-apiserver, etcd, kwok, ...).
    #[command(subcommand)]
    ControlPlane(ControlPlaneCommand),
    /// Print shell completions.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
enum ControlPlaneCommand {
    /// Build its binaries from their pinned Go modules (needs Go; once, then cached) and print
    /// their directory. `$KUBECTL_SUI_K8S_CACHE` moves the cache.
    Build,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// List the seal tokens of your logins.
    List {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Revoke a seal token (cluster admin; same as `cluster revoke`).
    Revoke {
        /// The seal token's object id.
        token: sui_sdk_types::Address,
        /// The cluster (name or id).
        #[arg(long)]
        cluster: Option<String>,
    },
    /// Delete one of your seal tokens and get its stake back, after the lock period.
    Unstake {
        /// The seal token's object id.
        token: sui_sdk_types::Address,
    },
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Contract(args) => contract::run(args),
        Command::ControlPlane(ControlPlaneCommand::Build) => {
            let dir = super::chain_ops::control_plane_binaries()?;
            super::write_out(format!("{}\n", dir.display()).as_bytes())
        }
        Command::Completion { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kubectl-sui", &mut out);
            super::write_out(&out)
        }
        Command::Devnet(args) => devnet::run(args),
        Command::Login(args) => session::login(args),
        Command::Logout(selector) => session::logout(selector),
        Command::Credential(selector) => session::credential(selector),
        Command::Status { output } => session::status(output),
        Command::Token(TokenCommand::List { output }) => session::token_list(output),
        Command::Token(TokenCommand::Unstake { token }) => session::token_unstake(token),
        Command::Token(TokenCommand::Revoke { token, cluster }) => {
            admin::run(ClusterCommand::Revoke { token, cluster })
        }
        Command::Cluster(command) => admin::run(command),
        Command::Proxy(args) => proxy::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Up(args) => up::up(args),
        Command::Down { data_dir, purge } => up::down(data_dir, purge),
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
        assert_eq!(args.listen.to_string(), "127.0.0.1:9410");
        assert_eq!(args.faucet_listen.to_string(), "127.0.0.1:9411");
        assert_eq!(args.checkpoint_interval, std::time::Duration::from_millis(2));
        let Command::Devnet(args) = parse(&["devnet", "--checkpoint-interval", "1s"]).unwrap().command else {
            panic!()
        };
        assert_eq!(args.checkpoint_interval, std::time::Duration::from_secs(1));
        assert!(parse(&["devnet", "--checkpoint-interval", "soon"]).is_err());
    }
}
