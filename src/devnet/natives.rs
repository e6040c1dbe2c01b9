//! The contract's public functions, executed natively, exactly as `docs/contract.md` specifies
//! them: the same checks in the same order, the same abort codes, events and object changes.
//!
//! Arguments arrive as execution values and are checked against the function's Move signature
//! from the mirror (`contract::calls`): object types, and `&mut`/by-value objects passed
//! mutably. The Move unit tests and this module's tests cover the same table.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sui_sdk_types::{Address, CommandArgumentError, ExecutionError, Identifier, MoveLocation, Owner, StructTag};

use super::execute::{ClockContents, Session, Value};
use crate::contract::Abort;
use crate::contract::calls::{FUNCTIONS, MoveFunction};
use crate::contract::events::{
    ClusterCreated, NodeRegistered, NodeRemoved, PolicyChanged, ProtectedNamespacesChanged, RequestCancelled,
    RequestChunk, RequestStarted, RequestSubmitted, ResponseChunk, ResponseStored, SealingKeyRotated, StakeAdded,
    TokenIssued, TokenPermissionsChanged, TokenRenewed, TokenRevoked, TokenSlashed, TokenUnstaked,
};
use crate::contract::objects::{
    Balance, Cluster, ClusterAdminCap, MoveType, NodeInfo, Policy, Request, Rule, SealToken, VecMap,
};
use crate::contract::{Role, Verb, access};

const KEY_LENGTH: usize = 32;
const DIGEST_LENGTH: usize = 32;
const MAX_FIELD_LENGTH: usize = 253;
const MAX_CHUNKS: u32 = 4096;

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
        ("cluster", "create_cluster") => create_cluster(&mut c),
        ("cluster", "set_policy") => set_policy(&mut c),
        ("cluster", "set_protected_namespaces") => set_protected_namespaces(&mut c),
        ("cluster", "register_debug_node") => register_debug_node(&mut c),
        ("cluster", "remove_node") => remove_node(&mut c),
        ("cluster", "rotate_sealing_key") => rotate_sealing_key(&mut c),
        ("seal_token", "stake") => stake(&mut c),
        ("seal_token", "stake_with_rules") => stake_with_rules(&mut c),
        ("seal_token", "add_stake") => add_stake(&mut c),
        ("seal_token", "renew") => renew(&mut c),
        ("seal_token", "grant_role") => grant_role(&mut c),
        ("seal_token", "grant_rules") => grant_rules(&mut c),
        ("seal_token", "revoke") => revoke(&mut c),
        ("seal_token", "slash") => slash(&mut c),
        ("seal_token", "unstake") => unstake(&mut c),
        ("request", "submit") => submit(&mut c),
        ("request", "upload") => upload(&mut c),
        ("request", "start") => start(&mut c),
        ("request", "respond") => respond(&mut c),
        ("request", "respond_more") => respond_more(&mut c),
        ("request", "close") => close(&mut c),
        ("request", "cancel") => cancel(&mut c),
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

fn policy_from(c: &Call<'_>, first: usize) -> Result<Policy, ExecutionError> {
    let policy = Policy {
        min_write_stake: c.pure(first)?,
        token_lifetime_ms: c.pure(first + 1)?,
        unstake_lock_ms: c.pure(first + 2)?,
        allow_debug_nodes: c.pure(first + 3)?,
        self_service_role: c.pure(first + 4)?,
        slashing_enabled: c.pure(first + 5)?,
        protected_namespaces: access::default_protected_namespaces(),
    };
    c.ensure(policy.token_lifetime_ms > 0 && policy.self_service_role <= Role::Admin.code(), Abort::EInvalidPolicy)?;
    Ok(policy)
}

fn policy_event(cluster: &Cluster) -> PolicyChanged {
    let p = &cluster.policy;
    PolicyChanged {
        cluster_id: cluster.id,
        min_write_stake: p.min_write_stake,
        token_lifetime_ms: p.token_lifetime_ms,
        unstake_lock_ms: p.unstake_lock_ms,
        allow_debug_nodes: p.allow_debug_nodes,
        self_service_role: p.self_service_role,
        slashing_enabled: p.slashing_enabled,
    }
}

