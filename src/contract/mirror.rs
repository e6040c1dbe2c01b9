//! The check that keeps this mirror and `move/sources` identical.
//!
//! It reads the Move sources, extracts every struct's fields, every public function's
//! parameters and every abort constant, and compares them with the Rust side: struct
//! layouts traced from the serde types (so field order is the real BCS order), the call
//! signatures in [`super::calls`] and the table in [`super::aborts`]. CI has no Sui
//! toolchain; this check is what keeps the two honest between reviews.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde_reflection::{ContainerFormat, Format, Tracer, TracerConfig};

use super::aborts::ABORT_CODES;
use super::calls::{ACCESSORS, FUNCTIONS};
use super::error::ContractError;
use super::objects::MoveType;
use super::{events, objects};

/// What one Move module declares, as far as the mirror cares.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MoveModule {
    /// Struct name to its fields (name, normalised type), in declaration order.
    pub structs: BTreeMap<String, Vec<(String, String)>>,
    /// Public function name to its parameter types, normalised.
    pub functions: BTreeMap<String, Vec<String>>,
    /// Abort constant name to code.
    pub aborts: BTreeMap<String, u64>,
    /// The `VERSION` constant, where the module declares one.
    pub version: Option<u64>,
    /// Every other `u64` constant (not an abort) by name: the bounds Rust code must share.
    pub constants: BTreeMap<String, u64>,
}

/// One difference between the Move sources and the Rust mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch(pub String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

static MODULE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"module\s+\w+::(\w+)\s*;").expect("regex"));
static STRUCT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"public\s+struct\s+(\w+)(?:<[^>]*>)?\s+has\s+[^{]*\{([^}]*)\}").expect("regex"));
static FUNCTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"public\s+fun\s+(\w+)(?:<[^>]*>)?\s*\(([^)]*)\)").expect("regex"));
static ABORT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"const\s+(E\w+)\s*:\s*u64\s*=\s*(\d+)\s*;").expect("regex"));
static VERSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"const\s+VERSION\s*:\s*u64\s*=\s*(\d+)\s*;").expect("regex"));
static CONSTANT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"const\s+([A-Z][A-Z0-9_]*)\s*:\s*u64\s*=\s*([\d_]+)\s*;").expect("regex"));
static TEST_ONLY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"#\[test_only\]\s*public\s+fun\s+(\w+)").expect("regex"));
static PATH: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\w+::").expect("regex"));
static COMMENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"//[^\n]*").expect("regex"));

/// Parses one Move source file; `None` if it declares no module.
pub fn parse_module(source: &str) -> Option<(String, MoveModule)> {
    let source = COMMENT.replace_all(source, "");
    let name = MODULE.captures(&source)?[1].to_string();
    let mut module = MoveModule::default();
    for c in STRUCT.captures_iter(&source) {
        let fields = split_top_level(&c[2])
            .into_iter()
            .filter_map(|f| f.split_once(':').map(|(n, t)| (n.trim().to_string(), field_type(t))))
            .collect();
        module.structs.insert(c[1].to_string(), fields);
    }
    for c in FUNCTION.captures_iter(&source) {
        let params =
            split_top_level(&c[2]).into_iter().filter_map(|p| p.split_once(':').map(|(_, t)| normalise(t))).collect();
        module.functions.insert(c[1].to_string(), params);
    }
    for c in ABORT.captures_iter(&source) {
        module.aborts.insert(c[1].to_string(), c[2].parse().expect("digits"));
    }
    // Test-only functions are not published: no client can call them.
    for c in TEST_ONLY.captures_iter(&source) {
        module.functions.remove(&c[1]);
    }
    module.version = VERSION.captures(&source).map(|c| c[1].parse().expect("digits"));
    for c in CONSTANT.captures_iter(&source) {
        module.constants.insert(c[1].to_string(), c[2].replace('_', "").parse().expect("digits"));
    }
    Some((name, module))
}

/// Reads every `.move` file of `dir`.
pub fn read_sources(dir: &Path) -> Result<BTreeMap<String, MoveModule>, ContractError> {
    let read_err = |source| ContractError::ReadSource { path: dir.to_path_buf(), source };
    let mut modules = BTreeMap::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "move"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ContractError::ReadSource { path: path.clone(), source })?;
        if let Some((name, module)) = parse_module(&text) {
            modules.insert(name, module);
        }
    }
    Ok(modules)
}

