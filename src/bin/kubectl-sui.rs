//! The kubectl plugin binary: parse, dispatch, report.

use std::process::ExitCode;

use clap::Parser;
use kubectl_sui::cli::plugin;

fn main() -> ExitCode {
    // Logs go to stderr only: stdout carries command output (an ExecCredential, JSON).
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KUBECTL_SUI_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match plugin::run(plugin::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kubectl-sui: error: {:#}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
