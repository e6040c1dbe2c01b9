//! The node daemon binary: parse, dispatch, report.

use std::process::ExitCode;

use clap::Parser;
use kubectl_sui::cli::node;

fn main() -> ExitCode {
    let cli = node::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NAUTILUS_LOG").unwrap_or_else(|_| cli.log_filter().into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match node::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nautilus: error: {:#}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