/// Every difference between `modules` and the Rust mirror; empty when they agree.
pub fn check(modules: &BTreeMap<String, MoveModule>) -> Result<Vec<Mismatch>, ContractError> {
    let mut out = Vec::new();
    let mut say = |s: String| out.push(Mismatch(s));

    let rust_structs = rust_layouts()?;
    for ((module, name), fields) in &rust_structs {
        match modules.get(*module).and_then(|m| m.structs.get(*name)) {
            None => say(format!("{module}::{name} is mirrored in Rust but not declared in Move")),
            Some(move_fields) if move_fields != fields => {
                say(format!("{module}::{name} fields differ: Move has {move_fields:?}, Rust has {fields:?}"))
            }
            Some(_) => {}
        }
    }
    for (module, m) in modules {
        for name in m.structs.keys() {
            if !rust_structs.contains_key(&(module.as_str(), name.as_str())) {
                say(format!("{module}::{name} is declared in Move but has no Rust mirror"));
            }
        }
    }

    for (module, name, value) in super::MIRRORED_CONSTANTS {
        match modules.get(*module).map(|m| m.constants.get(*name)) {
            Some(Some(v)) if v == value => {}
            Some(Some(v)) => say(format!("{module}::{name} is {v} in Move but {value} in Rust")),
            Some(None) => say(format!("{module}::{name} is mirrored in Rust but not declared in Move")),
            None => {}
        }
    }

    match modules.get("cluster").and_then(|m| m.version) {
        Some(v) if v == super::CONTRACT_VERSION => {}
        Some(v) => say(format!(
            "cluster::VERSION is {v} in Move but {} in Rust (contract::CONTRACT_VERSION)",
            super::CONTRACT_VERSION
        )),
        None if modules.contains_key("cluster") => say("cluster declares no VERSION constant".to_string()),
        None => {}
    }

    for f in FUNCTIONS {
        let params: Vec<String> = f.params.iter().map(|p| normalise(p)).collect();
        match modules.get(f.module).and_then(|m| m.functions.get(f.name)) {
            None => say(format!("{}::{} is called from Rust but is not a public Move function", f.module, f.name)),
            Some(move_params) if move_params != &params => say(format!(
                "{}::{} parameters differ: Move has {move_params:?}, Rust has {params:?}",
                f.module, f.name
            )),
            Some(_) => {}
        }
    }
    let known: BTreeSet<(&str, &str)> =
        FUNCTIONS.iter().map(|f| (f.module, f.name)).chain(ACCESSORS.iter().copied()).collect();
    for (module, m) in modules {
        for name in m.functions.keys() {
            if !known.contains(&(module.as_str(), name.as_str())) {
                say(format!("public function {module}::{name} is neither a mirrored call nor a listed accessor"));
            }
        }
    }

    let move_aborts: BTreeSet<(&str, &str, u64)> = modules
        .iter()
        .flat_map(|(module, m)| m.aborts.iter().map(move |(n, c)| (module.as_str(), n.as_str(), *c)))
        .collect();
    let rust_aborts: BTreeSet<(&str, &str, u64)> = ABORT_CODES.iter().map(|a| (a.module, a.name, a.code)).collect();
    for (module, name, code) in move_aborts.difference(&rust_aborts) {
        say(format!("abort {module}::{name} = {code} is in Move but not in the Rust abort table"));
    }
    for (module, name, code) in rust_aborts.difference(&move_aborts) {
        say(format!("abort {module}::{name} = {code} is in the Rust abort table but not in Move"));
    }
    Ok(out)
}

type Layouts = BTreeMap<(&'static str, &'static str), Vec<(String, String)>>;

