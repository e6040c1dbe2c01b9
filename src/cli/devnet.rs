//! `kubectl sui devnet`: the embedded devnet in the foreground.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::devnet::{self, Devnet, DevnetConfig};

/// Run the embedded local Sui devnet in the foreground.
#[derive(Debug, Args)]
#[command(next_help_heading = "Devnet")]
pub struct DevnetArgs {
    /// Address of the gRPC and gRPC-Web endpoint.
    #[arg(long, default_value = devnet::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Address of the HTTP faucet.
    #[arg(long, default_value = devnet::DEFAULT_FAUCET_LISTEN)]
    pub faucet_listen: SocketAddr,
    /// Where the ledger is kept [default: the user's data directory, e.g.
    /// ~/.local/share/kubectl-sui/devnet].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Average least time between checkpoints (e.g. 2ms, 1s). A checkpoint closes as soon as
    /// a transaction commits; bursts of up to 4 close back to back, past them one per
    /// interval, so transactions batch under load. A request through the chain waits for two.
    #[arg(long, default_value = "2ms", value_parser = humantime::parse_duration)]
    pub checkpoint_interval: Duration,
    /// Time from a commit to its checkpoint, to behave like a public network (e.g. 400ms).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub finality: Duration,
}

/// The default data directory of the devnet.
pub fn default_data_dir() -> Result<PathBuf, CliError> {
    directories::ProjectDirs::from("", "", "kubectl-sui")
        .map(|d| d.data_dir().join("devnet"))
        .ok_or(CliError::NoHomeDirectory)
}

/// Runs the devnet until SIGINT or SIGTERM, then shuts down cleanly.
pub fn run(args: DevnetArgs) -> Result<(), CliError> {
    let data_dir = match args.data_dir {
        Some(d) => d,
        None => default_data_dir()?,
    };
    let config = DevnetConfig {
        listen: args.listen,
        faucet_listen: args.faucet_listen,
        data_dir,
        checkpoint_interval: args.checkpoint_interval,
        finality: args.finality,
    };
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        let devnet = Devnet::start(config.clone()).await?;
        eprintln!(
            "devnet running: gRPC {} faucet {} data {} (package {})",
            devnet.grpc_url(),
            devnet.faucet_url(),
            config.data_dir.display(),
            devnet::package_id()
        );
        let mut stop = super::stop_on_signal()?;
        let _ = stop.wait_for(|s| *s).await;
        eprintln!("devnet stopping");
        devnet.shutdown().await?;
        Ok(())
    })
}
