//! The kubectl plugin binary: parse, dispatch, report.

use std::process::ExitCode;

use clap::Parser;
use kubectl_sui::cli::plugin;

fn main() -> ExitCode {
    match plugin::run(plugin::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kubectl-sui: error: {:#}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
