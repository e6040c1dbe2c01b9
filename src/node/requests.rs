//! Handling one request: open it, check it is what the contract approved, execute it once,
//! answer on chain.
//!
//! Exactly once: a mutating request is journaled `Started` (durably) before it reaches the
//! Kubernetes API and `Executed`, with its sealed response, right after; `Answered` once the
//! response is on chain. After a crash, a request found again on the chain is answered from
//! the journal: `Answered` is skipped, `Executed` gets its stored response submitted, and
//! `Started` without `Executed` (the crash hit during execution, its outcome unknown) is never
//! run again: it is answered with a 500 Status saying so. Reads are not journaled before
//! execution: running one twice changes nothing. The contract deletes the `Request` when it is
//! answered, so a response can land only once whatever the node does; and a request the
//! journal does not know runs only while its `Request` is still open on chain, so a lost
//! journal or a cancel never makes a write run. A write is marked started on chain
//! (`request::start`) before it runs: from then on the requester's cancel is refused, and a
//! node that finds a request started but not in its journal answers it as unknown.
//!
//! Before running, the request is admitted by [`super::admission`] (opened, resolved by
//! `RequestInfo` and compared with what the contract approved, all without I/O), the token's
//! current standing is read, and the cluster's RBAC for it is bound ([`super::rbac`]); the
//! executed URI is the one rebuilt from the parsed parts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;

use super::admission::Admitted;
use super::error::NodeError;
use super::health::Metrics;
use super::intake::{Ready, Refusal};
use super::keys::NodeKeys;
use super::kube::{
    Caller, KubeApi, KubeFailure, authorized_groups, impersonated_groups, impersonated_user, user_agent,
};
use super::rbac::{Grant, Reconciler};
use super::session::{InputRoutes, Session};
use super::stream::{Pump, Slot, Slots, Source};
use crate::chain::GasPool;
use crate::chain::{ChainClient, ChainError};
use crate::contract::calls::{MAX_CHUNK_LEN, ResponseRecord};
use crate::contract::events::RequestSubmitted;
use crate::contract::objects::{Rule, SealToken};
use crate::contract::{Abort, Contract, ObjectArg, Role, Verb};
use crate::envelope::{Binding, Frame, FrameSeal, PublicKey, ResponseEnvelope, Sealed, SessionKey};
use crate::journal::Journal;

/// Chunks per transaction: 7 × 16 KiB stays under Sui's 128 KiB transaction limit.
const CHUNKS_PER_TRANSACTION: usize = 7;
/// The contract's limit on the chunks of one answer (`request::MAX_CHUNKS`).
const MAX_RESPONSE_CHUNKS: usize = 4096;
/// How long an answer waits between looks for gas.
const NO_GAS_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// Answered requests after which the journal is compacted.
const COMPACT_AFTER: usize = 1024;
/// What a 429 tells the requester to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 5;

/// One entry of the execution journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Entry {
    /// A mutating request is about to reach the Kubernetes API.
    Started(Address),
    /// It was executed; the sealed response (and its status) to submit.
    Executed {
        /// The request.
        request: Address,
        /// HTTP status.
        status: u16,
        /// The sealed response.
        sealed: Vec<u8>,
    },
    /// The response is on chain.
    Answered(Address),
    /// A stream is open on chain (`request::open_stream`); `Answered` once it ended.
    Streaming(Address),
}

/// Where a request stands, from the journal.
#[derive(Debug, Clone)]
enum State {
    Started,
    Executed { status: u16, sealed: Sealed },
    Answered,
    Streaming,
}

/// What executing a request gave.
enum Executed {
    /// One answer to put on chain.
    Answer(ResponseEnvelope),
    /// The API server answered a stream with 200: its headers are in, its body streams.
    Stream(http::Response<kube::client::Body>, Slot),
    /// The API server switched a session's connection, with this subprotocol.
    Session(super::kube::SessionSocket, String, Slot),
}

/// Where a request stands on chain, with its call argument when it is still there (read once,
/// then used for its start and its answer).
#[derive(Debug, Clone, Copy)]
enum OnChain {
    /// Complete, unanswered, not started: it may run.
    Open(ObjectArg),
    /// A node started it (a write): it ran, or may have; never run again.
    Started(ObjectArg),
    /// Cancelled, or answered and deleted.
    Gone,
}

