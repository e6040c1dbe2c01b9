//! The contract's scenario table (`tests/scenarios/contract.yaml`: data, not code) and its
//! runner, which plays every step through the ordinary chain client against any endpoint and
//! package id: the devnet here, a real Sui network in `real_sui.rs`. A step is one contract
//! call by one actor with its arguments written as plain values (encoded from the Move
//! parameter types of `contract::calls::FUNCTIONS`), and its expected outcome: success with
//! the events it emits in order and the objects it creates or deletes, or the abort constant.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kubectl_sui::chain::{ChainClient, ChainError, Executed};
use kubectl_sui::contract::calls::{CallArg, FUNCTIONS, MoveFunction};
use kubectl_sui::contract::{ABORT_CODES, Contract, ObjectArg};
use serde::Deserialize;
use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::{Address, IdOperation};
use sui_transaction_builder::TransactionBuilder;

use crate::fixtures::{address, new_key};

/// The table.
#[derive(Debug, Deserialize)]
pub struct Table {
    /// Calls or abort constants the table does not reach, with why.
    #[serde(default)]
    pub uncovered: BTreeMap<String, String>,
    /// The scenarios, each from fresh actors.
    pub scenarios: Vec<Scenario>,
}

/// Steps played in order by fresh actors (`admin`, `user`, `node`, `stranger`).
#[derive(Debug, Deserialize)]
pub struct Scenario {
    /// What it shows.
    pub name: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

/// One call and what must come of it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The actor signing it.
    #[serde(rename = "as")]
    pub actor: String,
    /// `module::function`.
    pub call: String,
    /// One value per Move parameter (`&TxContext` excluded).
    #[serde(default)]
    pub args: Vec<serde_yaml::Value>,
    /// `ok`, or the abort constant's name.
    pub expect: String,
    /// Events emitted, by name, in order (checked when given).
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// Objects created, bound by name to their Move type's name.
    #[serde(default)]
    pub creates: BTreeMap<String, String>,
    /// Named objects the call deletes.
    #[serde(default)]
    pub deletes: Vec<String>,
    /// Chain time to let pass first (e.g. for an expiry).
    #[serde(default)]
    pub wait_ms: u64,
    /// Where the embedded devnet cannot follow Sui: what it does instead, and why.
    #[serde(default)]
    pub devnet_differs: Option<String>,
}

/// The table in the repository.
pub fn table() -> Table {
    let path = crate::util::repo_root().join("tests/scenarios/contract.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Where to play: a client of the chain, the package id there, and a way to fund a new actor.
pub struct Network<'a> {
    /// A client of the chain (cloned for each scenario).
    pub client: ChainClient,
    /// The kubectl_sui package id.
    pub package: Address,
    /// Funds an address with SUI.
    pub fund: &'a (dyn Fn(Address) -> futures::future::BoxFuture<'static, ()> + Sync),
    /// Whether this is the embedded devnet (steps it cannot follow are then skipped).
    pub devnet: bool,
}

const ACTORS: [&str; 4] = ["admin", "user", "node", "stranger"];

struct Actor {
    key: Ed25519PrivateKey,
    sealing_key: [u8; 32],
}

/// Plays the table; returns one line per step that did not go as the table says.
pub async fn play(table: &Table, network: &Network<'_>) -> Vec<String> {
    let mut failures = Vec::new();
    for scenario in &table.scenarios {
        failures.extend(play_scenario(scenario, network).await);
    }
    failures
}

