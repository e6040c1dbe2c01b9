//! The mirror check passes on the real sources and fails on every kind of drift.

use std::path::Path;

use kubectl_sui::contract::mirror::{self, Mismatch};

use crate::util::move_sources;

fn check_dir(dir: &Path) -> Vec<Mismatch> {
    mirror::check(&mirror::read_sources(dir).expect("sources readable")).expect("layouts trace")
}

/// Copies the sources to a temporary directory, replacing `from` by `to` in `file`.
fn mutated(file: &str, from: &str, to: &str) -> Vec<Mismatch> {
    let dir = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(move_sources()).expect("move/sources") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name").to_owned();
        let mut text = std::fs::read_to_string(&path).expect("readable");
        if name == file {
            assert!(text.contains(from), "{file} no longer contains {from:?}; update the test");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(dir.path().join(name), text).expect("writable");
    }
    check_dir(dir.path())
}

fn assert_reports(mismatches: &[Mismatch], needle: &str) {
    assert!(
        mismatches.iter().any(|m| m.0.contains(needle)),
        "expected a mismatch mentioning {needle:?}, got {mismatches:?}"
    );
}

#[test]
fn real_sources_match_the_mirror() {
    let modules = mirror::read_sources(&move_sources()).expect("sources");
    assert_eq!(modules.len(), 4, "{:?}", modules.keys());
    let mismatches = check_dir(&move_sources());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[test]
fn changed_abort_code_is_caught() {
    let m = mutated("seal_token.move", "EPermissionDenied: u64 = 24", "EPermissionDenied: u64 = 99");
    assert_reports(&m, "seal_token::EPermissionDenied = 99 is in Move");
    assert_reports(&m, "seal_token::EPermissionDenied = 24 is in the Rust abort table");
}

#[test]
fn changed_shared_constant_is_caught() {
    let m = mutated("cluster.move", "const MAX_AUDITORS: u64 = 8;", "const MAX_AUDITORS: u64 = 9;");
    assert_reports(&m, "cluster::MAX_AUDITORS is 9 in Move but 8 in Rust");
}

#[test]
fn new_abort_constant_is_caught() {
    let m = mutated("request.move", "const DIGEST_LENGTH", "const ENew: u64 = 60;\nconst DIGEST_LENGTH");
    assert_reports(&m, "request::ENew = 60");
}

#[test]
fn reordered_event_fields_are_caught() {
    let m = mutated(
        "request.move",
        "    index: u32,\n    data: vector<u8>,\n}\n\npublic struct ResponseStored",
        "    data: vector<u8>,\n    index: u32,\n}\n\npublic struct ResponseStored",
    );
    assert_reports(&m, "request::RequestChunk fields differ");
}

#[test]
fn changed_field_type_is_caught() {
    let m = mutated("request.move", "    status: u16,", "    status: u64,");
    assert_reports(&m, "request::ResponseStored fields differ");
}

#[test]
fn changed_object_layout_is_caught() {
    let m = mutated("seal_token.move", "    revoked: bool,\n}", "    revoked: bool,\n    note: String,\n}");
    assert_reports(&m, "seal_token::SealToken fields differ");
}

#[test]
fn unmirrored_struct_is_caught() {
    let m = mutated(
        "cluster.move",
        "public struct Cluster has key",
        "public struct Extra has copy, drop { x: u8 }\n\npublic struct Cluster has key",
    );
    assert_reports(&m, "cluster::Extra is declared in Move but has no Rust mirror");
}

#[test]
fn changed_parameter_list_is_caught() {
    let m = mutated(
        "request.move",
        "public fun upload(request: &mut Request, chunks: vector<vector<u8>>, ctx: &TxContext)",
        "public fun upload(request: &Request, chunks: vector<vector<u8>>, ctx: &TxContext)",
    );
    assert_reports(&m, "request::upload parameters differ");
}

#[test]
fn renamed_function_is_caught() {
    let m = mutated("seal_token.move", "public fun revoke(", "public fun revoke_token(");
    assert_reports(&m, "seal_token::revoke is called from Rust but is not a public Move function");
    assert_reports(&m, "public function seal_token::revoke_token is neither");
}

/// The preset roles' tables in `access.move`, as (verbs constant, group, resources) per
/// `preset(...)` call of the function `name`.
fn move_presets(name: &str) -> Vec<(String, String, Vec<String>)> {
    let source = std::fs::read_to_string(move_sources().join("access.move")).expect("access.move");
    let start = source.find(&format!("fun {name}()")).unwrap_or_else(|| panic!("access.move has no {name}"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of function")];
    let call = regex::Regex::new(r#"preset\((\w+),\s*b"([^"]*)",\s*vector\[([^\]]*)\]"#).unwrap();
    let literal = regex::Regex::new(r#"b"([^"]*)""#).unwrap();
    call.captures_iter(body)
        .map(|c| (c[1].to_string(), c[2].to_string(), literal.captures_iter(&c[3]).map(|l| l[1].to_string()).collect()))
        .collect()
}

#[test]
fn preset_roles_are_the_same_tables_in_move_and_rust() {
    use kubectl_sui::contract::access::{EDIT, VIEW};
    let verbs = |name: &str| match name {
        "READ_VERBS" => 0x07u16,
        "ALL_VERBS" => 0xFF,
        "CREATE_VERB" => 0x08,
        other => panic!("unknown verb constant {other}"),
    };
    let view: Vec<_> =
        VIEW.iter().map(|(g, r)| (0x07, g.to_string(), r.iter().map(|s| s.to_string()).collect())).collect();
    let edit: Vec<_> =
        EDIT.iter().map(|(v, g, r)| (*v, g.to_string(), r.iter().map(|s| s.to_string()).collect())).collect();
    let in_move = |name| move_presets(name).into_iter().map(|(v, g, r)| (verbs(&v), g, r)).collect::<Vec<_>>();
    assert_eq!(in_move("view_rules"), view);
    assert_eq!(in_move("edit_rules"), edit);
    assert!(!view.is_empty() && !edit.is_empty());
}