/// Everything a request handler needs; shared by all of them.
#[derive(Debug)]
pub struct Processor {
    pub(super) cluster: Address,
    pub(super) cluster_arg: ObjectArg,
    pub(super) keys: NodeKeys,
    pub(super) contract: Contract,
    pub(super) client: ChainClient,
    pub(super) kube: KubeApi,
    pub(super) gas: GasPool,
    pub(super) journal: Journal<Entry>,
    states: Mutex<HashMap<Address, State>>,
    answered_since_compaction: std::sync::atomic::AtomicUsize,
    /// Tokens' standing as last read, dropped when a token event names the token.
    tokens: Mutex<TokenCache>,
    /// The cluster's RBAC, kept in step with the tokens.
    pub(super) rbac: Reconciler,
    /// The cluster policy's protected namespaces.
    protected: Mutex<Vec<String>>,
    /// The cluster policy's auditors: each session's key is sealed to them too.
    auditors: Mutex<Vec<PublicKey>>,
    pub(super) metrics: Metrics,
    pub(super) max_body: usize,
    limits: super::NodeLimits,
    answers: tokio::sync::mpsc::Sender<Answer>,
    /// Slots of the streams running now.
    stream_slots: std::sync::Arc<Slots>,
    /// How to stop each stream running now (its requester hung up, or the node stops).
    stream_stops: Mutex<HashMap<Address, std::sync::Arc<tokio::sync::Notify>>>,
    /// Where the requesters' input goes, for each session running now.
    pub(super) inputs: InputRoutes,
    /// The node is stopping: its streams end with `node` instead of being left open.
    stopping: std::sync::atomic::AtomicBool,
}

/// What the node last read of a token.
#[derive(Debug, Clone)]
struct Standing {
    role: Role,
    rules: std::sync::Arc<Vec<Rule>>,
    revoked: bool,
    expires_at_ms: u64,
}

/// Tokens' standings, and a generation bumped by every token event.
#[derive(Debug, Default)]
struct TokenCache {
    standings: HashMap<Address, Standing>,
    generation: u64,
}

/// A response that fits one transaction, waiting to share one with others.
#[derive(Debug)]
pub struct Answer {
    request: ObjectArg,
    record: ResponseRecord,
    done: tokio::sync::oneshot::Sender<Result<(), ChainError>>,
}

/// Most answers in one transaction, and the most chunk bytes they may carry together
/// (Sui's transaction limit is 128 KiB).
const ANSWERS_PER_TRANSACTION: usize = 16;
const BATCH_BYTES: usize = 96 * 1024;
/// How long the first answer of a batch waits for company, when other requests are executing
/// (and so may answer within it).
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(2);

