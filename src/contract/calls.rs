//! Builders for every public call of the contract, over `sui-transaction-builder`.
//!
//! Each call is described once by a [`MoveFunction`] (its Move signature, checked against
//! the sources by [`super::mirror`]); [`Contract`] builds the `MoveCall` from that
//! description. Shared objects are passed mutably only where the Move parameter is `&mut`
//! or by value, so read-only inputs (`&Cluster`, `&SealToken`, `&Clock`) never serialise
//! parallel transactions.

use serde::Serialize;
use sui_sdk_types::{Address, Digest, Identifier, TypeTag};
use sui_transaction_builder::{Argument, Function, ObjectInput, TransactionBuilder};

use super::error::ContractError;
use super::objects::{Policy, Rule};
use super::types::{EndReason, Role, Verb};

/// Sui's limit on one pure argument (sui-protocol-config `max_pure_argument_size`): a pure
/// argument must be strictly shorter (`CallArg::validity_check`).
pub const MAX_PURE_ARGUMENT_SIZE: usize = 16 * 1024;
/// Largest body chunk: a pure `vector<u8>` of this length, with its two-byte ULEB128 length
/// prefix, is the largest pure argument Sui accepts (one byte under the limit).
pub const MAX_CHUNK_LEN: usize = MAX_PURE_ARGUMENT_SIZE - 3;
/// The Sui framework module that verifies Nitro attestation documents, and its entry function.
pub const NITRO_MODULE: &str = "nitro_attestation";
/// See [`NITRO_MODULE`].
pub const LOAD_NITRO_ATTESTATION: &str = "load_nitro_attestation";
/// The shared `Clock` object.
pub const CLOCK_ID: Address = Address::from_static("0x6");

/// The Move signature of one public function: the mirror of its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoveFunction {
    /// Module.
    pub module: &'static str,
    /// Function name.
    pub name: &'static str,
    /// Parameter types as declared, `TxContext` included.
    pub params: &'static [&'static str],
}

macro_rules! functions {
    ($($konst:ident = $module:literal :: $name:ident ( $($param:literal),* );)*) => {
        $(
            #[doc = concat!("`", $module, "::", stringify!($name), "`.")]
            pub const $konst: MoveFunction = MoveFunction {
                module: $module,
                name: stringify!($name),
                params: &[$($param),*],
            };
        )*
        /// Every public function clients call, in module order.
        pub const FUNCTIONS: &[MoveFunction] = &[$($konst),*];
    };
}

functions! {
    CREATE_CLUSTER = "cluster"::create_cluster("String", "u64", "u64", "u64", "bool", "u8", "bool", "&mut TxContext");
    SET_POLICY = "cluster"::set_policy("&ClusterAdminCap", "&mut Cluster", "u64", "u64", "u64", "bool", "u8", "bool");
    SET_PROTECTED_NAMESPACES = "cluster"::set_protected_namespaces("&ClusterAdminCap", "&mut Cluster", "vector<String>");
    REGISTER_DEBUG_NODE = "cluster"::register_debug_node("&ClusterAdminCap", "&mut Cluster", "address", "vector<u8>", "vector<u8>", "&Clock");
    REMOVE_NODE = "cluster"::remove_node("&ClusterAdminCap", "&mut Cluster", "address");
    ADD_ENCLAVE = "cluster"::add_enclave("&ClusterAdminCap", "&mut Cluster", "vector<u8>", "vector<vector<u8>>");
    REMOVE_ENCLAVE = "cluster"::remove_enclave("&ClusterAdminCap", "&mut Cluster", "vector<u8>", "vector<vector<u8>>");
    SET_ATTESTATION_NONCE_REQUIRED = "cluster"::set_attestation_nonce_required("&ClusterAdminCap", "&mut Cluster", "bool");
    SET_AUDITORS = "cluster"::set_auditors("&ClusterAdminCap", "&mut Cluster", "vector<vector<u8>>");
    REGISTER_ATTESTED_NODE = "cluster"::register_attested_node("&mut Cluster", "NitroAttestationDocument", "&Clock");
    ROTATE_SEALING_KEY = "cluster"::rotate_sealing_key("&mut Cluster", "vector<u8>", "&TxContext");
    MIGRATE = "cluster"::migrate("&ClusterAdminCap", "&mut Cluster");
    STAKE = "seal_token"::stake("&Cluster", "Coin<SUI>", "u8", "&Clock", "&mut TxContext");
    STAKE_WITH_RULES = "seal_token"::stake_with_rules("&Cluster", "Coin<SUI>", "vector<u16>", "vector<vector<String>>", "vector<vector<String>>", "vector<vector<String>>", "vector<vector<String>>", "&Clock", "&mut TxContext");
    ADD_STAKE = "seal_token"::add_stake("&mut SealToken", "&Cluster", "Coin<SUI>", "&Clock", "&TxContext");
    RENEW = "seal_token"::renew("&mut SealToken", "&Cluster", "&Clock", "&TxContext");
    GRANT_ROLE = "seal_token"::grant_role("&ClusterAdminCap", "&Cluster", "&mut SealToken", "u8");
    GRANT_RULES = "seal_token"::grant_rules("&ClusterAdminCap", "&Cluster", "&mut SealToken", "vector<u16>", "vector<vector<String>>", "vector<vector<String>>", "vector<vector<String>>", "vector<vector<String>>");
    REVOKE = "seal_token"::revoke("&ClusterAdminCap", "&Cluster", "&mut SealToken");
    SLASH = "seal_token"::slash("&ClusterAdminCap", "&Cluster", "&mut SealToken", "u64", "&mut TxContext");
    UNSTAKE = "seal_token"::unstake("SealToken", "&Cluster", "&Clock", "&mut TxContext");
    SUBMIT = "request"::submit("&Cluster", "&SealToken", "address", "vector<u8>", "vector<u8>", "u8", "String", "String", "String", "String", "u64", "vector<u8>", "u32", "vector<vector<u8>>", "&Clock", "&mut TxContext");
    UPLOAD = "request"::upload("&mut Request", "vector<vector<u8>>", "&TxContext");
    START = "request"::start("&mut Request", "&Cluster", "&Clock", "&TxContext");
    RESPOND = "request"::respond("&mut Request", "&Cluster", "u16", "u64", "vector<u8>", "u32", "vector<vector<u8>>", "&Clock", "&TxContext");
    RESPOND_MORE = "request"::respond_more("&mut Request", "vector<vector<u8>>", "&TxContext");
    CLOSE = "request"::close("Request", "&TxContext");
    CANCEL = "request"::cancel("Request", "&Clock", "&TxContext");
    OPEN_STREAM = "request"::open_stream("&mut Request", "&Cluster", "u16", "vector<vector<u8>>", "&Clock", "&TxContext");
    STREAM = "request"::stream("&mut Request", "&Cluster", "vector<vector<u8>>", "&TxContext");
    END_STREAM = "request"::end_stream("Request", "u8", "&Clock", "&TxContext");
    HANG_UP = "request"::hang_up("Request", "&Clock", "&TxContext");
    SEND_INPUT = "request"::send_input("&Request", "u32", "vector<vector<u8>>", "&TxContext");
}