async fn play_scenario(scenario: &Scenario, network: &Network<'_>) -> Vec<String> {
    let mut client = network.client.clone();
    let mut actors = BTreeMap::new();
    for name in ACTORS {
        let key = new_key();
        (network.fund)(address(&key)).await;
        let sealing_key = rand_bytes();
        actors.insert(name, Actor { key, sealing_key });
    }
    for name in ACTORS {
        let owner = address(&actors[name].key);
        let mut waited = 0;
        while client.gas_coins(owner).await.map(|c| c.is_empty()).unwrap_or(true) {
            assert!(waited < 100, "{name} was never funded");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
    }
    let mut objects: BTreeMap<String, Address> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, step) in scenario.steps.iter().enumerate() {
        let at = format!("{} / step {} ({} by {})", scenario.name, i + 1, step.call, step.actor);
        if network.devnet && step.devnet_differs.is_some() {
            eprintln!("SKIPPED on the devnet: {at}: {}", step.devnet_differs.as_deref().unwrap_or_default());
            continue;
        }
        if step.wait_ms > 0 {
            tokio::time::sleep(Duration::from_millis(step.wait_ms)).await;
        }
        match play_step(&mut client, network.package, &actors, &mut objects, step).await {
            Ok(()) => {}
            Err(e) => failures.push(format!("{at}: {e}")),
        }
    }
    failures
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

async fn play_step(
    client: &mut ChainClient,
    package: Address,
    actors: &BTreeMap<&str, Actor>,
    objects: &mut BTreeMap<String, Address>,
    step: &Step,
) -> Result<(), String> {
    let (module, name) = step.call.split_once("::").ok_or("call is not module::function")?;
    let function = FUNCTIONS
        .iter()
        .find(|f| f.module == module && f.name == name)
        .ok_or_else(|| format!("no function {}", step.call))?;
    let actor = actors.get(step.actor.as_str()).ok_or_else(|| format!("no actor {}", step.actor))?;
    let mut tx = TransactionBuilder::new();
    let args = arguments(client, &mut tx, function, &step.args, actors, objects).await?;
    Contract::new(package).call(&mut tx, function, args).map_err(|e| e.to_string())?;
    let gas = client.gas_coins(address(&actor.key)).await.map_err(|e| e.to_string())?.remove(0);
    // Settled: the next step reads what this one wrote, and a real full node indexes late.
    let outcome = client.execute_settled(tx, &actor.key, gas, kubectl_sui::chain::DEFAULT_GAS_BUDGET).await;
    match (step.expect.as_str(), outcome) {
        ("ok", Ok(executed)) => check_effects(client, step, &executed, objects).await,
        ("ok", Err(e)) => Err(format!("expected success, got {e}")),
        (abort, Ok(_)) => Err(format!("expected abort {abort}, it succeeded")),
        (abort, Err(ChainError::Abort { module: m, code, abort: found, .. })) => {
            let (want_module, want_name) = abort.split_once("::").unwrap_or(("", abort));
            let name = found.map(|a| a.name).unwrap_or("?");
            if name == want_name && (want_module.is_empty() || want_module == m) {
                Ok(())
            } else {
                Err(format!("expected abort {abort}, got {m}::{name} ({code})"))
            }
        }
        (abort, Err(e)) => Err(format!("expected abort {abort}, got {e}")),
    }
}

async fn check_effects(
    client: &mut ChainClient,
    step: &Step,
    executed: &Executed,
    objects: &mut BTreeMap<String, Address>,
) -> Result<(), String> {
    if let Some(expected) = &step.events {
        let emitted: Vec<String> = executed.events.iter().map(|e| e.type_.name().as_str().to_string()).collect();
        if &emitted != expected {
            return Err(format!("events {emitted:?}, expected {expected:?}"));
        }
    }
    let mut created_types = Vec::new();
    for (id, _) in executed.created() {
        let object = client.object(id).await.map_err(|e| e.to_string())?;
        let type_name = object.as_struct().map(|s| s.object_type().name().as_str().to_string()).unwrap_or_default();
        created_types.push((type_name, id));
    }
    for (name, type_name) in &step.creates {
        let found: Vec<Address> = created_types.iter().filter(|(t, _)| t == type_name).map(|(_, id)| *id).collect();
        match found.as_slice() {
            [id] => {
                objects.insert(name.clone(), *id);
            }
            other => return Err(format!("expected one {type_name} created, found {}", other.len())),
        }
    }
    let deleted: BTreeSet<Address> = match &executed.effects {
        sui_sdk_types::TransactionEffects::V2(e) => e
            .changed_objects
            .iter()
            .filter(|c| matches!(c.id_operation, IdOperation::Deleted))
            .map(|c| c.object_id)
            .collect(),
        _ => BTreeSet::new(),
    };
    for name in &step.deletes {
        let id = objects.get(name).ok_or_else(|| format!("no object {name}"))?;
        if !deleted.contains(id) {
            return Err(format!("{name} was not deleted"));
        }
    }
    Ok(())
}

/// Encodes each YAML value as the Move parameter it stands for.
async fn arguments(
    client: &mut ChainClient,
    tx: &mut TransactionBuilder,
    function: &MoveFunction,
    values: &[serde_yaml::Value],
    actors: &BTreeMap<&str, Actor>,
    objects: &BTreeMap<String, Address>,
) -> Result<Vec<CallArg>, String> {
    let params: Vec<&str> = function.params.iter().copied().filter(|p| !p.contains("TxContext")).collect();
    if params.len() != values.len() {
        return Err(format!("{} takes {} arguments, the table gives {}", function.name, params.len(), values.len()));
    }
    let mut args = Vec::new();
    for (param, value) in params.iter().zip(values) {
        let pure = |bytes: Vec<u8>| Ok::<_, String>(CallArg::Pure(bytes));
        let text =
            || value.as_str().map(str::to_string).ok_or_else(|| format!("{param}: expected text, got {value:?}"));
        let number = || value.as_u64().ok_or_else(|| format!("{param}: expected a number, got {value:?}"));
        let arg = match *param {
            "&Clock" => CallArg::Object(ObjectArg::Clock),
            "Coin<SUI>" => {
                let amount = tx.pure(&number()?);
                let gas = tx.gas();
                CallArg::Result(tx.split_coins(gas, vec![amount]).remove(0))
            }
            "String" => pure(bcs::to_bytes(&text()?).unwrap())?,
            "bool" => pure(bcs::to_bytes(&value.as_bool().ok_or(format!("{param}: expected a bool"))?).unwrap())?,
            "u8" => pure(bcs::to_bytes(&(number()? as u8)).unwrap())?,
            "u16" => pure(bcs::to_bytes(&(number()? as u16)).unwrap())?,
            "u32" => pure(bcs::to_bytes(&(number()? as u32)).unwrap())?,
            "u64" => pure(bcs::to_bytes(&number()?).unwrap())?,
            "address" => pure(bcs::to_bytes(&address_of(&text()?, actors, objects)?).unwrap())?,
            "vector<u8>" => pure(bcs::to_bytes(&bytes_of(&text()?, actors)?).unwrap())?,
            "vector<vector<u8>>" => {
                let items = value.as_sequence().ok_or(format!("{param}: expected a list"))?;
                let chunks = items
                    .iter()
                    .map(|v| bytes_of(v.as_str().unwrap_or_default(), actors))
                    .collect::<Result<Vec<_>, _>>()?;
                CallArg::Chunks(chunks)
            }
            "vector<String>" | "vector<u16>" | "vector<vector<String>>" => {
                let encoded = match *param {
                    "vector<String>" => {
                        bcs::to_bytes(&serde_yaml::from_value::<Vec<String>>(value.clone()).map_err(|e| e.to_string())?)
                    }
                    "vector<u16>" => {
                        bcs::to_bytes(&serde_yaml::from_value::<Vec<u16>>(value.clone()).map_err(|e| e.to_string())?)
                    }
                    _ => bcs::to_bytes(
                        &serde_yaml::from_value::<Vec<Vec<String>>>(value.clone()).map_err(|e| e.to_string())?,
                    ),
                };
                pure(encoded.unwrap())?
            }
            object => {
                // An object parameter: the value names an object bound by an earlier step.
                let name = text()?;
                let id = objects.get(&name).ok_or_else(|| format!("{object}: no object named {name}"))?;
                CallArg::Object(client.object_arg(*id).await.map_err(|e| e.to_string())?)
            }
        };
        args.push(arg);
    }
    Ok(args)
}

/// `admin`… (an actor's address), an object's name, or a hex address.
fn address_of(
    text: &str,
    actors: &BTreeMap<&str, Actor>,
    objects: &BTreeMap<String, Address>,
) -> Result<Address, String> {
    if let Some(actor) = actors.get(text) {
        return Ok(address(&actor.key));
    }
    if let Some(id) = objects.get(text) {
        return Ok(*id);
    }
    text.parse().map_err(|_| format!("{text} is neither an actor, an object nor an address"))
}

/// `signing_key:<actor>`, `sealing_key:<actor>`, `bytes:<n>` (n bytes of 0x07), `hex:<hex>`.
fn bytes_of(text: &str, actors: &BTreeMap<&str, Actor>) -> Result<Vec<u8>, String> {
    let (kind, rest) = text.split_once(':').ok_or_else(|| format!("{text}: expected kind:value"))?;
    let actor = || actors.get(rest).ok_or_else(|| format!("no actor {rest}"));
    match kind {
        "signing_key" => Ok(actor()?.key.public_key().inner().to_vec()),
        "sealing_key" => Ok(actor()?.sealing_key.to_vec()),
        "bytes" => Ok(vec![7; rest.parse::<usize>().map_err(|e| e.to_string())?]),
        "hex" => (0..rest.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(rest.get(i..i + 2).unwrap_or("x"), 16).map_err(|e| e.to_string()))
            .collect(),
        _ => Err(format!("{text}: unknown kind {kind}")),
    }
}

#[test]
fn the_table_covers_every_call_and_every_abort() {
    let table = table();
    let called: BTreeSet<String> = table.scenarios.iter().flat_map(|s| &s.steps).map(|s| s.call.clone()).collect();
    let aborted: BTreeSet<String> = table
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .map(|s| s.expect.rsplit("::").next().unwrap_or_default().to_string())
        .collect();
    let mut missing = Vec::new();
    for f in FUNCTIONS {
        let call = format!("{}::{}", f.module, f.name);
        if !called.contains(&call) && !table.uncovered.contains_key(&call) {
            missing.push(call);
        }
    }
    for a in ABORT_CODES {
        if !aborted.contains(a.name) && !table.uncovered.contains_key(a.name) {
            missing.push(a.name.to_string());
        }
    }
    assert!(missing.is_empty(), "the scenario table never reaches: {missing:?}");
    for (what, why) in &table.uncovered {
        assert!(!why.trim().is_empty(), "{what} is listed as uncovered without a reason");
    }
}

/// The devnet's natives, check by check and abort by abort: the table played on the devnet in
/// this process, without sockets (the same services `kubectl sui devnet` serves).
#[tokio::test(flavor = "multi_thread")]
async fn the_scenario_table_passes_on_the_devnet() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = std::sync::Arc::new(
        kubectl_sui::devnet::InProcess::open(dir.path(), Duration::from_millis(20)).await.expect("the devnet opens"),
    );
    let client = devnet.client();
    let fund = move |owner: Address| -> futures::future::BoxFuture<'static, ()> {
        let devnet = devnet.clone();
        Box::pin(async move {
            devnet.fund(owner).await.expect("faucet");
        })
    };
    let network = Network { client, package: kubectl_sui::devnet::package_id(), fund: &fund, devnet: true };
    let failures = play(&table(), &network).await;
    assert!(
        failures.is_empty(),
        "{} steps went otherwise than the table says:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