impl Processor {
    /// A processor whose journal state is `entries`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cluster: Address,
        cluster_arg: ObjectArg,
        keys: NodeKeys,
        client: ChainClient,
        kube: KubeApi,
        gas: GasPool,
        journal: Journal<Entry>,
        entries: Vec<Entry>,
        metrics: Metrics,
        max_body: usize,
        limits: super::NodeLimits,
        answers: tokio::sync::mpsc::Sender<Answer>,
        policy: &crate::contract::objects::Policy,
    ) -> Processor {
        let mut states = HashMap::new();
        let answered = entries.iter().filter(|e| matches!(e, Entry::Answered(_))).count();
        for entry in entries {
            match entry {
                Entry::Started(r) => {
                    states.insert(r, State::Started);
                }
                Entry::Executed { request, status, sealed } => {
                    states.insert(request, State::Executed { status, sealed: Sealed(sealed) });
                }
                Entry::Answered(r) => {
                    states.insert(r, State::Answered);
                }
                Entry::Streaming(r) => {
                    states.insert(r, State::Streaming);
                }
            }
        }
        let contract = Contract::new(client.package());
        let rbac = Reconciler::new(kube.client());
        Processor {
            cluster,
            cluster_arg,
            keys,
            contract,
            client,
            kube,
            gas,
            journal,
            states: Mutex::new(states),
            answered_since_compaction: std::sync::atomic::AtomicUsize::new(answered),
            tokens: Mutex::default(),
            rbac,
            protected: Mutex::new(policy.protected_namespaces.clone()),
            auditors: Mutex::new(auditor_keys(&policy.auditors)),
            metrics,
            max_body,
            limits,
            answers,
            stream_slots: Slots::new(limits.max_streams.max(1), limits.max_streams_per_requester.max(1)),
            stream_stops: Mutex::default(),
            inputs: InputRoutes::default(),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the node is stopping.
    pub(super) fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The node stops: every stream it runs ends on chain (`node`), within `grace`; what is
    /// left after it is ended by the next start (the journal keeps it).
    pub async fn end_streams(&self, grace: std::time::Duration) {
        self.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        for stop in self.stream_stops.lock().expect("lock").values() {
            stop.notify_one();
        }
        let deadline = tokio::time::Instant::now() + grace;
        while !self.stream_stops.lock().expect("lock").is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The node's limits.
    pub(super) fn limits(&self) -> &super::NodeLimits {
        &self.limits
    }

    /// The requester hung up `request`'s stream: its pump stops.
    pub fn hung_up(&self, request: &Address) {
        if let Some(stop) = self.stream_stops.lock().expect("lock").get(request) {
            stop.notify_one();
        }
    }

    /// Streams the journal says are open that no pump of this life runs.
    pub(super) fn orphaned_streams(&self) -> Vec<Address> {
        let running = self.stream_stops.lock().expect("lock");
        let states = self.states.lock().expect("lock");
        states
            .iter()
            .filter(|(r, s)| matches!(s, State::Streaming) && !running.contains_key(r))
            .map(|(r, _)| *r)
            .collect()
    }

    /// A stream ended (on chain, or gone from it): forget it, and journal it answered.
    pub(super) async fn stream_closed(&self, request: Address) {
        self.stream_stops.lock().expect("lock").remove(&request);
        self.inputs.close(&request);
        if let Err(e) = self.record(Entry::Answered(request)).await {
            tracing::error!(%request, error = %e, "could not journal the end of a stream");
        }
    }

    /// Whether the token of `submitted` still lets its stream run: not revoked, not expired,
    /// and its rules (as they are now, with the cluster's protected namespaces) still allow
    /// what was approved. A downgrade ends a watch as a revocation does.
    pub(super) async fn token_allows(&self, submitted: &RequestSubmitted) -> Result<bool, NodeError> {
        let standing = self.standing(submitted.token_id).await?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let Some(verb) = Verb::from_code(submitted.verb) else { return Ok(false) };
        let protected = self.protected.lock().expect("lock").clone();
        let allowed = crate::contract::access::allows(
            &standing.rules,
            verb,
            &submitted.group,
            &submitted.resource,
            &submitted.namespace,
            &submitted.name,
            &protected,
        );
        Ok(!standing.revoked && now_ms < standing.expires_at_ms && allowed)
    }

    /// Whether the journal says the request is answered.
    pub fn is_answered(&self, request: &Address) -> bool {
        matches!(self.states.lock().expect("lock").get(request), Some(State::Answered))
    }

    async fn record(&self, entry: Entry) -> Result<(), NodeError> {
        let state = match &entry {
            Entry::Started(_) => State::Started,
            Entry::Executed { status, sealed, .. } => {
                State::Executed { status: *status, sealed: Sealed(sealed.clone()) }
            }
            Entry::Answered(_) => State::Answered,
            Entry::Streaming(_) => State::Streaming,
        };
        let request = match &entry {
            Entry::Started(r) | Entry::Answered(r) | Entry::Streaming(r) => *r,
            Entry::Executed { request, .. } => *request,
        };
        // The state and the append change together, under the lock a compaction takes, so a
        // compaction never drops a record on its way to disk.
        let durable = {
            let mut states = self.states.lock().expect("lock");
            states.insert(request, state);
            let durable = self.journal.append(&entry)?;
            if matches!(entry, Entry::Answered(_)) {
                let answered = self.answered_since_compaction.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if answered >= COMPACT_AFTER {
                    self.compact(&mut states)?;
                }
            }
            durable
        };
        durable.await.map_err(|_| crate::journal::JournalError::Closed)?;
        Ok(())
    }

    /// Rewrites the journal with what an answered request no longer needs left out: the
    /// journal stays bounded. An answered request met again (a restart reads some checkpoints
    /// twice) is recognised on chain, where it is gone.
    fn compact(&self, states: &mut HashMap<Address, State>) -> Result<(), NodeError> {
        states.retain(|_, s| !matches!(s, State::Answered));
        let kept: Vec<Entry> = states
            .iter()
            .map(|(request, s)| match s {
                State::Started => Entry::Started(*request),
                State::Executed { status, sealed } => {
                    Entry::Executed { request: *request, status: *status, sealed: sealed.0.clone() }
                }
                State::Streaming => Entry::Streaming(*request),
                State::Answered => unreachable!("retained out"),
            })
            .collect();
        drop(self.journal.compact(&kept)?);
        self.answered_since_compaction.store(0, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Handles a complete request: executes it at most once and answers it on chain. A stream
    /// is opened on chain and handed back, to be pumped without holding an execution permit.
    pub async fn handle(&self, submitted: RequestSubmitted, sealed: Sealed) -> Result<Option<Pump>, NodeError> {
        let started = Instant::now();
        let request = submitted.request_id;
        let verb = Verb::from_code(submitted.verb).unwrap_or(Verb::Get);
        let known = self.states.lock().expect("lock").get(&request).cloned();
        let (status, response, request_arg) = match known {
            Some(State::Answered) => return Ok(None),
            // Open in this life: its pump runs. Left by an earlier life: ended, never resumed.
            Some(State::Streaming) => {
                if !self.stream_stops.lock().expect("lock").contains_key(&request) {
                    self.end_orphaned_streams().await;
                }
                return Ok(None);
            }
            Some(State::Executed { status, sealed }) => (status, sealed, None),
            Some(State::Started) => {
                let (status, sealed) = self.seal_response(&submitted, &self.outcome_unknown(request))?;
                (status, sealed, None)
            }
            None => {
                // Run only what is still open on chain: not cancelled, not answered by an
                // earlier life of this node whose journal is gone, not started by one.
                let (response, arg) = match self.on_chain(request).await? {
                    OnChain::Gone => {
                        self.metrics.refusals.with_label_values(&["gone"]).inc();
                        return Ok(None);
                    }
                    OnChain::Started(arg) => (self.outcome_unknown(request), arg),
                    OnChain::Open(arg) => match self.execute(&submitted, &sealed, verb, arg).await? {
                        Some(Executed::Answer(response)) => (response, arg),
                        Some(Executed::Stream(response, slot)) => {
                            let head = super::kube::response_headers(&response);
                            let status = response.status().as_u16();
                            let source = Source::Body(response.into_body());
                            return self.open_stream(&submitted, arg, (status, head), source, slot).await;
                        }
                        Some(Executed::Session(socket, protocol, slot)) => {
                            let head = vec![("sec-websocket-protocol".to_string(), protocol)];
                            let inputs = self.inputs.open(request);
                            let key = SessionKey::generate();
                            let source =
                                Source::Session(Box::new(Session { socket, protocol: head[0].1.clone(), inputs, key }));
                            return self.open_stream(&submitted, arg, (101, head), source, slot).await;
                        }
                        None => {
                            self.metrics.refusals.with_label_values(&["gone"]).inc();
                            return Ok(None);
                        }
                    },
                };
                let (status, sealed) = self.seal_response(&submitted, &response)?;
                if !verb.is_read() {
                    self.record(Entry::Executed { request, status, sealed: sealed.0.clone() }).await?;
                }
                (status, sealed, Some(arg))
            }
        };
        self.answer(request, request_arg, status, &response).await?;
        self.record(Entry::Answered(request)).await?;
        self.metrics.requests.with_label_values(&[verb.as_str(), &status.to_string()]).inc();
        self.metrics.latency.with_label_values(&[verb.as_str()]).observe(started.elapsed().as_secs_f64());
        Ok(None)
    }

    /// Opens a stream on chain with the API server's status and headers (frame 0), and hands
    /// back its pump over `source`; `None` when the requester cancelled first.
    async fn open_stream(
        &self,
        submitted: &RequestSubmitted,
        request_arg: ObjectArg,
        (status, headers): (u16, Vec<(String, String)>),
        source: Source,
        slot: Slot,
    ) -> Result<Option<Pump>, NodeError> {
        let request = submitted.request_id;
        let reply = PublicKey::from_bytes(&submitted.reply_key).map_err(|e| NodeError::Config(e.to_string()))?;
        // A session's first frame carries its key, sealed to the requester and every auditor;
        // a watch's or a log's only the headers, sealed to the requester.
        let (head, seal) = match &source {
            Source::Session(session) => {
                let mut recipients = vec![reply];
                recipients.extend(self.auditors.lock().expect("lock").iter().cloned());
                let open = Frame::Open { headers, key: session.key.to_bytes() };
                let binding = Binding::Frame { cluster: self.cluster, request, index: 0 };
                let sealed = Sealed::seal_to_all(&open, &recipients, &binding);
                (sealed.map(|s| s.0), FrameSeal::Session(session.key.clone()))
            }
            Source::Body(_) => {
                (Frame::Head { headers }.seal(&reply, self.cluster, request, 0), FrameSeal::Reply(reply))
            }
        };
        let head = head.map_err(|e| NodeError::Config(e.to_string()))?;
        self.record(Entry::Streaming(request)).await?;
        let stop = std::sync::Arc::new(tokio::sync::Notify::new());
        self.stream_stops.lock().expect("lock").insert(request, stop.clone());
        let mut tx = TransactionBuilder::new();
        self.contract
            .open_stream(&mut tx, request_arg, self.cluster_arg, status, vec![head])
            .map_err(|e| NodeError::Config(e.to_string()))?;
        if let Err(e) = self.submit(&mut self.client.clone(), tx).await {
            self.stream_stops.lock().expect("lock").remove(&request);
            self.inputs.close(&request);
            return match self.on_chain(request).await? {
                // Cancelled before it opened: nothing streams.
                OnChain::Gone if self.stream_on_chain(request).await?.is_none() => {
                    self.record(Entry::Answered(request)).await?;
                    Ok(None)
                }
                _ => Err(e.into()),
            };
        }
        self.metrics.streams_open.inc();
        self.metrics
            .requests
            .with_label_values(&[Verb::from_code(submitted.verb).unwrap_or(Verb::Get).as_str(), &status.to_string()])
            .inc();
        Ok(Some(Pump {
            submitted: submitted.clone(),
            request: request_arg,
            source: Some(source),
            seal,
            next_index: 1,
            stop,
            slot,
        }))
    }

    /// Handles what the intake handed out, retrying a failed answer a few times (the journal
    /// makes a retry answer from what was already executed, never run it again).
    pub async fn handle_with_retries(&self, ready: Ready) -> Result<Option<Pump>, NodeError> {
        let mut wait = std::time::Duration::from_millis(500);
        for attempt in 0.. {
            let result = match &ready {
                Ready::Execute { submitted, sealed } => self.handle((**submitted).clone(), sealed.clone()).await,
                Ready::Refuse { submitted, refusal } => self.refuse(submitted, refusal).await.map(|()| None),
            };
            match result {
                // Without gas no answer can land, however often it is tried: wait for gas
                // (`/readyz` says so) rather than give the request up.
                Err(NodeError::Chain(e @ (ChainError::NoGas { .. } | ChainError::GasBusy { .. }))) => {
                    tracing::warn!(request = %ready.id(), error = %e, "no gas to answer with; waiting");
                    tokio::time::sleep(NO_GAS_WAIT).await;
                }
                Err(e) if attempt < 4 => {
                    tracing::warn!(request = %ready.id(), error = %e, attempt, "answering failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
                other => return other,
            }
        }
        unreachable!("the loop returns")
    }

    /// Answers a request the intake refused, unopened: a `Status` with why, and for load a
    /// Retry-After.
    async fn refuse(&self, submitted: &RequestSubmitted, refusal: &Refusal) -> Result<(), NodeError> {
        let request = submitted.request_id;
        if self.is_answered(&request) {
            return Ok(());
        }
        let (OnChain::Open(arg) | OnChain::Started(arg)) = self.on_chain(request).await? else { return Ok(()) };
        self.metrics.refusals.with_label_values(&[refusal.cause()]).inc();
        let mut response = ResponseEnvelope::status(refusal.status(), refusal.reason(), &refusal.to_string());
        if refusal.status() == 429 {
            response.headers.push(("retry-after".into(), RETRY_AFTER_SECS.to_string()));
        }
        let (status, sealed) = self.seal_response(submitted, &response)?;
        self.answer(request, Some(arg), status, &sealed).await?;
        self.record(Entry::Answered(request)).await
    }

    /// Where the `Request` object stands on chain.
    async fn on_chain(&self, request: Address) -> Result<OnChain, NodeError> {
        match self.client.clone().move_object_and_arg::<crate::contract::objects::Request>(request).await {
            Ok((r, _)) if r.answered => Ok(OnChain::Gone),
            Ok((r, arg)) if r.started => Ok(OnChain::Started(arg)),
            Ok((_, arg)) => Ok(OnChain::Open(arg)),
            Err(e) if e.is_not_found() => Ok(OnChain::Gone),
            Err(e) => Err(e.into()),
        }
    }

    /// The answer to a write that a life of this node started and whose outcome it cannot
    /// know (the crash hit during execution, or the journal is gone): never run again.
    fn outcome_unknown(&self, request: Address) -> ResponseEnvelope {
        ResponseEnvelope::status(
            500,
            "InternalError",
            &format!(
                "node {} restarted while executing request {request}; its outcome is unknown and it was not run again: check the object's state before retrying",
                self.keys.address()
            ),
        )
    }

    /// Marks a write as running on chain (`request::start`), so that a cancel can no longer
    /// land. `false` when the requester cancelled first: the write must not run.
    async fn start_on_chain(&self, request: Address, request_arg: ObjectArg) -> Result<bool, NodeError> {
        let mut client = self.client.clone();
        let mut tx = TransactionBuilder::new();
        self.contract.start(&mut tx, request_arg, self.cluster_arg).map_err(|e| NodeError::Config(e.to_string()))?;
        match self.gas.execute(&mut client, &self.keys.signing, tx).await {
            Ok(_) => Ok(true),
            // The cancel won the race: the object is gone, or this very start already landed
            // (a retry after a lost reply), which the journal's `Started` would have caught.
            Err(e) => match self.on_chain(request).await? {
                OnChain::Gone => Ok(false),
                OnChain::Started(_) | OnChain::Open(_) => Err(e.into()),
            },
        }
    }

    /// Opens, checks and executes a request never seen before; `None` when a write was
    /// cancelled on chain before it could start.
    async fn execute(
        &self,
        submitted: &RequestSubmitted,
        sealed: &Sealed,
        verb: Verb,
        request_arg: ObjectArg,
    ) -> Result<Option<Executed>, NodeError> {
        let refuse = |refused: super::admission::Refused| {
            self.metrics.errors.with_label_values(&[refused.cause]).inc();
            Ok(Some(Executed::Answer(refused.to_response())))
        };
        let Admitted { envelope, info } =
            match super::admission::admit(submitted, sealed, self.cluster, &self.keys, self.max_body) {
                Ok(admitted) => admitted,
                Err(refused) => return refuse(refused),
            };
        let standing = self.standing(submitted.token_id).await?;
        if standing.revoked {
            return refuse(super::admission::revoked(submitted));
        }
        let role = standing.role;
        // The cluster's RBAC grants what the contract approved before the request runs, so the
        // API server checks the operation it resolved itself against the same rules.
        let protected = self.protected.lock().expect("lock").clone();
        let grant = Grant {
            token: submitted.token_id,
            requester: submitted.requester,
            role,
            rules: &standing.rules,
            namespace: &submitted.namespace,
        };
        let (user, groups) = (impersonated_user(&submitted.requester), impersonated_groups(role));
        match self.rbac.ensure(&grant, &protected).await {
            Ok(true) => {
                if !self.rbac.wait_until_effective(&user, &authorized_groups(role), &info).await {
                    tracing::debug!(request = %submitted.request_id, "new RBAC not yet effective; running anyway");
                }
            }
            Ok(false) => {}
            Err(e) => {
                self.metrics.errors.with_label_values(&["rbac"]).inc();
                return Ok(Some(Executed::Answer(ResponseEnvelope::status(
                    503,
                    "ServiceUnavailable",
                    &format!(
                        "the node could not bind the token's roles in the cluster ({e}); the request was not executed, retry"
                    ),
                ))));
            }
        }
        if !verb.is_read() {
            // On chain first: once it is started a cancel is refused, and a crash before the
            // journal's `Started` leaves a request that never ran but is answered as unknown.
            if !self.start_on_chain(submitted.request_id, request_arg).await? {
                return Ok(None);
            }
            self.record(Entry::Started(submitted.request_id)).await?;
        }
        let kube_started = Instant::now();
        let agent = user_agent(&submitted.request_id);
        let caller = Caller { user: &user, groups: &groups, user_agent: &agent };
        let deadline = std::time::Duration::from_secs(self.limits.kube_timeout_secs);
        let result = if info.is_session() {
            let slot = match self.stream_slot(submitted.requester) {
                Ok(slot) => slot,
                Err(busy) => return Ok(Some(Executed::Answer(busy))),
            };
            match self.kube.upgrade(&info, &envelope, &caller, deadline).await {
                Ok(super::kube::Upgrade::Open(socket, protocol)) => {
                    return Ok(Some(Executed::Session(socket, protocol, slot)));
                }
                Ok(super::kube::Upgrade::Refused(response)) => {
                    super::kube::collect(response, self.limits.max_response).await
                }
                Err(e) => Err(e),
            }
        } else if info.is_stream() {
            let slot = match self.stream_slot(submitted.requester) {
                Ok(slot) => slot,
                Err(busy) => return Ok(Some(Executed::Answer(busy))),
            };
            match self.kube.open(&info, &envelope, &caller, deadline).await {
                Ok(response) if response.status() == http::StatusCode::OK => {
                    return Ok(Some(Executed::Stream(response, slot)));
                }
                Ok(response) => super::kube::collect(response, self.limits.max_response).await,
                Err(e) => Err(e),
            }
        } else {
            self.kube.execute(&info, &envelope, &caller, (deadline, self.limits.max_response)).await
        };
        self.metrics.kube_latency.with_label_values(&[verb.as_str()]).observe(kube_started.elapsed().as_secs_f64());
        Ok(Some(Executed::Answer(result.unwrap_or_else(|e| {
            let kind = match e {
                KubeFailure::Unreachable(_) => "kubernetes",
                KubeFailure::Timeout(_) => "kubernetes_timeout",
                KubeFailure::TooLarge(_) => "kubernetes_too_large",
            };
            self.metrics.errors.with_label_values(&[kind]).inc();
            e.to_status()
        }))))
    }

    /// A stream slot for `requester`, or the 429 that says there is none.
    fn stream_slot(&self, requester: Address) -> Result<Slot, ResponseEnvelope> {
        self.stream_slots.take(requester).map_err(|limit| {
            self.metrics.refusals.with_label_values(&["streams"]).inc();
            let mut busy = ResponseEnvelope::status(
                429,
                "TooManyRequests",
                &format!(
                    "node {} already runs as many streams as its {limit} limit allows; retry later, or end another watch or session",
                    self.keys.address()
                ),
            );
            busy.headers.push(("retry-after".into(), RETRY_AFTER_SECS.to_string()));
            busy
        })
    }

    /// A token's role and revocation, as the chain has them since its last change: read once,
    /// then reused until [`Processor::forget_token`] drops it.
    async fn standing(&self, token: Address) -> Result<Standing, NodeError> {
        let generation = {
            let cache = self.tokens.lock().expect("lock");
            if let Some(standing) = cache.standings.get(&token) {
                return Ok(standing.clone());
            }
            cache.generation
        };
        let object: SealToken = self.client.clone().move_object(token).await?;
        let standing = Standing {
            role: Role::from_code(object.role).unwrap_or(Role::None),
            rules: std::sync::Arc::new(object.rules),
            revoked: object.revoked,
            expires_at_ms: object.expires_at_ms,
        };
        let mut cache = self.tokens.lock().expect("lock");
        // A token event passed while reading: what was read may predate it, so it is not kept.
        if cache.generation == generation {
            cache.standings.insert(token, standing.clone());
        }
        Ok(standing)
    }

    /// Drops what is known of `token`: a token event (permissions changed, revoked, slashed,
    /// unstaked) passed, and the next request it makes reads the token again.
    pub fn forget_token(&self, token: Address) {
        let mut cache = self.tokens.lock().expect("lock");
        cache.generation += 1;
        cache.standings.remove(&token);
        self.rbac.forget(&token);
    }

    /// The cluster's auditors changed: sessions opened from now on are sealed to these.
    pub fn set_auditors(&self, auditors: &[Vec<u8>]) {
        *self.auditors.lock().expect("lock") = auditor_keys(auditors);
    }

    /// The cluster's protected namespaces changed: nothing is bound in them any more.
    pub async fn protect(&self, namespaces: Vec<String>) {
        *self.protected.lock().expect("lock") = namespaces.clone();
        self.rbac.forget_all();
        for namespace in namespaces {
            if let Err(e) = self.rbac.unbind_namespace(&namespace).await {
                tracing::error!(namespace, error = %e, "could not remove the sui:* bindings of a protected namespace");
            }
        }
    }

    /// Seals `response` to the requester; one larger than an answer can carry on chain is
    /// replaced by a 507 `Status` with the sizes, so every request ends.
    fn seal_response(
        &self,
        submitted: &RequestSubmitted,
        response: &ResponseEnvelope,
    ) -> Result<(u16, Sealed), NodeError> {
        let reply = PublicKey::from_bytes(&submitted.reply_key).map_err(|e| NodeError::Config(e.to_string()))?;
        let binding = Binding::Response { cluster: self.cluster, request: submitted.request_id };
        let seal =
            |r: &ResponseEnvelope| Sealed::seal(r, &reply, &binding).map_err(|e| NodeError::Config(e.to_string()));
        let sealed = seal(response)?;
        if sealed.0.len() <= MAX_RESPONSE_CHUNKS * MAX_CHUNK_LEN {
            return Ok((response.status, sealed));
        }
        self.metrics.errors.with_label_values(&["response_too_large"]).inc();
        let refusal = ResponseEnvelope::status(
            507,
            "InsufficientStorage",
            &format!(
                "the response of {} bytes sealed to {} bytes, more than the {} bytes ({MAX_RESPONSE_CHUNKS} chunks) one answer carries on chain; ask for less, e.g. kubectl --chunk-size or a selector",
                response.body.len(),
                sealed.0.len(),
                MAX_RESPONSE_CHUNKS * MAX_CHUNK_LEN
            ),
        );
        Ok((refusal.status, seal(&refusal)?))
    }

    /// Puts the response on chain: `respond` (+ `close` when it fits), then `respond_more`.
    /// `request_arg` is the request's call argument when already read this life.
    async fn answer(
        &self,
        request: Address,
        request_arg: Option<ObjectArg>,
        status: u16,
        sealed: &Sealed,
    ) -> Result<(), NodeError> {
        let mut client = self.client.clone();
        let request_arg = match request_arg {
            Some(arg) => arg,
            None => match client.object_arg(request).await {
                Ok(arg) => arg,
                // Already answered and deleted, by this node before a crash.
                Err(e) if e.is_gone() => {
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            },
        };
        let chunks = sealed.chunks(MAX_CHUNK_LEN);
        let mut batches = chunks.chunks(CHUNKS_PER_TRANSACTION).map(<[Vec<u8>]>::to_vec).collect::<Vec<_>>();
        if batches.is_empty() {
            batches.push(vec![]);
        }
        let last = batches.len() - 1;
        if last == 0 {
            let record = ResponseRecord {
                status,
                body_len: sealed.0.len() as u64,
                body_digest: sealed.digest(),
                chunk_count: chunks.len() as u32,
                chunks: batches.remove(0),
            };
            let (done, answered) = tokio::sync::oneshot::channel();
            self.answers
                .send(Answer { request: request_arg, record, done })
                .await
                .expect("the batcher runs as long as the node");
            return match answered.await.expect("the batcher always answers") {
                Ok(()) => Ok(()),
                Err(ChainError::Abort { abort: Some(a), .. }) if a.kind == Abort::EAlreadyAnswered => Ok(()),
                Err(e) => Err(e.into()),
            };
        }
        for (i, batch) in batches.into_iter().enumerate() {
            let mut tx = TransactionBuilder::new();
            let built = if i == 0 {
                let record = ResponseRecord {
                    status,
                    body_len: sealed.0.len() as u64,
                    body_digest: sealed.digest(),
                    chunk_count: chunks.len() as u32,
                    chunks: batch,
                };
                self.contract.respond(&mut tx, request_arg, self.cluster_arg, &record)
            } else {
                self.contract.respond_more(&mut tx, request_arg, batch)
            };
            built.map_err(|e| NodeError::Config(e.to_string()))?;
            if i == last {
                self.contract.close(&mut tx, request_arg).map_err(|e| NodeError::Config(e.to_string()))?;
            }
            match self.submit(&mut client, tx).await {
                Ok(()) => {}
                Err(ChainError::Abort { abort: Some(a), .. }) if a.kind == Abort::EAlreadyAnswered && i == 0 => {
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Executes `tx` paying with a pooled gas coin.
    pub(super) async fn submit(&self, client: &mut ChainClient, tx: TransactionBuilder) -> Result<(), ChainError> {
        let result = self.gas.execute(client, &self.keys.signing, tx).await;
        if result.is_ok() {
            self.metrics.answer_transactions.inc();
        }
        result.map(|_| ())
    }
}

/// Puts answers on chain, several to a transaction when several are ready together: each
/// request is its own object, so one transaction can answer many. If a shared transaction
/// fails, its answers are retried one by one so one bad answer does not sink the others.
///
/// `executing` counts the requests being executed now, those whose answers wait here among
/// them: a batch waits for company only while some execution has not answered yet, so a lone
/// request is answered at once and a busy node still shares its transactions.
pub async fn batch_answers(
    processor: std::sync::Arc<Processor>,
    mut answers: tokio::sync::mpsc::Receiver<Answer>,
    executing: impl Fn() -> usize,
) {
    while let Some(first) = answers.recv().await {
        let mut batch = vec![first];
        let mut bytes = batch[0].record.chunks.iter().map(Vec::len).sum::<usize>();
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        while batch.len() < ANSWERS_PER_TRANSACTION && (executing() > batch.len() || !answers.is_empty()) {
            match tokio::time::timeout_at(deadline, answers.recv()).await {
                Ok(Some(next)) => {
                    bytes += next.record.chunks.iter().map(Vec::len).sum::<usize>();
                    batch.push(next);
                    if bytes > BATCH_BYTES {
                        break;
                    }
                }
                _ => break,
            }
        }
        let processor = processor.clone();
        tokio::spawn(async move { processor.submit_answers(batch).await });
    }
}

impl Processor {
    async fn submit_answers(&self, mut batch: Vec<Answer>) {
        let mut client = self.client.clone();
        let build = |answers: &[Answer]| {
            let mut tx = TransactionBuilder::new();
            for a in answers {
                self.contract
                    .respond(&mut tx, a.request, self.cluster_arg, &a.record)
                    .expect("respond matches its signature");
                self.contract.close(&mut tx, a.request).expect("close matches its signature");
            }
            tx
        };
        // Too many bytes for one transaction: the last one goes alone.
        let overflow = (batch.len() > 1
            && batch.iter().map(|a| a.record.chunks.iter().map(Vec::len).sum::<usize>()).sum::<usize>() > BATCH_BYTES)
            .then(|| batch.pop())
            .flatten();
        let result = self.submit(&mut client, build(&batch)).await;
        match result {
            Ok(()) => batch.into_iter().for_each(|a| {
                let _ = a.done.send(Ok(()));
            }),
            Err(e) if batch.len() == 1 => {
                let _ = batch.pop().expect("one").done.send(Err(e));
            }
            Err(_) => {
                for a in batch {
                    let result = self.submit(&mut client, build(std::slice::from_ref(&a))).await;
                    let _ = a.done.send(result);
                }
            }
        }
        if let Some(a) = overflow {
            let result = self.submit(&mut client, build(std::slice::from_ref(&a))).await;
            let _ = a.done.send(result);
        }
    }
}

/// The auditors' keys of the cluster's policy; one that is no X25519 key (the contract checks
/// only its length) is left out, loudly.
fn auditor_keys(auditors: &[Vec<u8>]) -> Vec<PublicKey> {
    auditors
        .iter()
        .filter_map(|key| match PublicKey::from_bytes(key) {
            Ok(key) => Some(key),
            Err(_) => {
                tracing::error!(key = ?key, "an auditor key of the policy is not an X25519 key; sessions are not sealed to it");
                None
            }
        })
        .collect()
}