/// Public functions no client calls in a transaction: pure helpers and field accessors
/// other Move code may use. Listed so the mirror check accounts for every public function.
pub const ACCESSORS: &[(&str, &str)] = &[
    ("access", "role_none"),
    ("access", "role_view"),
    ("access", "role_edit"),
    ("access", "role_admin"),
    ("access", "role_custom"),
    ("access", "role_rules"),
    ("access", "rules_from_parts"),
    ("access", "assert_verb"),
    ("access", "is_read"),
    ("access", "allows"),
    ("access", "covers"),
    ("access", "is_discovery"),
    ("cluster", "name"),
    ("cluster", "policy"),
    ("cluster", "min_write_stake"),
    ("cluster", "token_lifetime_ms"),
    ("cluster", "unstake_lock_ms"),
    ("cluster", "allow_debug_nodes"),
    ("cluster", "self_service_role"),
    ("cluster", "slashing_enabled"),
    ("cluster", "protected_namespaces"),
    ("cluster", "is_registered"),
    ("cluster", "is_active_node"),
    ("cluster", "accepts_sealing_key"),
    ("cluster", "cap_cluster_id"),
    ("cluster", "assert_admin"),
    ("cluster", "version"),
    ("cluster", "assert_current"),
    ("cluster", "attestation"),
    ("cluster", "enclaves"),
    ("cluster", "measurement_pcrs"),
    ("cluster", "require_attestation_nonce"),
    ("cluster", "auditors"),
    ("seal_token", "assert_authorized"),
    ("seal_token", "cluster_id"),
    ("seal_token", "owner"),
    ("seal_token", "stake_value"),
    ("seal_token", "role"),
    ("seal_token", "rules"),
    ("seal_token", "expires_at_ms"),
    ("seal_token", "unlocks_at_ms"),
    ("seal_token", "is_revoked"),
    ("request", "requester"),
    ("request", "node"),
    ("request", "is_answered"),
    ("request", "is_started"),
    ("request", "chunks_received"),
    ("request", "is_streaming"),
    ("request", "frames_sent"),
];

/// How a Move parameter is passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamKind {
    Pure,
    Object { mutable: bool },
    Context,
}

fn param_kind(param: &str) -> ParamKind {
    let base = param.trim_start_matches("&mut ").trim_start_matches('&');
    if base == "TxContext" {
        ParamKind::Context
    } else if base.starts_with(|c: char| c.is_ascii_uppercase()) && base != "String" {
        ParamKind::Object { mutable: !param.starts_with('&') || param.starts_with("&mut ") }
    } else {
        ParamKind::Pure
    }
}

impl MoveFunction {
    /// Parameters a transaction passes (all but the `TxContext`).
    pub fn arity(&self) -> usize {
        self.params.iter().filter(|p| param_kind(p) != ParamKind::Context).count()
    }
}

