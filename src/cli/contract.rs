//! `kubectl sui contract`: the abort table and the mirror check, for operators and review.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{CliError, OutputFormat, write_out};
use crate::contract::{ABORT_CODES, mirror};

/// Inspect the contract this build speaks to.
#[derive(Debug, Args)]
pub struct ContractArgs {
    #[command(subcommand)]
    command: ContractCommand,
}

#[derive(Debug, Subcommand)]
enum ContractCommand {
    /// List every abort code, what it means, and the Kubernetes status it becomes.
    Aborts {
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Check that Move sources match this build's mirror (types, calls, abort codes).
    Verify {
        /// Directory of the package's `.move` sources.
        #[arg(long, default_value = "move/sources")]
        sources: PathBuf,
    },
}

pub fn run(args: ContractArgs) -> Result<(), CliError> {
    match args.command {
        ContractCommand::Aborts { output } => aborts(output),
        ContractCommand::Verify { sources } => verify(sources),
    }
}

fn aborts(output: OutputFormat) -> Result<(), CliError> {
    let rows = || -> Vec<_> {
        ABORT_CODES
            .iter()
            .map(|a| {
                serde_json::json!({
                    "module": a.module, "name": a.name, "code": a.code,
                    "httpStatus": a.http_status, "reason": a.reason, "meaning": a.meaning,
                })
            })
            .collect()
    };
    let text = match output {
        OutputFormat::Json => serde_json::to_string_pretty(&rows()).map_err(CliError::Json)? + "\n",
        OutputFormat::Yaml => serde_yaml::to_string(&rows()).expect("rows serialize"),
        OutputFormat::Table => {
            let mut text = format!("{:<6}{:<11}{:<24}{:<7}MEANING\n", "CODE", "MODULE", "NAME", "HTTP");
            for a in ABORT_CODES {
                text += &format!("{:<6}{:<11}{:<24}{:<7}{}\n", a.code, a.module, a.name, a.http_status, a.meaning);
            }
            text
        }
    };
    write_out(text.as_bytes())
}

fn verify(sources: PathBuf) -> Result<(), CliError> {
    let modules = mirror::read_sources(&sources)?;
    let mismatches = mirror::check(&modules)?;
    for m in &mismatches {
        eprintln!("  {m}");
    }
    if mismatches.is_empty() {
        write_out(format!("{} modules in {} match the mirror\n", modules.len(), sources.display()).as_bytes())
    } else {
        Err(CliError::MirrorDrift { path: sources.display().to_string(), count: mismatches.len() })
    }
}
