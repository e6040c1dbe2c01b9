//! The contract's public functions, executed natively, one file per Move module of
//! `move/sources`,, exactly as `docs/contract.md` specifies
//! them: the same checks in the same order, the same abort codes, events and object changes.
//!
//! Arguments arrive as execution values and are checked against the function's Move signature
//! from the mirror (`contract::calls`): object types, and `&mut`/by-value objects passed
//! mutably. The Move unit tests and this module's tests cover the same table.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sui_sdk_types::{Address, CommandArgumentError, ExecutionError, Identifier, MoveLocation, Owner, StructTag};

use super::session::{ClockContents, Document, Session, Value};
use crate::contract::Abort;
use crate::contract::calls::{FUNCTIONS, MoveFunction};
use crate::contract::objects::{Cluster, MoveType};

use crate::contract::CONTRACT_VERSION;

const KEY_LENGTH: usize = 32;
const DIGEST_LENGTH: usize = 32;
const MAX_FIELD_LENGTH: usize = 253;
const MAX_CHUNKS: u32 = 4096;

mod access;
mod cluster;
pub mod nitro;
mod request;
mod seal_token;

type Outcome = Result<Vec<Value>, ExecutionError>;

/// Runs `module::function` with `args`.
pub fn call(session: &mut Session, module: &str, function: &str, args: Vec<Value>) -> Outcome {
    let spec = FUNCTIONS
        .iter()
        .enumerate()
        .find(|(_, f)| f.module == module && f.name == function)
        .ok_or(ExecutionError::FunctionNotFound)?;
    if args.len() != spec.1.arity() {
        return Err(ExecutionError::ArityMismatch);
    }
    let mut c = Call { session, spec: spec.1, index: spec.0 as u16, args };
    match (module, function) {
        ("cluster", "create_cluster") => cluster::create_cluster(&mut c),
        ("cluster", "set_policy") => cluster::set_policy(&mut c),
        ("cluster", "set_protected_namespaces") => cluster::set_protected_namespaces(&mut c),
        ("cluster", "set_attestation_nonce_required") => cluster::set_attestation_nonce_required(&mut c),
        ("cluster", "set_auditors") => cluster::set_auditors(&mut c),
        ("cluster", "register_debug_node") => cluster::register_debug_node(&mut c),
        ("cluster", "remove_node") => cluster::remove_node(&mut c),
        ("cluster", "add_enclave") => cluster::add_enclave(&mut c),
        ("cluster", "remove_enclave") => cluster::remove_enclave(&mut c),
        ("cluster", "register_attested_node") => cluster::register_attested_node(&mut c),
        ("cluster", "rotate_sealing_key") => cluster::rotate_sealing_key(&mut c),
        ("cluster", "migrate") => cluster::migrate(&mut c),
        ("seal_token", "stake") => seal_token::stake(&mut c),
        ("seal_token", "stake_with_rules") => seal_token::stake_with_rules(&mut c),
        ("seal_token", "add_stake") => seal_token::add_stake(&mut c),
        ("seal_token", "renew") => seal_token::renew(&mut c),
        ("seal_token", "grant_role") => seal_token::grant_role(&mut c),
        ("seal_token", "grant_rules") => seal_token::grant_rules(&mut c),
        ("seal_token", "revoke") => seal_token::revoke(&mut c),
        ("seal_token", "slash") => seal_token::slash(&mut c),
        ("seal_token", "unstake") => seal_token::unstake(&mut c),
        ("request", "submit") => request::submit(&mut c),
        ("request", "upload") => request::upload(&mut c),
        ("request", "start") => request::start(&mut c),
        ("request", "respond") => request::respond(&mut c),
        ("request", "respond_more") => request::respond_more(&mut c),
        ("request", "close") => request::close(&mut c),
        ("request", "cancel") => request::cancel(&mut c),
        ("request", "open_stream") => request::open_stream(&mut c),
        ("request", "stream") => request::stream(&mut c),
        ("request", "end_stream") => request::end_stream(&mut c),
        ("request", "hang_up") => request::hang_up(&mut c),
        ("request", "send_input") => request::send_input(&mut c),
        _ => Err(ExecutionError::FunctionNotFound),
    }?;
    Ok(vec![])
}

/// One call in progress.
struct Call<'s> {
    session: &'s mut Session,
    spec: &'static MoveFunction,
    index: u16,
    args: Vec<Value>,
}

fn arg_error(argument: usize, kind: CommandArgumentError) -> ExecutionError {
    ExecutionError::CommandArgumentError { argument: argument as u16, kind }
}

