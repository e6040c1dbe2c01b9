//! The node daemon binary: parse, dispatch, report.

use std::process::ExitCode;

use clap::Parser;
use kubectl_sui::cli::node;

fn main() -> ExitCode {
    match node::run(node::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("nautilus: error: {:#}", anyhow::Error::from(err));
            ExitCode::FAILURE
        }
    }
}
