//! Publishing the Move package to a real Sui network: compiling it with the user's Sui CLI,
//! and the `Publish` transaction that this build signs itself.
//!
//! This module owns finding the package (`move/` of a checkout, or the copy `install.sh` and
//! krew put beside the binary), finding the `sui` binary, compiling a scratch copy of the
//! package (`sui move build --dump-bytecode-as-base64`; with a local framework named, the copy's
//! `Move.toml` turns implicit dependencies off and points at it, for offline machines), and
//! reading the result of a publish (the package id, the `UpgradeCap`). It does not sign,
//! execute or record anything: `cli::contract` does, with the user's key.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64ct::Encoding;
use serde::Deserialize;
use sui_sdk_types::{Address, Owner};
use sui_transaction_builder::TransactionBuilder;

/// Why the package could not be compiled or published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// No Sui CLI.
    #[error(
        "publishing compiles the Move package with the Sui CLI, and no `sui` was found ({0}): install it (https://docs.sui.io/guides/developer/getting-started/sui-install), put it on PATH or pass --sui PATH (or set SUI_BIN)"
    )]
    NoSui(String),
    /// No Move package.
    #[error("no Move package at {0}: pass --package-path DIR (a directory with Move.toml and sources/)")]
    NoPackage(PathBuf),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// `sui move build` failed.
    #[error("`sui move build` failed ({status}):\n{output}")]
    Build {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed (the end of it).
        output: String,
    },
    /// Its output was not what `--dump-bytecode-as-base64` prints.
    #[error("`sui move build --dump-bytecode-as-base64` printed something else: {0}")]
    Output(String),
    /// The publish transaction created no package.
    #[error("the publish transaction {0} created no package object")]
    NoPackageCreated(String),
}

/// The compiled package, as a `Publish` command takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// Each module's bytecode.
    pub modules: Vec<Vec<u8>>,
    /// The packages it depends on (the framework's).
    pub dependencies: Vec<Address>,
}

#[derive(Deserialize)]
struct Dump {
    modules: Vec<String>,
    dependencies: Vec<String>,
}