fn assert_admin(c: &Call<'_>, cap: &ClusterAdminCap, cluster: &Cluster) -> Result<(), ExecutionError> {
    c.ensure(cap.cluster_id == cluster.id, Abort::ENotClusterAdmin)
}

fn create_cluster(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let name: String = c.pure(0)?;
    let policy = policy_from(c, 1)?;
    let cluster = Cluster { id: c.session.fresh_id(), name, policy, nodes: VecMap { contents: vec![] } };
    let cap = ClusterAdminCap { id: c.session.fresh_id(), cluster_id: cluster.id };
    c.emit(&ClusterCreated { cluster_id: cluster.id, name: cluster.name.clone(), admin: c.sender() });
    c.emit(&policy_event(&cluster));
    c.create(cap.id, &cap, Owner::Address(c.sender()));
    c.create(cluster.id, &cluster, Owner::Shared(0));
    Ok(())
}

fn set_policy(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    assert_admin(c, &cap, &cluster)?;
    let protected = std::mem::take(&mut cluster.policy.protected_namespaces);
    cluster.policy = Policy { protected_namespaces: protected, ..policy_from(c, 2)? };
    c.emit(&policy_event(&cluster));
    c.store(cluster.id, &cluster);
    Ok(())
}

fn set_protected_namespaces(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    let namespaces: Vec<String> = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(namespaces.iter().all(|n| !n.is_empty() && n != "*"), Abort::EInvalidPolicy)?;
    cluster.policy.protected_namespaces = namespaces.clone();
    c.emit(&ProtectedNamespacesChanged { cluster_id: cluster.id, namespaces });
    c.store(cluster.id, &cluster);
    Ok(())
}

fn register_debug_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    let node: Address = c.pure(2)?;
    let signing_key: Vec<u8> = c.pure(3)?;
    let sealing_key: Vec<u8> = c.pure(4)?;
    c.clock(5)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.policy.allow_debug_nodes, Abort::EDebugNodesForbidden)?;
    c.ensure(signing_key.len() == KEY_LENGTH && sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    c.ensure(node == ed25519_address(&signing_key), Abort::ENodeKeyMismatch)?;
    c.ensure(cluster.node(&node).is_none(), Abort::ENodeAlreadyRegistered)?;
    cluster.nodes.contents.push(crate::contract::objects::Entry {
        key: node,
        value: NodeInfo {
            signing_key: signing_key.clone(),
            sealing_key: sealing_key.clone(),
            previous_sealing_key: vec![],
            attested: false,
            registered_at_ms: c.now(),
        },
    });
    c.emit(&NodeRegistered { cluster_id: cluster.id, node, signing_key, sealing_key, attested: false });
    c.store(cluster.id, &cluster);
    Ok(())
}