/// An on-chain object a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectArg {
    /// A shared object, by its initial shared version.
    Shared {
        /// Object id.
        id: Address,
        /// Version at which it became shared.
        initial_shared_version: u64,
    },
    /// An owned object at an exact version.
    Owned {
        /// Object id.
        id: Address,
        /// Current version.
        version: u64,
        /// Current digest.
        digest: Digest,
    },
    /// The system `Clock` (shared, read-only).
    Clock,
}

/// One argument of a call.
#[derive(Debug, Clone)]
pub enum CallArg {
    /// An object input.
    Object(ObjectArg),
    /// The result of an earlier command (e.g. a coin from `SplitCoins`).
    Result(Argument),
    /// BCS bytes of a pure value.
    Pure(Vec<u8>),
    /// Sealed body chunks, each one pure `vector<u8>`, gathered by `MakeMoveVec`.
    Chunks(Vec<Vec<u8>>),
}

/// What `request::submit` records: the public audit metadata and the first sealed chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// Node addressed.
    pub node: Address,
    /// Node X25519 key the body is sealed to.
    pub sealing_key: Vec<u8>,
    /// Requester X25519 key for the response.
    pub reply_key: Vec<u8>,
    /// Verb.
    pub verb: Verb,
    /// API group (`""` = core).
    pub group: String,
    /// Resource.
    pub resource: String,
    /// Namespace (`""` = cluster scope).
    pub namespace: String,
    /// Object name (`""` for collections).
    pub name: String,
    /// Sealed body length.
    pub body_len: u64,
    /// Sealed body digest.
    pub body_digest: [u8; 32],
    /// Chunks of the whole body.
    pub chunk_count: u32,
    /// The chunks carried by this transaction.
    pub chunks: Vec<Vec<u8>>,
}

/// What `request::respond` records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRecord {
    /// HTTP status from the Kubernetes API.
    pub status: u16,
    /// Sealed body length.
    pub body_len: u64,
    /// Sealed body digest.
    pub body_digest: [u8; 32],
    /// Chunks of the whole body.
    pub chunk_count: u32,
    /// The chunks carried by this transaction.
    pub chunks: Vec<Vec<u8>>,
}

/// The published package, and a builder per public call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contract {
    package: Address,
}

type CallResult = Result<Argument, ContractError>;

impl Contract {
    /// The contract published at `package`.
    pub fn new(package: Address) -> Self {
        Contract { package }
    }

    /// The package id.
    pub fn package(&self) -> Address {
        self.package
    }

    /// Adds a `MoveCall` of `function` with `args`, checked against its Move signature.
    pub fn call(&self, tx: &mut TransactionBuilder, function: &MoveFunction, args: Vec<CallArg>) -> CallResult {
        if args.len() != function.arity() {
            return Err(ContractError::Arity {
                module: function.module,
                function: function.name,
                expected: function.arity(),
                given: args.len(),
            });
        }
        let params = function.params.iter().filter(|p| param_kind(p) != ParamKind::Context);
        let mut arguments = Vec::with_capacity(args.len());
        for (index, (param, arg)) in params.zip(args).enumerate() {
            let kind_error = |expected| ContractError::ArgumentKind {
                module: function.module,
                function: function.name,
                index,
                param,
                expected,
            };
            let argument = match (param_kind(param), arg) {
                (ParamKind::Object { mutable }, CallArg::Object(object)) => tx.object(object_input(object, mutable)),
                (ParamKind::Object { .. }, CallArg::Result(result)) => result,
                (ParamKind::Object { .. }, _) => return Err(kind_error("an object")),
                (ParamKind::Pure, CallArg::Pure(bytes)) => tx.pure_bytes(bytes),
                (ParamKind::Pure, CallArg::Chunks(chunks)) if *param == "vector<vector<u8>>" => {
                    chunk_vector(tx, chunks)?
                }
                (ParamKind::Pure, _) => return Err(kind_error("a pure value")),
                (ParamKind::Context, _) => unreachable!("TxContext parameters are filtered out"),
            };
            arguments.push(argument);
        }
        let target = Function::new(
            self.package,
            Identifier::from_static(function.module),
            Identifier::from_static(function.name),
        );
        Ok(tx.move_call(target, arguments))
    }

    /// `cluster::create_cluster`.
    pub fn create_cluster(&self, tx: &mut TransactionBuilder, name: &str, policy: &Policy) -> CallResult {
        let f = &CREATE_CLUSTER;
        let mut args = vec![pure(f, &name)?];
        args.extend(policy_args(f, policy)?);
        self.call(tx, f, args)
    }

    /// `cluster::set_protected_namespaces`.
    pub fn set_protected_namespaces(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        namespaces: &[String],
    ) -> CallResult {
        let f = &SET_PROTECTED_NAMESPACES;
        self.call(tx, f, vec![CallArg::Object(cap), CallArg::Object(cluster), pure(f, &namespaces)?])
    }

    /// `cluster::set_policy`.
    pub fn set_policy(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        policy: &Policy,
    ) -> CallResult {
        let f = &SET_POLICY;
        let mut args = vec![CallArg::Object(cap), CallArg::Object(cluster)];
        args.extend(policy_args(f, policy)?);
        self.call(tx, f, args)
    }