/// The BCS layout of every mirrored type, traced from its serde implementation.
fn rust_layouts() -> Result<Layouts, ContractError> {
    let mut tracer = Tracer::new(TracerConfig::default());
    let mut layouts = Layouts::new();
    macro_rules! trace {
        ($($ty:ty),+ $(,)?) => {$({
            tracer.trace_simple_type::<$ty>().map_err(|e| ContractError::Trace {
                type_name: stringify!($ty),
                message: e.to_string(),
            })?;
            layouts.insert((<$ty as MoveType>::MODULE, <$ty as MoveType>::NAME), Vec::new());
        })+};
    }
    trace!(
        objects::Rule,
        objects::Policy,
        objects::Measurement,
        objects::Pcr,
        objects::NodeInfo,
        objects::Cluster,
        objects::ClusterAdminCap,
        objects::SealToken,
        objects::Request,
        events::ClusterMigrated,
        events::ClusterCreated,
        events::PolicyChanged,
        events::NodeRegistered,
        events::NodeAttested,
        events::EnclaveAccepted,
        events::EnclaveWithdrawn,
        events::AttestationNonceChanged,
        events::AuditorsChanged,
        events::NodeRemoved,
        events::SealingKeyRotated,
        events::ProtectedNamespacesChanged,
        events::TokenIssued,
        events::TokenRenewed,
        events::StakeAdded,
        events::TokenPermissionsChanged,
        events::TokenRevoked,
        events::TokenSlashed,
        events::TokenUnstaked,
        events::RequestSubmitted,
        events::RequestChunk,
        events::ResponseStored,
        events::ResponseChunk,
        events::RequestStarted,
        events::StreamOpened,
        events::StreamFrame,
        events::StreamEnded,
        events::SessionInput,
        events::RequestCancelled,
    );
    let registry =
        tracer.registry().map_err(|e| ContractError::Trace { type_name: "registry", message: e.to_string() })?;
    for ((_, name), fields) in layouts.iter_mut() {
        if let Some(ContainerFormat::Struct(named)) = registry.get(*name) {
            *fields = named.iter().map(|f| (f.name.clone(), move_type_of(&f.value))).collect();
        }
    }
    Ok(layouts)
}

/// The Move spelling of a traced serde format.
fn move_type_of(format: &Format) -> String {
    match format {
        Format::U8 => "u8".into(),
        Format::U16 => "u16".into(),
        Format::U32 => "u32".into(),
        Format::U64 => "u64".into(),
        Format::U128 => "u128".into(),
        Format::Bool => "bool".into(),
        Format::Str => "String".into(),
        Format::Bytes => "vector<u8>".into(),
        Format::Seq(inner) => format!("vector<{}>", move_type_of(inner)),
        Format::Option(inner) => format!("Option<{}>", move_type_of(inner)),
        Format::TypeName(name) if name == "Address" => "address".into(),
        Format::TypeName(name) => name.clone(),
        other => format!("{other:?}"),
    }
}

/// A parameter type without module paths and with canonical spacing.
fn normalise(ty: &str) -> String {
    let ty = PATH.replace_all(ty.trim(), "");
    let ty: String = ty.split_whitespace().collect::<Vec<_>>().join(" ");
    ty.replace(", ", ",").replace(" >", ">").replace("< ", "<")
}

/// A field type as BCS sees it: object ids are addresses, and a framework struct's type
/// arguments do not change its layout's name.
fn field_type(ty: &str) -> String {
    let ty = normalise(ty);
    match ty.as_str() {
        "ID" | "UID" => "address".into(),
        t if t.starts_with("vector<") || t.starts_with("Option<") => t.into(),
        t => t.split('<').next().unwrap_or(t).into(),
    }
}

fn split_top_level(list: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut depth = 0i32;
    for ch in list.chars() {
        match ch {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        parts.last_mut().expect("non-empty").push(ch);
    }
    parts.into_iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_structs_functions_and_aborts() {
        let src = r#"
            module pkg::m;
            use sui::vec_map::VecMap;
            /// Doc, with a comma.
            const EOops: u64 = 7;
            public struct Thing has key { id: UID, map: VecMap<address, u64>, v: vector<vector<u8>> }
            public fun go(t: &mut Thing, mut n: u64, s: std::string::String, ctx: &mut TxContext) { }
            fun private(x: u64) {}
        "#;
        let (name, m) = parse_module(src).expect("module");
        assert_eq!(name, "m");
        assert_eq!(m.aborts["EOops"], 7);
        assert_eq!(
            m.structs["Thing"],
            vec![
                ("id".to_string(), "address".to_string()),
                ("map".to_string(), "VecMap".to_string()),
                ("v".to_string(), "vector<vector<u8>>".to_string()),
            ]
        );
        assert_eq!(m.functions["go"], vec!["&mut Thing", "u64", "String", "&mut TxContext"]);
        assert!(!m.functions.contains_key("private"));
    }

    #[test]
    fn traced_layouts_follow_declaration_order() {
        let layouts = rust_layouts().expect("trace");
        let names: Vec<&str> = layouts[&("request", "RequestChunk")].iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["request_id", "index", "data"]);
        assert_eq!(layouts[&("seal_token", "SealToken")][3], ("stake".to_string(), "Balance".to_string()));
        assert_eq!(layouts[&("access", "Rule")][1], ("groups".to_string(), "vector<String>".to_string()));
    }
}