/// Parses what `sui move build --dump-bytecode-as-base64` prints (its last JSON line).
pub fn parse_dump(stdout: &str) -> Result<Compiled, PublishError> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .ok_or_else(|| PublishError::Output("no JSON object".into()))?;
    let dump: Dump = serde_json::from_str(line).map_err(|e| PublishError::Output(e.to_string()))?;
    let modules = dump
        .modules
        .iter()
        .map(|m| base64ct::Base64::decode_vec(m).map_err(|e| PublishError::Output(format!("a module: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let dependencies = dump
        .dependencies
        .iter()
        .map(|d| d.parse::<Address>().map_err(|e| PublishError::Output(format!("dependency {d}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if modules.is_empty() {
        return Err(PublishError::Output("no modules".into()));
    }
    Ok(Compiled { modules, dependencies })
}

/// The Move package to publish: `given`, else the one installed beside this binary
/// (`<prefix>/share/kubectl-sui/move`, or krew's `move/` next to the plugin), else `./move`.
pub fn find_package(given: Option<&Path>) -> Result<PathBuf, PublishError> {
    let candidates: Vec<PathBuf> = match given {
        Some(p) => vec![p.to_path_buf()],
        None => {
            let exe_dir = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf));
            let mut c = Vec::new();
            if let Some(dir) = exe_dir {
                c.push(dir.join("move"));
                c.push(dir.join("../share/kubectl-sui/move"));
            }
            c.push(PathBuf::from("move"));
            c
        }
    };
    candidates
        .iter()
        .find(|p| p.join("Move.toml").is_file() && p.join("sources").is_dir())
        .cloned()
        .ok_or_else(|| PublishError::NoPackage(candidates.first().cloned().unwrap_or_default()))
}

/// The `sui` binary: `given`, else `$SUI_BIN`, else `sui` on PATH.
pub fn find_sui(given: Option<&Path>) -> Result<PathBuf, PublishError> {
    let sui = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SUI_BIN").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("sui"));
    match Command::new(&sui).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(sui),
        Ok(out) => Err(PublishError::NoSui(format!("{} --version exited {}", sui.display(), out.status))),
        Err(e) => Err(PublishError::NoSui(format!("{}: {e}", sui.display()))),
    }
}

/// The package's `Move.toml` with implicit (git) dependencies turned off and the framework
/// taken from `framework` (a directory holding `sui-framework` and `move-stdlib`).
pub fn offline_manifest(manifest: &str, framework: &Path) -> String {
    let mut out = String::new();
    let mut in_dependencies = false;
    for line in manifest.lines() {
        let header = line.trim_start().starts_with('[');
        if header {
            in_dependencies = line.trim() == "[dependencies]";
        }
        if line.trim_start().starts_with("implicit-dependencies") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if line.trim() == "[package]" {
            out.push_str("implicit-dependencies = false\n");
        }
        if header && in_dependencies {
            out.push_str(&format!(
                "Sui = {{ local = \"{}\" }}\nMoveStdlib = {{ local = \"{}\" }}\n",
                framework.join("sui-framework").display(),
                framework.join("move-stdlib").display()
            ));
        }
    }
    out
}

/// Compiles a scratch copy of `package` with `sui` (so nothing is written into an installed
/// package), offline against `framework` when given. The CLI runs with a client
/// configuration of its own whose one environment is `rpc`, the network published to: a Sui
/// CLI without `--build-env` asks its active environment for the chain id when it dumps
/// bytecode, and the user's own configuration may point elsewhere.
///
/// `chain` is the network's chain identifier (the first 4 bytes of its genesis checkpoint
/// digest, in hex), named as the scratch package's `target` environment: Sui's package
/// manager wants the environment it builds for declared in `Move.toml`.
pub fn compile(
    sui: &Path,
    package: &Path,
    framework: Option<&Path>,
    rpc: &str,
    chain: &str,
) -> Result<Compiled, PublishError> {
    let scratch = tempfile::tempdir().map_err(crate::fs::failed("creating a directory in", &std::env::temp_dir()))?;
    let root = scratch.path().join("package");
    std::fs::create_dir(&root).map_err(crate::fs::failed("creating", &root))?;
    let client = scratch.path().join("client");
    std::fs::create_dir(&client).map_err(crate::fs::failed("creating", &client))?;
    let keystore = client.join("sui.keystore");
    crate::fs::write_atomic(&keystore, b"[]", 0o600)?;
    let client_yaml = format!(
        "keystore:\n  File: {}\nenvs:\n  - alias: target\n    rpc: {}\n    ws: ~\n    basic_auth: ~\nactive_env: target\nactive_address: ~\n",
        serde_json::to_string(&keystore.display().to_string()).expect("JSON string"),
        serde_json::to_string(rpc).expect("JSON string"),
    );
    crate::fs::write_atomic(&client.join("client.yaml"), client_yaml.as_bytes(), 0o600)?;
    // `scratch` lives until the build is done.
    compile_in(sui, package, framework, &root, &client, chain)
}

/// `manifest` without its `[name]` section.
fn without_section(manifest: &str, name: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            skipping = trimmed == format!("[{name}]");
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The chain identifier Sui's `Move.toml` environments use: the first 4 bytes, in hex, of
/// the genesis checkpoint digest (what `GetServiceInfo` gives in base58).
pub fn chain_identifier(chain_id: &str) -> Option<String> {
    let digest: sui_sdk_types::Digest = chain_id.parse().ok()?;
    Some(digest.inner()[..4].iter().map(|b| format!("{b:02x}")).collect())
}

fn compile_in(
    sui: &Path,
    package: &Path,
    framework: Option<&Path>,
    scratch: &Path,
    client: &Path,
    chain: &str,
) -> Result<Compiled, PublishError> {
    copy_package(package, scratch)?;
    let manifest_path = scratch.join("Move.toml");
    let mut manifest = std::fs::read_to_string(&manifest_path).map_err(crate::fs::failed("reading", &manifest_path))?;
    if let Some(framework) = framework {
        manifest = offline_manifest(&manifest, framework);
    }
    if !manifest.contains("[environments]") {
        // A package with environments names no `[addresses]` (Sui's package manager derives
        // the package's own address; the published one is what the chain returns), and
        // calls the system packages by their new names (legacy names are refused).
        manifest = format!("{}\n[environments]\ntarget = \"{chain}\"\n", without_section(&manifest, "addresses"))
            .replace("\nSui = { local", "\nsui = { local")
            .replace("\nMoveStdlib = { local", "\nstd = { local");
    }
    crate::fs::write_atomic(&manifest_path, manifest.as_bytes(), 0o644)?;
    let mut command = Command::new(sui);
    command.args(["move", "build", "--dump-bytecode-as-base64", "--path"]).arg(scratch).env("SUI_CONFIG_DIR", client);
    if framework.is_some() && takes_build_env(sui) {
        // Offline: no environment lookup through the network (Sui 1.77's package manager;
        // earlier CLIs have no such flag and need none).
        command.args(["--build-env", "testnet"]);
    }
    let out = command.output().map_err(|e| PublishError::NoSui(format!("{}: {e}", sui.display())))?;
    if !out.status.success() {
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        return Err(PublishError::Build {
            status: out.status,
            output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    parse_dump(&String::from_utf8_lossy(&out.stdout))
}

/// Whether this Sui CLI's `move build` has `--build-env` (Sui's new package manager, 1.77).
pub fn takes_build_env(sui: &Path) -> bool {
    Command::new(sui)
        .args(["move", "build", "--help"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("--build-env"))
}

fn copy_package(from: &Path, to: &Path) -> Result<(), PublishError> {
    for entry in std::fs::read_dir(from).map_err(crate::fs::failed("reading", from))?.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "build" {
            continue;
        }
        let target = to.join(&name);
        if path.is_dir() {
            std::fs::create_dir_all(&target).map_err(crate::fs::failed("creating", &target))?;
            copy_package(&path, &target)?;
        } else {
            std::fs::copy(&path, &target).map_err(crate::fs::failed("copying to", &target))?;
        }
    }
    Ok(())
}

/// The `Publish` transaction: the package, and its `UpgradeCap` to `sender`.
pub fn publish_transaction(compiled: &Compiled, sender: Address) -> TransactionBuilder {
    let mut tx = TransactionBuilder::new();
    let cap = tx.publish(compiled.modules.clone(), compiled.dependencies.clone());
    let to = tx.pure(&sender);
    tx.transfer_objects(vec![cap], to);
    tx
}

/// The package id and the `UpgradeCap` id among a publish's created objects: the package is
/// the one immutable object, the cap the one owned by the sender.
pub fn published(created: &[(Address, Owner)], sender: Address) -> Option<(Address, Option<Address>)> {
    let package = created.iter().find(|(_, o)| matches!(o, Owner::Immutable)).map(|(id, _)| *id)?;
    let cap = created.iter().find(|(_, o)| *o == Owner::Address(sender)).map(|(id, _)| *id);
    Some((package, cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bytecode_dump() {
        let stdout = "INCLUDING DEPENDENCY Sui\nBUILDING kubectl_sui\n{\"modules\":[\"oRzrCwYAAAAK\",\"AQID\"],\"dependencies\":[\"0x0000000000000000000000000000000000000000000000000000000000000001\",\"0x0000000000000000000000000000000000000000000000000000000000000002\"],\"digest\":[1,2]}\n";
        let compiled = parse_dump(stdout).unwrap();
        assert_eq!(compiled.modules.len(), 2);
        assert_eq!(compiled.modules[1], vec![1, 2, 3]);
        assert_eq!(compiled.dependencies[1], Address::from_static("0x2"));
        assert!(parse_dump("error: nothing").is_err());
        assert!(parse_dump("{\"modules\":[],\"dependencies\":[]}").is_err(), "no modules is no package");
    }

    #[test]
    fn the_offline_manifest_names_the_local_framework() {
        let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/move/Move.toml")).unwrap();
        let offline = offline_manifest(&manifest, Path::new("/fw"));
        assert!(offline.contains("[package]\nimplicit-dependencies = false\n"), "{offline}");
        assert!(offline.contains("[dependencies]\nSui = { local = \"/fw/sui-framework\" }\nMoveStdlib = { local = \"/fw/move-stdlib\" }\n"), "{offline}");
        assert!(offline.contains("kubectl_sui = \"0x0\""), "the rest is kept: {offline}");
    }

    #[test]
    fn the_publish_transaction_keeps_the_upgrade_cap() {
        let compiled = Compiled { modules: vec![vec![1]], dependencies: vec![Address::from_static("0x2")] };
        let tx = publish_transaction(&compiled, Address::from_static("0xa"));
        let mut tx = tx;
        tx.set_sender(Address::from_static("0xa"));
        tx.set_gas_budget(1);
        tx.set_gas_price(1);
        tx.add_gas_objects([sui_transaction_builder::ObjectInput::owned(
            Address::from_static("0x9"),
            1,
            sui_sdk_types::Digest::ZERO,
        )]);
        let built = tx.try_build().unwrap();
        let sui_sdk_types::TransactionKind::ProgrammableTransaction(p) = built.kind else { panic!("a PTB") };
        assert!(matches!(p.commands[0], sui_sdk_types::Command::Publish(_)));
        assert!(matches!(p.commands[1], sui_sdk_types::Command::TransferObjects(_)));
        let me = Address::from_static("0xa");
        let created =
            vec![(Address::from_static("0xc"), Owner::Address(me)), (Address::from_static("0xb"), Owner::Immutable)];
        assert_eq!(published(&created, me), Some((Address::from_static("0xb"), Some(Address::from_static("0xc")))));
    }
}