fn remove_node(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let mut cluster: Cluster = c.load(1)?;
    let node: Address = c.pure(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    cluster.nodes.contents.retain(|e| e.key != node);
    c.emit(&NodeRemoved { cluster_id: cluster.id, node });
    c.store(cluster.id, &cluster);
    Ok(())
}

fn rotate_sealing_key(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut cluster: Cluster = c.load(0)?;
    let sealing_key: Vec<u8> = c.pure(1)?;
    let node = c.sender();
    c.ensure(cluster.node(&node).is_some(), Abort::ENodeNotRegistered)?;
    c.ensure(sealing_key.len() == KEY_LENGTH, Abort::EInvalidKey)?;
    let info = &mut cluster.nodes.contents.iter_mut().find(|e| e.key == node).expect("registered").value;
    info.previous_sealing_key = std::mem::replace(&mut info.sealing_key, sealing_key.clone());
    c.emit(&SealingKeyRotated { cluster_id: cluster.id, node, sealing_key });
    c.store(cluster.id, &cluster);
    Ok(())
}

fn role_rules(c: &Call<'_>, role: u8) -> Result<Vec<Rule>, ExecutionError> {
    match Role::from_code(role) {
        Some(r) if r != Role::Custom => Ok(access::role_rules(r)),
        _ => Err(c.abort(Abort::EInvalidRole)),
    }
}

fn rules_from_parts(c: &Call<'_>, first: usize) -> Result<Vec<Rule>, ExecutionError> {
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

fn issue(c: &mut Call<'_>, cluster: &Cluster, stake: u64, role: u8, rules: Vec<Rule>) -> Result<(), ExecutionError> {
    let now = c.now();
    let token = SealToken {
        id: c.session.fresh_id(),
        cluster_id: cluster.id,
        owner: c.sender(),
        stake: Balance { value: stake },
        role,
        rules,
        unlocks_at_ms: c.add(now, cluster.policy.unstake_lock_ms)?,
        expires_at_ms: c.add(now, cluster.policy.token_lifetime_ms)?,
        revoked: false,
    };
    c.emit(&TokenIssued {
        token_id: token.id,
        cluster_id: token.cluster_id,
        owner: token.owner,
        stake,
        role,
        expires_at_ms: token.expires_at_ms,
    });
    c.create(token.id, &token, Owner::Shared(0));
    Ok(())
}

fn stake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster: Cluster = c.load(0)?;
    let role: u8 = c.pure(2)?;
    c.clock(3)?;
    let rules = role_rules(c, role)?;
    c.ensure(role <= cluster.policy.self_service_role, Abort::ERoleNotSelfService)?;
    let stake = c.take_coin(1)?;
    issue(c, &cluster, stake, role, rules)
}

fn stake_with_rules(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster: Cluster = c.load(0)?;
    c.clock(7)?;
    let rules = rules_from_parts(c, 2)?;
    let allowed = role_rules(c, cluster.policy.self_service_role)?;
    c.ensure(access::covers(&allowed, &rules, &cluster.policy.protected_namespaces), Abort::ERoleNotSelfService)?;
    let stake = c.take_coin(1)?;
    issue(c, &cluster, stake, Role::Custom.code(), rules)
}

fn add_stake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut token: SealToken = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    c.clock(3)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    let added = c.take_coin(2)?;
    token.stake.value = c.add(token.stake.value, added)?;
    token.unlocks_at_ms = token.unlocks_at_ms.max(c.add(c.now(), cluster.policy.unstake_lock_ms)?);
    c.emit(&StakeAdded { token_id: token.id, stake: token.stake.value });
    c.store(token.id, &token);
    Ok(())
}

fn renew(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut token: SealToken = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    c.clock(2)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    c.ensure(!token.revoked, Abort::ETokenRevoked)?;
    token.expires_at_ms = c.add(c.now(), cluster.policy.token_lifetime_ms)?;
    c.emit(&TokenRenewed { token_id: token.id, expires_at_ms: token.expires_at_ms });
    c.store(token.id, &token);
    Ok(())
}

/// Loads (cap, cluster, token) and runs the admin and cluster checks every admin call shares.
fn admin_token(c: &Call<'_>) -> Result<(Cluster, SealToken), ExecutionError> {
    let cap: ClusterAdminCap = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    let token: SealToken = c.load(2)?;
    assert_admin(c, &cap, &cluster)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    Ok((cluster, token))
}

fn grant_role(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    let role: u8 = c.pure(3)?;
    token.rules = role_rules(c, role)?;
    token.role = role;
    c.emit(&TokenPermissionsChanged { token_id: token.id, role });
    c.store(token.id, &token);
    Ok(())
}

fn grant_rules(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    token.rules = rules_from_parts(c, 3)?;
    token.role = Role::Custom.code();
    c.emit(&TokenPermissionsChanged { token_id: token.id, role: token.role });
    c.store(token.id, &token);
    Ok(())
}

fn revoke(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (_, mut token) = admin_token(c)?;
    token.revoked = true;
    c.emit(&TokenRevoked { token_id: token.id, cluster_id: token.cluster_id });
    c.store(token.id, &token);
    Ok(())
}

fn slash(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let (cluster, mut token) = admin_token(c)?;
    let amount: u64 = c.pure(3)?;
    c.ensure(cluster.policy.slashing_enabled, Abort::ESlashingDisabled)?;
    c.ensure(amount <= token.stake.value, Abort::ESlashExceedsStake)?;
    token.stake.value -= amount;
    c.session.create_coin(amount, Owner::Address(c.sender()));
    c.emit(&TokenSlashed { token_id: token.id, amount });
    c.store(token.id, &token);
    Ok(())
}

