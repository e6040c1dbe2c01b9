//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Move sources of the package.
pub fn move_sources() -> PathBuf {
    repo_root().join("move").join("sources")
}

/// Runs a binary of this package with `args` and returns its output.
pub fn run_bin(bin: &str, args: &[&str]) -> Output {
    let path = match bin {
        "kubectl-sui" => env!("CARGO_BIN_EXE_kubectl-sui"),
        "nautilus" => env!("CARGO_BIN_EXE_nautilus"),
        other => panic!("unknown binary {other}"),
    };
    Command::new(path).args(args).current_dir(repo_root()).output().expect("binary runs")
}
