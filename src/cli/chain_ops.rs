//! What several commands do on chain: connect with a clear error, fund from a faucet, sign
//! and execute with a progress spinner, and read a login's token and cluster.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::CliError;
use crate::chain::{ChainClient, ChainError, Executed, format_sui};
use crate::config::NetworkEndpoints;

/// Gas kept aside for the transactions of a login (MIST).
pub const GAS_RESERVE: u64 = 1_000_000_000;
/// How long a faucet's transfer may take to show in the balance.
const FAUCET_SETTLE: Duration = Duration::from_secs(30);

/// A spinner on stderr while `message` is pending; silent when stderr is not a terminal.
pub fn spinner(message: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("template"));
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// The local control plane's binaries, built first when the cache has none, with each step
/// shown (a bar on a terminal, a line each otherwise) and how long it took last time.
pub fn control_plane_binaries() -> Result<std::path::PathBuf, CliError> {
    use crate::controlplane::build::{self, Progress};
    let terminal = std::io::stderr().is_terminal();
    let mut bar: Option<ProgressBar> = None;
    let mut started = None;
    let result = build::ensure(&mut |p| match p {
        Progress::Building { binary, index, total, last } => {
            let started_at = *started.get_or_insert_with(std::time::Instant::now);
            let last = last.map(|d| format!(", {} last time", humantime::format_duration(d))).unwrap_or_default();
            let message = format!(
                "building the local control plane (Kubernetes {}) from Go modules, once: {binary} ({index}/{total}{last})",
                build::kubernetes_version()
            );
            if terminal {
                let b = bar.get_or_insert_with(|| spinner(""));
                b.set_message(message);
            } else {
                eprintln!("{message} [{}s so far]", started_at.elapsed().as_secs());
            }
        }
        Progress::Built { binary, took } => {
            let line = format!("built {binary} in {}", humantime::format_duration(Duration::from_secs(took.as_secs())));
            match &bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(result?)
}

/// A client of `endpoints`, checked to answer.
pub async fn connect(endpoints: &NetworkEndpoints, package: Address) -> Result<ChainClient, CliError> {
    let unreachable = |e: ChainError| {
        CliError::Message(format!(
            "the chain at {} is unreachable ({e}); start the devnet (`kubectl sui up` or `kubectl sui devnet`) or choose another --network",
            endpoints.rpc
        ))
    };
    let mut client = ChainClient::new(&endpoints.rpc, package).map_err(unreachable)?;
    client.chain_id().await.map_err(unreachable)?;
    Ok(client)
}

/// Makes sure `address` holds at least `needed` MIST, asking the faucet when there is one.
pub async fn fund(
    client: &mut ChainClient,
    endpoints: &NetworkEndpoints,
    address: Address,
    needed: u64,
) -> Result<u64, CliError> {
    let balance = client.balance(address).await?;
    if balance >= needed {
        return Ok(balance);
    }
    let Some(faucet) = &endpoints.faucet else {
        return Err(CliError::Message(format!(
            "{address} holds {} but needs {}; send it SUI, then run the command again",
            format_sui(balance),
            format_sui(needed)
        )));
    };
    let bar = spinner(&format!("asking the faucet at {faucet} for SUI"));
    crate::chain::request_from_faucet(faucet, address).await?;
    // The faucet answers once its transfer executed; a full node may index it a little later.
    let deadline = std::time::Instant::now() + FAUCET_SETTLE;
    let mut balance = client.balance(address).await?;
    while balance < needed && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        balance = client.balance(address).await?;
    }
    bar.finish_and_clear();
    if balance < needed {
        return Err(CliError::Message(format!(
            "{address} holds {} after the faucet, but needs {}; lower --stake or fund it",
            format_sui(balance),
            format_sui(needed)
        )));
    }
    Ok(balance)
}

/// Signs and executes `tx` with `key`'s first gas coin, showing `what` while it waits, and
/// returns once a checkpoint carries it: the next command reads what it wrote.
pub async fn execute(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    tx: TransactionBuilder,
    what: &str,
) -> Result<Executed, CliError> {
    execute_with_budget(client, key, tx, what, crate::chain::DEFAULT_GAS_BUDGET).await
}

/// [`execute`] with a gas budget other than the default (a publish).
pub async fn execute_with_budget(
    client: &mut ChainClient,
    key: &Ed25519PrivateKey,
    tx: TransactionBuilder,
    what: &str,
    budget: u64,
) -> Result<Executed, CliError> {
    let bar = spinner(what);
    let result = client.execute_settled_with_own_coin(tx, key, budget).await;
    bar.finish_and_clear();
    Ok(result?)
}