fn unstake(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let token: SealToken = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    c.clock(2)?;
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    c.ensure(c.now() >= token.unlocks_at_ms, Abort::EStakeLocked)?;
    c.session.delete(token.id);
    c.session.create_coin(token.stake.value, Owner::Address(token.owner));
    c.emit(&TokenUnstaked { token_id: token.id, owner: token.owner, amount: token.stake.value });
    Ok(())
}

fn is_active_node(cluster: &Cluster, node: &Address) -> bool {
    cluster.node(node).is_some_and(|n| n.attested || cluster.policy.allow_debug_nodes)
}

fn submit(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster: Cluster = c.load(0)?;
    let token: SealToken = c.load(1)?;
    let node: Address = c.pure(2)?;
    let sealing_key: Vec<u8> = c.pure(3)?;
    let reply_key: Vec<u8> = c.pure(4)?;
    let verb_code: u8 = c.pure(5)?;
    let group: String = c.pure(6)?;
    let resource: String = c.pure(7)?;
    let namespace: String = c.pure(8)?;
    let name: String = c.pure(9)?;
    let body_len: u64 = c.pure(10)?;
    let body_digest: Vec<u8> = c.pure(11)?;
    let chunk_count: u32 = c.pure(12)?;
    let chunks: Vec<Vec<u8>> = c.pure(13)?;
    c.clock(14)?;

    let verb = Verb::from_code(verb_code).ok_or_else(|| c.abort(Abort::EInvalidVerb))?;
    let now = c.now();
    c.ensure(token.cluster_id == cluster.id, Abort::EWrongCluster)?;
    c.ensure(token.owner == c.sender(), Abort::ENotTokenOwner)?;
    c.ensure(!token.revoked, Abort::ETokenRevoked)?;
    c.ensure(now < token.expires_at_ms, Abort::ETokenExpired)?;
    let protected = &cluster.policy.protected_namespaces;
    c.ensure(
        access::allows(&token.rules, verb, &group, &resource, &namespace, &name, protected),
        Abort::EPermissionDenied,
    )?;
    c.ensure(verb.is_read() || token.stake.value >= cluster.policy.min_write_stake, Abort::EInsufficientStake)?;
    c.ensure(is_active_node(&cluster, &node), Abort::ENodeNotActive)?;
    let accepted = cluster.node(&node).is_some_and(|n| {
        n.sealing_key == sealing_key || (!n.previous_sealing_key.is_empty() && n.previous_sealing_key == sealing_key)
    });
    c.ensure(accepted, Abort::EUnknownSealingKey)?;
    c.ensure(reply_key.len() == KEY_LENGTH, Abort::EInvalidReplyKey)?;
    c.ensure(body_digest.len() == DIGEST_LENGTH, Abort::EInvalidDigest)?;
    c.ensure([&group, &resource, &namespace, &name].iter().all(|f| f.len() <= MAX_FIELD_LENGTH), Abort::EFieldTooLong)?;
    c.ensure(chunk_count <= MAX_CHUNKS && chunks.len() as u64 <= u64::from(chunk_count), Abort::ETooManyChunks)?;

    let mut request = Request {
        id: c.session.fresh_id(),
        cluster_id: cluster.id,
        requester: c.sender(),
        node,
        chunk_count,
        chunks_received: 0,
        answered: false,
        response_chunk_count: 0,
        response_chunks_sent: 0,
        started: false,
    };
    c.emit(&RequestSubmitted {
        request_id: request.id,
        cluster_id: cluster.id,
        token_id: token.id,
        requester: request.requester,
        node,
        verb: verb_code,
        group,
        resource,
        namespace,
        name,
        body_len,
        body_digest,
        chunk_count,
        sealing_key,
        reply_key,
        timestamp_ms: now,
    });
    for data in chunks {
        c.emit(&RequestChunk { request_id: request.id, index: request.chunks_received, data });
        request.chunks_received += 1;
    }
    c.create(request.id, &request, Owner::Shared(0));
    Ok(())
}