    /// `cluster::register_debug_node`.
    pub fn register_debug_node(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        node: Address,
        signing_key: &[u8],
        sealing_key: &[u8],
    ) -> CallResult {
        let f = &REGISTER_DEBUG_NODE;
        let args = vec![
            CallArg::Object(cap),
            CallArg::Object(cluster),
            pure(f, &node)?,
            pure(f, &signing_key)?,
            pure(f, &sealing_key)?,
            CallArg::Object(ObjectArg::Clock),
        ];
        self.call(tx, f, args)
    }

    /// `cluster::remove_node`.
    pub fn remove_node(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        node: Address,
    ) -> CallResult {
        let f = &REMOVE_NODE;
        self.call(tx, f, vec![CallArg::Object(cap), CallArg::Object(cluster), pure(f, &node)?])
    }

    /// `cluster::add_enclave`: the admin accepts the enclave image of `pcrs` (index, value).
    pub fn add_enclave(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        pcrs: &[(u8, Vec<u8>)],
    ) -> CallResult {
        self.measurement_call(tx, &ADD_ENCLAVE, cap, cluster, pcrs)
    }

    /// `cluster::remove_enclave`: the admin withdraws an enclave image.
    pub fn remove_enclave(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        pcrs: &[(u8, Vec<u8>)],
    ) -> CallResult {
        self.measurement_call(tx, &REMOVE_ENCLAVE, cap, cluster, pcrs)
    }

    /// `cluster::set_attestation_nonce_required`: whether a document must carry the challenge.
    pub fn set_attestation_nonce_required(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        required: bool,
    ) -> CallResult {
        let f = &SET_ATTESTATION_NONCE_REQUIRED;
        self.call(tx, f, vec![CallArg::Object(cap), CallArg::Object(cluster), pure(f, &required)?])
    }

    /// `cluster::set_auditors`: the X25519 keys every session is also sealed to (none: no
    /// recording).
    pub fn set_auditors(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        auditors: &[[u8; 32]],
    ) -> CallResult {
        let f = &SET_AUDITORS;
        let keys: Vec<Vec<u8>> = auditors.iter().map(|k| k.to_vec()).collect();
        self.call(tx, f, vec![CallArg::Object(cap), CallArg::Object(cluster), pure(f, &keys)?])
    }

    fn measurement_call(
        &self,
        tx: &mut TransactionBuilder,
        f: &MoveFunction,
        cap: ObjectArg,
        cluster: ObjectArg,
        pcrs: &[(u8, Vec<u8>)],
    ) -> CallResult {
        let indices: Vec<u8> = pcrs.iter().map(|(i, _)| *i).collect();
        let values: Vec<&Vec<u8>> = pcrs.iter().map(|(_, v)| v).collect();
        self.call(tx, f, vec![CallArg::Object(cap), CallArg::Object(cluster), pure(f, &indices)?, pure(f, &values)?])
    }

    /// `0x2::nitro_attestation::load_nitro_attestation` on `document` (verified by the
    /// validators against the Clock), then `cluster::register_attested_node` with its result.
    pub fn register_attested_node(
        &self,
        tx: &mut TransactionBuilder,
        cluster: ObjectArg,
        document: &[u8],
    ) -> CallResult {
        let f = &REGISTER_ATTESTED_NODE;
        if document.len() > MAX_CHUNK_LEN {
            return Err(ContractError::ChunkTooLarge { len: document.len(), limit: MAX_CHUNK_LEN });
        }
        let bytes = tx.pure(&document);
        let clock = tx.object(object_input(ObjectArg::Clock, false));
        let load = Function::new(
            Address::TWO,
            Identifier::from_static(NITRO_MODULE),
            Identifier::from_static(LOAD_NITRO_ATTESTATION),
        );
        let loaded = tx.move_call(load, vec![bytes, clock]);
        self.call(tx, f, vec![CallArg::Object(cluster), CallArg::Result(loaded), CallArg::Object(ObjectArg::Clock)])
    }

    /// `cluster::rotate_sealing_key`, sent by the node itself.
    pub fn rotate_sealing_key(
        &self,
        tx: &mut TransactionBuilder,
        cluster: ObjectArg,
        sealing_key: &[u8],
    ) -> CallResult {
        let f = &ROTATE_SEALING_KEY;
        self.call(tx, f, vec![CallArg::Object(cluster), pure(f, &sealing_key)?])
    }

    /// `seal_token::stake` with a predefined role.
    pub fn stake(&self, tx: &mut TransactionBuilder, cluster: ObjectArg, payment: CallArg, role: Role) -> CallResult {
        let f = &STAKE;
        let args = vec![CallArg::Object(cluster), payment, pure(f, &role.code())?, CallArg::Object(ObjectArg::Clock)];
        self.call(tx, f, args)
    }

