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
    /// Publish the Move package to a real Sui network with your key, and record its id (and
    /// UpgradeCap) for that network, so cluster create, login, the proxy and the node use it.
    Publish(PublishArgs),
}

/// `kubectl sui contract publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The network: localnet, testnet, mainnet, a configured name or a gRPC URL.
    #[arg(long)]
    network: String,
    /// The Sui CLI that compiles the package [default: $SUI_BIN, else `sui` on PATH].
    #[arg(long)]
    sui: Option<PathBuf>,
    /// The Move package [default: the one installed with this binary, else ./move].
    #[arg(long)]
    package_path: Option<PathBuf>,
    /// Compile offline against a local Sui framework: a directory holding `sui-framework`
    /// and `move-stdlib` (the Sui repository's crates/sui-framework/packages) [env: SUI_FRAMEWORK].
    #[arg(long, env = "SUI_FRAMEWORK")]
    framework: Option<PathBuf>,
    /// The faucet to fund your key from, when the network has one.
    #[arg(long)]
    faucet: Option<String>,
    /// Sign with a key from the Sui CLI keystore (this directory, else $SUI_CONFIG_DIR or
    /// ~/.sui/sui_config) instead of the plugin's identity: the UpgradeCap goes to that address.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "")]
    import_keystore: Option<PathBuf>,
    /// With --import-keystore: the address to use [default: the keystore's active address].
    #[arg(long, requires = "import_keystore")]
    address: Option<sui_sdk_types::Address>,
    /// Gas budget of the publish transaction, in MIST.
    #[arg(long, default_value_t = 1_000_000_000)]
    gas_budget: u64,
}

pub fn run(args: ContractArgs) -> Result<(), CliError> {
    match args.command {
        ContractCommand::Aborts { output } => aborts(output),
        ContractCommand::Verify { sources } => verify(sources),
        ContractCommand::Publish(args) => publish(args),
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

fn publish(args: PublishArgs) -> Result<(), CliError> {
    use crate::contract::publish;
    if args.network == "devnet" {
        return Err(CliError::Message(format!(
            "the embedded devnet runs the contract itself, at {}; publish to a real network (--network localnet, testnet, …)",
            crate::devnet::package_id()
        )));
    }
    let paths = crate::config::Paths::discover()?;
    let settings = crate::config::Settings::load(&paths)?;
    let package_dir = publish::find_package(args.package_path.as_deref())?;
    let sui = publish::find_sui(args.sui.as_deref())?;
    let mut endpoints = settings.endpoints(&args.network)?;
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    let chain = runtime.block_on(async {
        let mut client = super::chain_ops::connect(&endpoints, crate::devnet::package_id()).await?;
        Ok::<_, CliError>(client.chain_id().await?)
    })?;
    let chain = publish::chain_identifier(&chain)
        .ok_or_else(|| CliError::Message(format!("{} gave a chain id that is not a digest: {chain}", endpoints.rpc)))?;
    let bar = super::chain_ops::spinner(&format!("compiling {} with {}", package_dir.display(), sui.display()));
    let compiled = publish::compile(&sui, &package_dir, args.framework.as_deref(), &endpoints.rpc, &chain);
    bar.finish_and_clear();
    let compiled = compiled?;
    eprintln!("compiled {} modules from {}", compiled.modules.len(), package_dir.display());
    if args.faucet.is_some() {
        endpoints.faucet = args.faucet.clone();
    }
    let key = match &args.import_keystore {
        Some(dir) => {
            let dir = (!dir.as_os_str().is_empty()).then_some(dir.as_path());
            crate::credential::import_sui_keystore(dir, args.address)?
        }
        None => super::admin::admin_key(&paths, &settings)?,
    };
    let sender = key.public_key().derive_address();
    let (package, cap, digest) = runtime.block_on(async {
        // Any package id will do to connect: nothing of the contract is called yet.
        let mut client = super::chain_ops::connect(&endpoints, crate::devnet::package_id()).await?;
        super::chain_ops::fund(&mut client, &endpoints, sender, args.gas_budget).await?;
        let tx = publish::publish_transaction(&compiled, sender);
        let what = format!("publishing to {}", endpoints.rpc);
        let executed = super::chain_ops::execute_with_budget(&mut client, &key, tx, &what, args.gas_budget).await?;
        let (package, cap) = publish::published(&executed.created(), sender)
            .ok_or_else(|| publish::PublishError::NoPackageCreated(executed.digest.to_string()))?;
        Ok::<_, CliError>((package, cap, executed.digest))
    })?;
    crate::config::Settings::update(&paths, |s| {
        let entry = s.networks.entry(args.network.clone()).or_insert_with(|| endpoints.clone());
        entry.package = Some(package);
        entry.upgrade_cap = cap;
    })?;
    println!("Published kubectl_sui to {} as {package} (transaction {digest}).", args.network);
    if let Some(cap) = cap {
        println!("Its UpgradeCap {cap} is yours: keep the key that holds it.");
    }
    println!("Recorded for network {}. Next: kubectl sui cluster create --network {} NAME", args.network, args.network);
    Ok(())
}