impl Call<'_> {
    fn sender(&self) -> Address {
        self.session.sender
    }

    fn now(&self) -> u64 {
        self.session.now_ms
    }

    /// An abort of `module` by the constant `name`, with the package's code for it.
    fn abort(&self, abort: Abort) -> ExecutionError {
        let a = abort.info();
        ExecutionError::MoveAbort {
            location: MoveLocation {
                package: self.session.package,
                module: Identifier::new(a.module).expect("module name"),
                function: self.index,
                instruction: 0,
                function_name: Some(Identifier::new(self.spec.name).expect("function name")),
            },
            code: a.code,
        }
    }

    fn ensure(&self, ok: bool, abort: Abort) -> Result<(), ExecutionError> {
        if ok { Ok(()) } else { Err(self.abort(abort)) }
    }

    /// `a + b` as Move computes it: an overflow aborts the call (an arithmetic error), never
    /// wraps.
    fn add(&self, a: u64, b: u64) -> Result<u64, ExecutionError> {
        a.checked_add(b).ok_or_else(|| ExecutionError::MovePrimitiveRuntimeError {
            location: Some(MoveLocation {
                package: self.session.package,
                module: Identifier::new(self.spec.module).expect("module name"),
                function: self.index,
                instruction: 0,
                function_name: Some(Identifier::new(self.spec.name).expect("function name")),
            }),
        })
    }

    fn pure<T: DeserializeOwned>(&self, i: usize) -> Result<T, ExecutionError> {
        let bytes = self.args[i].to_bcs().ok_or_else(|| arg_error(i, CommandArgumentError::TypeMismatch))?;
        bcs::from_bytes(&bytes).map_err(|_| arg_error(i, CommandArgumentError::InvalidBcsBytes))
    }

    /// Argument `i` as the attestation document `load_nitro_attestation` returned.
    fn attestation(&self, i: usize) -> Result<Document, ExecutionError> {
        match &self.args[i] {
            Value::Attestation(document) => Ok((**document).clone()),
            _ => Err(arg_error(i, CommandArgumentError::TypeMismatch)),
        }
    }

    fn object_id(&self, i: usize) -> Result<Address, ExecutionError> {
        match &self.args[i] {
            Value::Object(id) => Ok(*id),
            _ => Err(arg_error(i, CommandArgumentError::TypeMismatch)),
        }
    }

    /// Checks argument `i` is an object of `type_` passed as its parameter requires.
    fn checked_object(&self, i: usize, type_: &StructTag) -> Result<Address, ExecutionError> {
        let id = self.object_id(i)?;
        let o = self.session.object(&id).ok_or_else(|| arg_error(i, CommandArgumentError::InvalidValueUsage))?;
        if o.as_struct().map(|s| s.object_type()) != Some(type_) {
            return Err(arg_error(i, CommandArgumentError::TypeMismatch));
        }
        let param = self.spec.params[i];
        let by_value = !param.starts_with('&');
        if (param.starts_with("&mut ") || by_value) && !self.session.is_mutable(&id) {
            let kind = if by_value {
                CommandArgumentError::InvalidObjectByValue
            } else {
                CommandArgumentError::InvalidObjectByMutRef
            };
            return Err(arg_error(i, kind));
        }
        Ok(id)
    }

    fn load<T: MoveType + DeserializeOwned>(&self, i: usize) -> Result<T, ExecutionError> {
        let id = self.checked_object(i, &T::struct_tag(self.session.package))?;
        let s = self.session.object(&id).and_then(|o| o.as_struct()).expect("checked");
        bcs::from_bytes(s.contents()).map_err(|_| ExecutionError::InvariantViolation)
    }

    /// Loads argument `i` as the `Cluster`, at this package's version (`assert_current`,
    /// which every Move function taking a cluster calls first).
    fn cluster(&self, i: usize) -> Result<Cluster, ExecutionError> {
        let cluster: Cluster = self.load(i)?;
        self.ensure(cluster.version == CONTRACT_VERSION, Abort::EWrongVersion)?;
        Ok(cluster)
    }

    fn store<T: Serialize>(&mut self, id: Address, value: &T) {
        self.session.write_contents(id, bcs::to_bytes(value).expect("contract objects encode"));
    }

    /// Checks argument `i` is the Clock.
    fn clock(&self, i: usize) -> Result<(), ExecutionError> {
        let tag =
            StructTag::new(Address::TWO, Identifier::from_static("clock"), Identifier::from_static("Clock"), vec![]);
        let id = self.checked_object(i, &tag)?;
        let s = self.session.object(&id).and_then(|o| o.as_struct()).expect("checked");
        bcs::from_bytes::<ClockContents>(s.contents()).map(|_| ()).map_err(|_| ExecutionError::InvariantViolation)
    }

    /// Takes a `Coin<SUI>` by value: its balance, the coin deleted.
    fn take_coin(&mut self, i: usize) -> Result<u64, ExecutionError> {
        let id = self.checked_object(i, &StructTag::gas_coin())?;
        let balance = self.session.coin_balance(&id).ok_or(ExecutionError::InvariantViolation)?;
        self.session.delete(id);
        Ok(balance)
    }

    fn create<T: MoveType + Serialize>(&mut self, id: Address, value: &T, owner: Owner) {
        let tag = T::struct_tag(self.session.package);
        self.session.create(id, tag, bcs::to_bytes(value).expect("contract objects encode"), owner);
    }

    fn emit<E: MoveType + Serialize>(&mut self, event: &E) {
        self.session.emit(E::MODULE, E::NAME, bcs::to_bytes(event).expect("events encode"));
    }
}