    /// `seal_token::stake_with_rules`.
    pub fn stake_with_rules(
        &self,
        tx: &mut TransactionBuilder,
        cluster: ObjectArg,
        payment: CallArg,
        rules: &[Rule],
    ) -> CallResult {
        let f = &STAKE_WITH_RULES;
        let mut args = vec![CallArg::Object(cluster), payment];
        args.extend(rule_args(f, rules)?);
        args.push(CallArg::Object(ObjectArg::Clock));
        self.call(tx, f, args)
    }

    /// `seal_token::add_stake`.
    pub fn add_stake(
        &self,
        tx: &mut TransactionBuilder,
        token: ObjectArg,
        cluster: ObjectArg,
        payment: CallArg,
    ) -> CallResult {
        let args = vec![CallArg::Object(token), CallArg::Object(cluster), payment, CallArg::Object(ObjectArg::Clock)];
        self.call(tx, &ADD_STAKE, args)
    }

    /// `seal_token::renew`.
    pub fn renew(&self, tx: &mut TransactionBuilder, token: ObjectArg, cluster: ObjectArg) -> CallResult {
        let args = vec![CallArg::Object(token), CallArg::Object(cluster), CallArg::Object(ObjectArg::Clock)];
        self.call(tx, &RENEW, args)
    }

    /// `seal_token::grant_role`.
    pub fn grant_role(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        token: ObjectArg,
        role: Role,
    ) -> CallResult {
        let f = &GRANT_ROLE;
        let args = vec![CallArg::Object(cap), CallArg::Object(cluster), CallArg::Object(token), pure(f, &role.code())?];
        self.call(tx, f, args)
    }

    /// `seal_token::grant_rules`.
    pub fn grant_rules(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        token: ObjectArg,
        rules: &[Rule],
    ) -> CallResult {
        let f = &GRANT_RULES;
        let mut args = vec![CallArg::Object(cap), CallArg::Object(cluster), CallArg::Object(token)];
        args.extend(rule_args(f, rules)?);
        self.call(tx, f, args)
    }

    /// `seal_token::revoke`.
    pub fn revoke(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        token: ObjectArg,
    ) -> CallResult {
        self.call(tx, &REVOKE, vec![CallArg::Object(cap), CallArg::Object(cluster), CallArg::Object(token)])
    }

    /// `seal_token::slash`.
    pub fn slash(
        &self,
        tx: &mut TransactionBuilder,
        cap: ObjectArg,
        cluster: ObjectArg,
        token: ObjectArg,
        amount: u64,
    ) -> CallResult {
        let f = &SLASH;
        let args = vec![CallArg::Object(cap), CallArg::Object(cluster), CallArg::Object(token), pure(f, &amount)?];
        self.call(tx, f, args)
    }

    /// `seal_token::unstake`.
    pub fn unstake(&self, tx: &mut TransactionBuilder, token: ObjectArg, cluster: ObjectArg) -> CallResult {
        let args = vec![CallArg::Object(token), CallArg::Object(cluster), CallArg::Object(ObjectArg::Clock)];
        self.call(tx, &UNSTAKE, args)
    }

    /// `request::submit`.
    pub fn submit(
        &self,
        tx: &mut TransactionBuilder,
        cluster: ObjectArg,
        token: ObjectArg,
        s: &Submission,
    ) -> CallResult {
        let f = &SUBMIT;
        let args = vec![
            CallArg::Object(cluster),
            CallArg::Object(token),
            pure(f, &s.node)?,
            pure(f, &s.sealing_key)?,
            pure(f, &s.reply_key)?,
            pure(f, &s.verb.code())?,
            pure(f, &s.group)?,
            pure(f, &s.resource)?,
            pure(f, &s.namespace)?,
            pure(f, &s.name)?,
            pure(f, &s.body_len)?,
            pure(f, &s.body_digest.as_slice())?,
            pure(f, &s.chunk_count)?,
            CallArg::Chunks(s.chunks.clone()),
            CallArg::Object(ObjectArg::Clock),
        ];
        self.call(tx, f, args)
    }

    /// `request::upload`.
    pub fn upload(&self, tx: &mut TransactionBuilder, request: ObjectArg, chunks: Vec<Vec<u8>>) -> CallResult {
        self.call(tx, &UPLOAD, vec![CallArg::Object(request), CallArg::Chunks(chunks)])
    }

    /// `request::respond`.
    pub fn respond(
        &self,
        tx: &mut TransactionBuilder,
        request: ObjectArg,
        cluster: ObjectArg,
        r: &ResponseRecord,
    ) -> CallResult {
        let f = &RESPOND;
        let args = vec![
            CallArg::Object(request),
            CallArg::Object(cluster),
            pure(f, &r.status)?,
            pure(f, &r.body_len)?,
            pure(f, &r.body_digest.as_slice())?,
            pure(f, &r.chunk_count)?,
            CallArg::Chunks(r.chunks.clone()),
            CallArg::Object(ObjectArg::Clock),
        ];
        self.call(tx, f, args)
    }

    /// `cluster::migrate`: moves a cluster to this package's version (after an upgrade).
    pub fn migrate(&self, tx: &mut TransactionBuilder, cap: ObjectArg, cluster: ObjectArg) -> CallResult {
        self.call(tx, &MIGRATE, vec![CallArg::Object(cap), CallArg::Object(cluster)])
    }