fn upload(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let chunks: Vec<Vec<u8>> = c.pure(1)?;
    c.ensure(request.requester == c.sender(), Abort::ENotRequester)?;
    c.ensure(
        u64::from(request.chunks_received) + chunks.len() as u64 <= u64::from(request.chunk_count),
        Abort::ETooManyChunks,
    )?;
    for data in chunks {
        c.emit(&RequestChunk { request_id: request.id, index: request.chunks_received, data });
        request.chunks_received += 1;
    }
    c.store(request.id, &request);
    Ok(())
}

fn start(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    c.clock(2)?;
    c.ensure(request.cluster_id == cluster.id, Abort::EClusterMismatch)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(is_active_node(&cluster, &request.node), Abort::ENodeNotActive)?;
    c.ensure(request.chunks_received == request.chunk_count, Abort::ERequestIncomplete)?;
    c.ensure(!request.answered, Abort::EAlreadyAnswered)?;
    c.ensure(!request.started, Abort::ERequestStarted)?;
    request.started = true;
    c.emit(&RequestStarted { request_id: request.id, node: request.node, timestamp_ms: c.now() });
    c.store(request.id, &request);
    Ok(())
}

fn respond(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster: Cluster = c.load(1)?;
    let status: u16 = c.pure(2)?;
    let body_len: u64 = c.pure(3)?;
    let body_digest: Vec<u8> = c.pure(4)?;
    let chunk_count: u32 = c.pure(5)?;
    let chunks: Vec<Vec<u8>> = c.pure(6)?;
    c.clock(7)?;
    c.ensure(request.cluster_id == cluster.id, Abort::EClusterMismatch)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(is_active_node(&cluster, &request.node), Abort::ENodeNotActive)?;
    c.ensure(request.chunks_received == request.chunk_count, Abort::ERequestIncomplete)?;
    c.ensure(!request.answered, Abort::EAlreadyAnswered)?;
    c.ensure(body_digest.len() == DIGEST_LENGTH, Abort::EInvalidDigest)?;
    c.ensure(chunk_count <= MAX_CHUNKS && chunks.len() as u64 <= u64::from(chunk_count), Abort::ETooManyChunks)?;
    request.answered = true;
    request.response_chunk_count = chunk_count;
    c.emit(&ResponseStored {
        request_id: request.id,
        cluster_id: request.cluster_id,
        node: request.node,
        status,
        body_len,
        body_digest,
        chunk_count,
        timestamp_ms: c.now(),
    });
    emit_response_chunks(c, &mut request, chunks);
    c.store(request.id, &request);
    Ok(())
}

fn emit_response_chunks(c: &mut Call<'_>, request: &mut Request, chunks: Vec<Vec<u8>>) {
    for data in chunks {
        c.emit(&ResponseChunk { request_id: request.id, index: request.response_chunks_sent, data });
        request.response_chunks_sent += 1;
    }
}

fn respond_more(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let chunks: Vec<Vec<u8>> = c.pure(1)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(request.answered, Abort::ENotAnswered)?;
    c.ensure(
        u64::from(request.response_chunks_sent) + chunks.len() as u64 <= u64::from(request.response_chunk_count),
        Abort::ETooManyChunks,
    )?;
    emit_response_chunks(c, &mut request, chunks);
    c.store(request.id, &request);
    Ok(())
}

fn close(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(request.answered, Abort::ENotAnswered)?;
    c.ensure(request.response_chunks_sent == request.response_chunk_count, Abort::EResponseIncomplete)?;
    c.session.delete(request.id);
    Ok(())
}

fn cancel(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    c.clock(1)?;
    c.ensure(request.requester == c.sender(), Abort::ENotRequester)?;
    c.ensure(!request.answered, Abort::EAlreadyAnswered)?;
    c.ensure(!request.started, Abort::ERequestStarted)?;
    c.session.delete(request.id);
    c.emit(&RequestCancelled { request_id: request.id, requester: request.requester, timestamp_ms: c.now() });
    Ok(())
}

/// The Sui address of an Ed25519 key: Blake2b256(0x00 || key).
fn ed25519_address(key: &[u8]) -> Address {
    let mut bytes = vec![0u8];
    bytes.extend_from_slice(key);
    Address::new(sui_sdk_types::hash::Hasher::digest(&bytes).into_inner())
}
