//! `access.move`: the rules of a role, and explicit rules from their parts.

use sui_sdk_types::ExecutionError;

use super::Call;
use crate::contract::Abort;
use crate::contract::objects::*;
use crate::contract::{Role, access};

pub(super) fn role_rules(c: &Call<'_>, role: u8) -> Result<Vec<Rule>, ExecutionError> {
    match Role::from_code(role) {
        Some(r) if r != Role::Custom => Ok(access::role_rules(r)),
        _ => Err(c.abort(Abort::EInvalidRole)),
    }
}

pub(super) fn rules_from_parts(c: &Call<'_>, first: usize) -> Result<Vec<Rule>, ExecutionError> {
    let verbs: Vec<u16> = c.pure(first)?;
    let groups: Vec<Vec<String>> = c.pure(first + 1)?;
    let resources: Vec<Vec<String>> = c.pure(first + 2)?;
    let namespaces: Vec<Vec<String>> = c.pure(first + 3)?;
    let urls: Vec<Vec<String>> = c.pure(first + 4)?;
    let n = verbs.len();
    c.ensure(
        groups.len() == n && resources.len() == n && namespaces.len() == n && urls.len() == n,
        Abort::EMalformedRules,
    )?;
    let rules: Vec<Rule> = verbs
        .into_iter()
        .zip(groups)
        .zip(resources)
        .zip(namespaces)
        .zip(urls)
        .map(|((((verbs, groups), resources), namespaces), non_resource_urls)| Rule {
            verbs,
            groups,
            resources,
            namespaces,
            non_resource_urls,
        })
        .collect();
    c.ensure(access::well_formed(&rules), Abort::EMalformedRules)?;
    Ok(rules)
}