    /// `request::start`: the node marks a write as running, so it can no longer be cancelled.
    pub fn start(&self, tx: &mut TransactionBuilder, request: ObjectArg, cluster: ObjectArg) -> CallResult {
        self.call(
            tx,
            &START,
            vec![CallArg::Object(request), CallArg::Object(cluster), CallArg::Object(ObjectArg::Clock)],
        )
    }

    /// `request::respond_more`.
    pub fn respond_more(&self, tx: &mut TransactionBuilder, request: ObjectArg, chunks: Vec<Vec<u8>>) -> CallResult {
        self.call(tx, &RESPOND_MORE, vec![CallArg::Object(request), CallArg::Chunks(chunks)])
    }

    /// `request::close`.
    pub fn close(&self, tx: &mut TransactionBuilder, request: ObjectArg) -> CallResult {
        self.call(tx, &CLOSE, vec![CallArg::Object(request)])
    }

    /// `request::cancel`.
    pub fn cancel(&self, tx: &mut TransactionBuilder, request: ObjectArg) -> CallResult {
        self.call(tx, &CANCEL, vec![CallArg::Object(request), CallArg::Object(ObjectArg::Clock)])
    }

    /// `request::open_stream`: the node answers with a stream, its status and first frames.
    pub fn open_stream(
        &self,
        tx: &mut TransactionBuilder,
        request: ObjectArg,
        cluster: ObjectArg,
        status: u16,
        frames: Vec<Vec<u8>>,
    ) -> CallResult {
        let f = &OPEN_STREAM;
        let args = vec![
            CallArg::Object(request),
            CallArg::Object(cluster),
            pure(f, &status)?,
            CallArg::Chunks(frames),
            CallArg::Object(ObjectArg::Clock),
        ];
        self.call(tx, f, args)
    }

    /// `request::stream`: further sealed frames of an open stream.
    pub fn stream(
        &self,
        tx: &mut TransactionBuilder,
        request: ObjectArg,
        cluster: ObjectArg,
        frames: Vec<Vec<u8>>,
    ) -> CallResult {
        self.call(tx, &STREAM, vec![CallArg::Object(request), CallArg::Object(cluster), CallArg::Chunks(frames)])
    }

    /// `request::end_stream`: the node ends a stream for `reason`.
    pub fn end_stream(&self, tx: &mut TransactionBuilder, request: ObjectArg, reason: EndReason) -> CallResult {
        let f = &END_STREAM;
        let args = vec![CallArg::Object(request), pure(f, &reason.code())?, CallArg::Object(ObjectArg::Clock)];
        self.call(tx, f, args)
    }

    /// `request::hang_up`: the requester ends its stream.
    pub fn hang_up(&self, tx: &mut TransactionBuilder, request: ObjectArg) -> CallResult {
        self.call(tx, &HANG_UP, vec![CallArg::Object(request), CallArg::Object(ObjectArg::Clock)])
    }

    /// `request::send_input`: the requester's sealed input frames `first_index`, ... of an
    /// open session.
    pub fn send_input(
        &self,
        tx: &mut TransactionBuilder,
        request: ObjectArg,
        first_index: u32,
        frames: Vec<Vec<u8>>,
    ) -> CallResult {
        let f = &SEND_INPUT;
        self.call(tx, f, vec![CallArg::Object(request), pure(f, &first_index)?, CallArg::Chunks(frames)])
    }
}

fn object_input(object: ObjectArg, mutable: bool) -> ObjectInput {
    match object {
        ObjectArg::Shared { id, initial_shared_version } => ObjectInput::shared(id, initial_shared_version, mutable),
        ObjectArg::Owned { id, version, digest } => ObjectInput::owned(id, version, digest),
        ObjectArg::Clock => ObjectInput::shared(CLOCK_ID, 1, false),
    }
}

fn chunk_vector(tx: &mut TransactionBuilder, chunks: Vec<Vec<u8>>) -> CallResult {
    let mut elements = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        if chunk.len() > MAX_CHUNK_LEN {
            return Err(ContractError::ChunkTooLarge { len: chunk.len(), limit: MAX_CHUNK_LEN });
        }
        elements.push(tx.pure_unique(&chunk));
    }
    Ok(tx.make_move_vec(Some(TypeTag::Vector(Box::new(TypeTag::U8))), elements))
}

fn pure<T: Serialize + ?Sized>(f: &MoveFunction, value: &T) -> Result<CallArg, ContractError> {
    bcs::to_bytes(value).map(CallArg::Pure).map_err(|source| ContractError::Encode {
        module: f.module,
        function: f.name,
        source,
    })
}

fn policy_args(f: &MoveFunction, p: &Policy) -> Result<Vec<CallArg>, ContractError> {
    Ok(vec![
        pure(f, &p.min_write_stake)?,
        pure(f, &p.token_lifetime_ms)?,
        pure(f, &p.unstake_lock_ms)?,
        pure(f, &p.allow_debug_nodes)?,
        pure(f, &p.self_service_role)?,
        pure(f, &p.slashing_enabled)?,
    ])
}

/// Explicit rules as the four parallel vectors the Move functions take.
fn rule_args(f: &MoveFunction, rules: &[Rule]) -> Result<Vec<CallArg>, ContractError> {
    let verbs: Vec<u16> = rules.iter().map(|r| r.verbs).collect();
    let groups: Vec<&Vec<String>> = rules.iter().map(|r| &r.groups).collect();
    let resources: Vec<&Vec<String>> = rules.iter().map(|r| &r.resources).collect();
    let namespaces: Vec<&Vec<String>> = rules.iter().map(|r| &r.namespaces).collect();
    let urls: Vec<&Vec<String>> = rules.iter().map(|r| &r.non_resource_urls).collect();
    Ok(vec![pure(f, &verbs)?, pure(f, &groups)?, pure(f, &resources)?, pure(f, &namespaces)?, pure(f, &urls)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use sui_sdk_types::{Command, Input, TransactionKind};

    const PACKAGE: Address = Address::from_static("0xcafe");

    fn shared(id: &'static str) -> ObjectArg {
        ObjectArg::Shared { id: Address::from_static(id), initial_shared_version: 7 }
    }

    fn built(tx: TransactionBuilder) -> sui_sdk_types::ProgrammableTransaction {
        let mut tx = tx;
        tx.set_sender(Address::from_static("0xa11ce"));
        tx.set_gas_budget(1_000_000);
        tx.set_gas_price(1_000);
        tx.add_gas_objects([ObjectInput::owned(Address::from_static("0x9a5"), 1, Digest::ZERO)]);
        match tx.try_build().expect("builds").kind {
            TransactionKind::ProgrammableTransaction(pt) => pt,
            other => panic!("unexpected kind {other:?}"),
        }
    }

    fn submission(chunks: Vec<Vec<u8>>) -> Submission {
        Submission {
            node: Address::from_static("0xb0de"),
            sealing_key: vec![2; 32],
            reply_key: vec![3; 32],
            verb: Verb::Get,
            group: String::new(),
            resource: "pods".into(),
            namespace: "default".into(),
            name: String::new(),
            body_len: 0,
            body_digest: [0; 32],
            chunk_count: u32::try_from(chunks.len()).expect("few chunks"),
            chunks,
        }
    }

    #[test]
    fn submit_reads_cluster_token_and_clock_without_taking_them_mutably() {
        let contract = Contract::new(PACKAGE);
        let mut tx = TransactionBuilder::new();
        contract
            .submit(&mut tx, shared("0xc1"), shared("0x70"), &submission(vec![vec![1; 10], vec![2; 20]]))
            .expect("submit");
        let pt = built(tx);
        let shared_inputs: Vec<(Address, bool)> = pt
            .inputs
            .iter()
            .filter_map(|i| match i {
                Input::Shared(s) => Some((s.object_id(), s.mutability().is_mutable())),
                _ => None,
            })
            .collect();
        assert_eq!(shared_inputs.len(), 3);
        assert!(shared_inputs.iter().all(|(_, mutable)| !mutable), "{shared_inputs:?}");
        assert!(matches!(pt.commands[0], Command::MakeMoveVector(ref m) if m.elements.len() == 2));
        match &pt.commands[1] {
            Command::MoveCall(call) => {
                assert_eq!((call.module.as_str(), call.function.as_str()), ("request", "submit"));
                assert_eq!(call.arguments.len(), SUBMIT.arity());
            }
            other => panic!("expected MoveCall, got {other:?}"),
        }
    }

    #[test]
    fn respond_takes_the_request_mutably_and_close_by_value() {
        let contract = Contract::new(PACKAGE);
        let mut tx = TransactionBuilder::new();
        let record = ResponseRecord {
            status: 200,
            body_len: 3,
            body_digest: [1; 32],
            chunk_count: 1,
            chunks: vec![vec![1, 2, 3]],
        };
        contract.respond(&mut tx, shared("0x4e"), shared("0xc1"), &record).expect("respond");
        contract.close(&mut tx, shared("0x4e")).expect("close");
        let pt = built(tx);
        let request_mutable = pt.inputs.iter().any(|i| {
            matches!(i, Input::Shared(s) if s.object_id() == Address::from_static("0x4e") && s.mutability().is_mutable())
        });
        let cluster_read_only = pt.inputs.iter().any(|i| {
            matches!(i, Input::Shared(s) if s.object_id() == Address::from_static("0xc1") && !s.mutability().is_mutable())
        });
        assert!(request_mutable && cluster_read_only);
    }

    #[test]
    fn every_builder_matches_its_signature() {
        let c = Contract::new(PACKAGE);
        let mut tx = TransactionBuilder::new();
        let policy = Policy {
            min_write_stake: 1,
            token_lifetime_ms: 2,
            unstake_lock_ms: 3,
            allow_debug_nodes: true,
            self_service_role: 1,
            slashing_enabled: false,
            protected_namespaces: vec!["nautilus".into()],
            enclaves: vec![],
            require_attestation_nonce: true,
            auditors: vec![],
        };
        let rule = Rule {
            verbs: 1,
            groups: vec![String::new()],
            resources: vec!["pods".into()],
            namespaces: vec!["a".into()],
            non_resource_urls: vec![],
        };
        let coin = CallArg::Result(tx.gas());
        let node = Address::from_static("0xb0de");
        let (cap, cl, tok, req) = (shared("0xca"), shared("0xc1"), shared("0x70"), shared("0x4e"));
        let record = ResponseRecord { status: 200, body_len: 0, body_digest: [0; 32], chunk_count: 0, chunks: vec![] };
        c.create_cluster(&mut tx, "dev", &policy).unwrap();
        c.set_policy(&mut tx, cap, cl, &policy).unwrap();
        c.set_protected_namespaces(&mut tx, cap, cl, &["nautilus".into()]).unwrap();
        c.register_debug_node(&mut tx, cap, cl, node, &[1; 32], &[2; 32]).unwrap();
        c.remove_node(&mut tx, cap, cl, node).unwrap();
        c.rotate_sealing_key(&mut tx, cl, &[3; 32]).unwrap();
        c.migrate(&mut tx, cap, cl).unwrap();
        c.stake(&mut tx, cl, coin.clone(), Role::View).unwrap();
        c.stake_with_rules(&mut tx, cl, coin.clone(), std::slice::from_ref(&rule)).unwrap();
        c.add_stake(&mut tx, tok, cl, coin).unwrap();
        c.renew(&mut tx, tok, cl).unwrap();
        c.grant_role(&mut tx, cap, cl, tok, Role::Edit).unwrap();
        c.grant_rules(&mut tx, cap, cl, tok, &[rule]).unwrap();
        c.revoke(&mut tx, cap, cl, tok).unwrap();
        c.slash(&mut tx, cap, cl, tok, 5).unwrap();
        c.unstake(&mut tx, tok, cl).unwrap();
        c.submit(&mut tx, cl, tok, &submission(vec![])).unwrap();
        c.upload(&mut tx, req, vec![vec![1]]).unwrap();
        c.start(&mut tx, req, cl).unwrap();
        c.respond(&mut tx, req, cl, &record).unwrap();
        c.respond_more(&mut tx, req, vec![vec![1]]).unwrap();
        c.close(&mut tx, req).unwrap();
        c.cancel(&mut tx, req).unwrap();
        c.open_stream(&mut tx, req, cl, 200, vec![vec![0]]).unwrap();
        c.stream(&mut tx, req, cl, vec![vec![1]]).unwrap();
        c.end_stream(&mut tx, req, EndReason::Completed).unwrap();
        c.hang_up(&mut tx, req).unwrap();
        c.send_input(&mut tx, req, 0, vec![vec![2]]).unwrap();
        let pcrs = [(0, vec![1; 48]), (1, vec![2; 48]), (2, vec![3; 48])];
        c.add_enclave(&mut tx, cap, cl, &pcrs).unwrap();
        c.remove_enclave(&mut tx, cap, cl, &pcrs).unwrap();
        c.set_attestation_nonce_required(&mut tx, cap, cl, false).unwrap();
        c.set_auditors(&mut tx, cap, cl, &[[7; 32]]).unwrap();
        c.register_attested_node(&mut tx, cl, &[0; 100]).unwrap();
        let commands = built(tx).commands;
        let calls = commands.iter().filter(|c| matches!(c, Command::MoveCall(m) if m.package == PACKAGE)).count();
        assert_eq!(calls, FUNCTIONS.len());
        // The document is verified by the framework in the same transaction, its result passed on.
        let loads = commands
            .iter()
            .filter(|c| matches!(c, Command::MoveCall(m) if m.package == Address::TWO && m.function.as_str() == LOAD_NITRO_ATTESTATION))
            .count();
        assert_eq!(loads, 1);
    }

    #[test]
    fn wrong_arity_and_kind_are_reported() {
        let c = Contract::new(PACKAGE);
        let mut tx = TransactionBuilder::new();
        let err = c.call(&mut tx, &REVOKE, vec![]).unwrap_err();
        assert!(matches!(err, ContractError::Arity { expected: 3, given: 0, .. }), "{err}");
        let err = c.call(&mut tx, &CLOSE, vec![CallArg::Pure(vec![0])]).unwrap_err();
        assert!(matches!(err, ContractError::ArgumentKind { index: 0, .. }), "{err}");
    }

    #[test]
    fn oversized_chunk_is_refused() {
        let c = Contract::new(PACKAGE);
        let mut tx = TransactionBuilder::new();
        let err = c.upload(&mut tx, shared("0x4e"), vec![vec![0; MAX_CHUNK_LEN + 1]]).unwrap_err();
        assert!(matches!(err, ContractError::ChunkTooLarge { .. }), "{err}");
        assert_eq!(bcs::to_bytes(&vec![0u8; MAX_CHUNK_LEN]).unwrap().len(), MAX_PURE_ARGUMENT_SIZE - 1);
    }
}
