//! The chain round trip of one request: sealed, submitted to the contract (with `upload`s
//! for bodies too large for one transaction), and its sealed response taken from the
//! [`ResponseRouter`] and opened; or, for a watch or a followed log, its stream of sealed
//! frames opened in order as they pass ([`OpenStream`]), until it ends or the caller hangs up.
//! A session (exec, attach, port-forward) is such a stream whose frames are WebSocket
//! messages, with the requester's own messages going the other way ([`SessionInput`]).

use std::time::Duration;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;
use sui_transaction_builder::TransactionBuilder;
use tokio::sync::RwLock;

use super::router::{ResponseRouter, Routed, StreamEvent, StreamStart};
use crate::chain::{ChainClient, ChainError, Executed, GasPool};
use crate::contract::calls::{MAX_CHUNK_LEN, Submission};
use crate::contract::events::RequestSubmitted;
use crate::contract::objects::{Cluster, SealToken};
use crate::contract::{Abort, Contract, EndReason, ObjectArg, Verb};
use crate::envelope::{
    Binding, EnvelopeError, Frame, FrameOrder, Message, MessageAssembly, PublicKey, RequestAttributes, RequestEnvelope,
    RequestInfo, ResponseEnvelope, Sealed, SecretKey, SessionKey,
};

/// Largest WebSocket message of a session the proxy puts back together from the node's frames.
pub const SESSION_MESSAGE_MAX: usize = 1024 * 1024;

/// Input frames per `request::send_input` transaction: 7 × 16 KiB stays under Sui's 128 KiB.
pub const INPUT_FRAMES_PER_TRANSACTION: usize = 7;

/// Chunks carried by the `submit` transaction itself; the rest go in `upload`s of 7.
const FIRST_CHUNKS: usize = 6;
const UPLOAD_CHUNKS: usize = 7;

/// Largest response accepted (decompressed): bigger than any object the API server returns.
const MAX_RESPONSE_BODY: usize = 256 * 1024 * 1024;

/// How long an answer that beat the cancel may take to arrive.
const ANSWER_GRACE: Duration = Duration::from_secs(30);

/// Gas coins a requester keeps, so that many requests can be in flight at once.
const GAS_COINS: usize = 8;

/// Why a round trip failed.
#[derive(Debug, thiserror::Error)]
pub enum RoundTripError {
    /// The request is not one the chain path carries.
    #[error(transparent)]
    Attributes(#[from] crate::envelope::RequestInfoError),
    /// Sealing or opening failed.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The chain refused or failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// No node answered in time.
    #[error("no response from node {node} of cluster {cluster} within {waited:?}; {gave_up}")]
    Timeout {
        /// The node.
        node: Address,
        /// The cluster.
        cluster: Address,
        /// How long.
        waited: Duration,
        /// What became of the request when the proxy gave up.
        gave_up: GaveUp,
    },
    /// The cluster has no node that may answer.
    #[error("cluster {0} has no active node; its admin must register one (`kubectl sui cluster node add`)")]
    NoNode(Address),
    /// The checkpoint stream stopped.
    #[error("the proxy stopped following the chain")]
    RouterStopped,
    /// A node opened a stream whose first frame is not the API server's headers.
    #[error("node {node} opened a stream without its headers")]
    StreamWithoutHead {
        /// The node.
        node: Address,
    },
    /// A node answered an exec, attach or port-forward with a stream that is not a session
    /// (its first frame carries no session key), so no input can be sent to it.
    #[error("node {node} answered a session with a stream that carries no session key")]
    NotASession {
        /// The node.
        node: Address,
    },
}

/// What the node answered: one response, or a stream to read as it passes on chain.
#[derive(Debug)]
pub enum Reply {
    /// A whole response.
    Response(ResponseEnvelope),
    /// A watch, a followed log or a session, open.
    Stream(Box<OpenStream>),
}

/// What an open stream gives next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamItem {
    /// Body bytes, as the API server wrote them.
    Data(Vec<u8>),
    /// A whole WebSocket message of a session, as the API server sent it.
    Message(Message),
    /// The API server closed a session's WebSocket (its code and reason).
    Closed {
        /// WebSocket close code.
        code: u16,
        /// Its reason.
        reason: String,
    },
    /// The end, final on chain.
    End {
        /// Why.
        reason: Option<EndReason>,
        /// Frames it carried.
        frames: u32,
    },
}

/// A stream the node opened: the API server's status and headers, then its body in frames.
#[derive(Debug)]
pub struct OpenStream {
    /// HTTP status.
    pub status: u16,
    /// The API server's headers.
    pub headers: Vec<(String, String)>,
    /// The request id.
    pub request: Address,
    /// The node answering, and the key the request was sealed to (a session's input is too).
    pub node: NodeTarget,
    cluster: Address,
    reply: SecretKey,
    /// A session's key, from its first frame: every later frame is sealed with it.
    session: Option<SessionKey>,
    events: tokio::sync::mpsc::UnboundedReceiver<StreamEvent>,
    order: FrameOrder,
    assembly: MessageAssembly,
    ready: std::collections::VecDeque<StreamItem>,
}

impl OpenStream {
    /// Reads frames until the head (frame 0) opens, within `wait`.
    async fn begin(
        start: StreamStart,
        cluster: Address,
        request: Address,
        node: NodeTarget,
        reply: SecretKey,
        wait: Duration,
    ) -> Result<OpenStream, RoundTripError> {
        let node_address = node.address;
        let mut stream = OpenStream {
            status: start.status,
            headers: vec![],
            request,
            node,
            cluster,
            reply,
            session: None,
            events: start.events,
            order: FrameOrder::default(),
            assembly: MessageAssembly::new(SESSION_MESSAGE_MAX),
            ready: Default::default(),
        };
        let head = tokio::time::timeout(wait, async {
            loop {
                let Some(StreamEvent::Frame(index, data)) = stream.events.recv().await else {
                    return Ok::<_, EnvelopeError>(None);
                };
                let mut head = None;
                for (index, data) in stream.order.add(index, data)? {
                    if index > 0 {
                        let frame = stream.open(index, &data)?;
                        stream.take(frame)?;
                        continue;
                    }
                    match Frame::open(&data, &stream.reply, cluster, request, index)? {
                        Frame::Head { headers } => head = Some(headers),
                        Frame::Open { headers, key } => {
                            stream.session = Some(SessionKey::from_bytes(key));
                            head = Some(headers);
                        }
                        _ => return Ok(None),
                    }
                }
                if head.is_some() {
                    return Ok(head);
                }
            }
        })
        .await;
        match head {
            Ok(Ok(Some(headers))) => {
                stream.headers = headers;
                Ok(stream)
            }
            Ok(Err(e)) => Err(e.into()),
            _ => Err(RoundTripError::StreamWithoutHead { node: node_address }),
        }
    }

    /// Opens frame `index` (after the head): with the session's key for a session, else
    /// with the reply key.
    fn open(&self, index: u32, data: &[u8]) -> Result<Frame, EnvelopeError> {
        match &self.session {
            Some(key) => key.open_frame(data, self.cluster, self.request, index),
            None => Frame::open(data, &self.reply, self.cluster, self.request, index),
        }
    }

    /// Queues what an opened frame after the head gives: bytes, a message once whole, a close.
    fn take(&mut self, frame: Frame) -> Result<(), EnvelopeError> {
        match frame {
            Frame::Data(bytes) => self.ready.push_back(StreamItem::Data(bytes)),
            Frame::Message { binary, data, last, at_ms } => {
                if let Some(message) = self.assembly.add(binary, data, last, at_ms)? {
                    self.ready.push_back(StreamItem::Message(message));
                }
            }
            Frame::Close { code, reason } => self.ready.push_back(StreamItem::Closed { code, reason }),
            Frame::Head { .. } | Frame::Open { .. } => {}
        }
        Ok(())
    }

    /// The next body bytes or the end; `None` once the end was given (or the proxy stopped
    /// following the chain). A frame that does not open ends the stream with an error.
    pub async fn next(&mut self) -> Option<Result<StreamItem, RoundTripError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(Ok(item));
            }
            match self.events.recv().await? {
                StreamEvent::Frame(index, data) => {
                    let released = match self.order.add(index, data) {
                        Ok(released) => released,
                        Err(e) => return Some(Err(e.into())),
                    };
                    for (index, data) in released {
                        let taken = self.open(index, &data).and_then(|frame| self.take(frame));
                        if let Err(e) = taken {
                            return Some(Err(e.into()));
                        }
                    }
                }
                StreamEvent::Ended { reason, frames, .. } => {
                    self.ready.push_back(StreamItem::End { reason: EndReason::from_code(reason), frames });
                }
            }
        }
    }

    /// Reads the whole stream into one response (for callers that want one).
    pub async fn collect(mut self) -> Result<ResponseEnvelope, RoundTripError> {
        let mut body = Vec::new();
        while let Some(item) = self.next().await {
            match item? {
                StreamItem::Data(bytes) => body.extend_from_slice(&bytes),
                StreamItem::Message(message) => body.extend_from_slice(&message.data),
                StreamItem::Closed { .. } => {}
                StreamItem::End { .. } => break,
            }
        }
        Ok(ResponseEnvelope { status: self.status, headers: self.headers, body })
    }
}

/// The requester's side of a session's input: numbers its frames, seals each with the
/// session's key, bound to its index, and sends them with `request::send_input`.
#[derive(Debug, Clone)]
pub struct SessionInput {
    request: Address,
    /// The request object as a transaction input, read when the first input is sent (a
    /// session that takes no input may be over, its request deleted, before the proxy could
    /// read it).
    request_arg: std::sync::Arc<tokio::sync::OnceCell<ObjectArg>>,
    key: SessionKey,
    next_index: u32,
}

impl SessionInput {
    /// Takes the next `count` input indices and returns the first: frames are numbered when
    /// they are sent, so transactions in flight together may land in any order.
    pub fn reserve(&mut self, count: usize) -> u32 {
        let first = self.next_index;
        self.next_index += count as u32;
        first
    }
}

/// What became of a request the proxy gave up waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GaveUp {
    /// Cancelled on chain: it never runs.
    #[error("the request was cancelled on chain, so it will not run")]
    Cancelled,
    /// The node had started it (a write) before the cancel: it may have taken effect.
    #[error("the node had already started running it, so it may have taken effect: check the object before retrying")]
    Started,
    /// The cancel itself failed (the chain unreachable, no gas): it may still run.
    #[error("it could not be cancelled on chain, so it may still run: check the object before retrying a write")]
    NotCancelled,
}

/// The node requests are addressed to, and the key they are sealed to.
#[derive(Debug, Clone)]
pub struct NodeTarget {
    /// The node's address.
    pub address: Address,
    /// Its current sealing key.
    pub sealing_key: PublicKey,
}

/// One requester's way to one cluster's node.
#[derive(Debug)]
pub struct RoundTrip {
    client: ChainClient,
    key: Ed25519PrivateKey,
    cluster: Address,
    cluster_arg: ObjectArg,
    token: Address,
    token_arg: ObjectArg,
    /// The node addressed, and the router's count of cluster events when it was read.
    node: RwLock<Option<(NodeTarget, u64)>>,
    gas: GasPool,
    router: ResponseRouter,
    timeout: Duration,
}

impl RoundTrip {
    /// Prepares `key`'s requests to `cluster` with seal token `token`: reads the cluster's
    /// active node (if it has one yet), pools gas coins, and starts following the chain.
    pub async fn connect(
        mut client: ChainClient,
        key: Ed25519PrivateKey,
        cluster: Address,
        token: Address,
        timeout: Duration,
    ) -> Result<RoundTrip, RoundTripError> {
        let me = key.public_key().derive_address();
        let router = ResponseRouter::start(client.clone(), me, cluster).await?;
        let seen = router.cluster_changes();
        let node = match active_node(&mut client, cluster).await {
            Ok(node) => Some((node, seen)),
            Err(RoundTripError::NoNode(_)) => None,
            Err(e) => return Err(e),
        };
        let node = RwLock::new(node);
        let cluster_arg = client.object_arg(cluster).await?;
        let token_arg = client.object_arg(token).await?;
        let gas = GasPool::prepare(&mut client, &key, me, GAS_COINS).await?;
        Ok(RoundTrip { client, key, cluster, cluster_arg, token, token_arg, node, gas, router, timeout })
    }

    /// The cluster.
    pub fn cluster(&self) -> Address {
        self.cluster
    }

    /// The node currently addressed, reading the cluster again if it had none or if the
    /// cluster changed since (a withdrawn enclave image, a policy forbidding debug nodes, a
    /// removed node, a new key): nothing is sealed to a node the cluster no longer accepts once
    /// the change has passed in a checkpoint.
    pub async fn node(&self) -> Result<NodeTarget, RoundTripError> {
        if let Some((node, seen)) = self.node.read().await.clone()
            && seen == self.router.cluster_changes()
        {
            return Ok(node);
        }
        self.refresh_node().await
    }

    async fn refresh_node(&self) -> Result<NodeTarget, RoundTripError> {
        // Read the count first: a change passing during the read makes the next call read again.
        let seen = self.router.cluster_changes();
        let node = active_node(&mut self.client.clone(), self.cluster).await;
        let node = match node {
            Ok(node) => node,
            Err(e) => {
                *self.node.write().await = None;
                return Err(e);
            }
        };
        *self.node.write().await = Some((node.clone(), seen));
        Ok(node)
    }

    /// The chain client.
    pub fn client(&self) -> &ChainClient {
        &self.client
    }

    /// The seal token's object id.
    pub fn token_id(&self) -> Address {
        self.token
    }

    /// The requester's public key: the proxy accepts bearer tokens it signed.
    pub fn requester_key(&self) -> sui_sdk_types::Ed25519PublicKey {
        self.key.public_key()
    }

    /// The seal token, as the chain has it now.
    pub async fn token(&self) -> Result<SealToken, ChainError> {
        self.client.clone().move_object(self.token).await
    }

    /// Seals `request` (its target rebuilt by [`RequestInfo`]), submits it, and waits for
    /// the node's answer (a stream read to its end).
    pub async fn call(&self, request: &RequestEnvelope) -> Result<ResponseEnvelope, RoundTripError> {
        let info = RequestInfo::parse(&request.method, &request.path)?;
        let canonical = RequestEnvelope { path: info.uri(), ..request.clone() };
        self.call_with_attributes(&canonical, info.attributes()).await
    }

    /// As [`RoundTrip::call`], publishing `attributes` as the audit metadata. Only a client
    /// that lies about its request would pass others than the request's own; the node
    /// refuses those, and tests check it does.
    pub async fn call_with_attributes(
        &self,
        request: &RequestEnvelope,
        attributes: RequestAttributes,
    ) -> Result<ResponseEnvelope, RoundTripError> {
        match self.exchange(request, attributes).await? {
            Reply::Response(response) => Ok(response),
            Reply::Stream(stream) => stream.collect().await,
        }
    }

    /// As [`RoundTrip::call_with_attributes`], handing a stream back open.
    pub async fn exchange(
        &self,
        request: &RequestEnvelope,
        attributes: RequestAttributes,
    ) -> Result<Reply, RoundTripError> {
        match self.try_call(request, &attributes).await {
            // The node rotated its key or was replaced since the proxy read the cluster.
            Err(RoundTripError::Chain(ChainError::Abort { abort: Some(a), .. }))
                if a.kind == Abort::EUnknownSealingKey || a.kind == Abort::ENodeNotActive =>
            {
                self.refresh_node().await?;
                self.try_call(request, &attributes).await
            }
            other => other,
        }
    }

    /// The input side of the open session `stream`.
    pub async fn session_input(&self, stream: &OpenStream) -> Result<SessionInput, RoundTripError> {
        let key = stream.session.clone().ok_or(RoundTripError::NotASession { node: stream.node.address })?;
        Ok(SessionInput { request: stream.request, request_arg: Default::default(), key, next_index: 0 })
    }

    /// Sends `frames` (at most [`INPUT_FRAMES_PER_TRANSACTION`]) as the session's input frames
    /// `first_index`, `first_index + 1`, ... (reserved with [`SessionInput::reserve`]), in one
    /// transaction.
    pub async fn send_input(
        &self,
        input: &SessionInput,
        first_index: u32,
        frames: &[Frame],
    ) -> Result<(), RoundTripError> {
        let mut sealed = Vec::with_capacity(frames.len());
        for (i, frame) in frames.iter().enumerate() {
            sealed.push(input.key.seal_input(frame, self.cluster, input.request, first_index + i as u32)?);
        }
        let request_arg = *input
            .request_arg
            .get_or_try_init(|| async { self.client.clone().object_arg(input.request).await })
            .await?;
        let mut tx = TransactionBuilder::new();
        Contract::new(self.client.package())
            .send_input(&mut tx, request_arg, first_index, sealed)
            .expect("send_input matches its signature");
        self.execute(tx).await?;
        Ok(())
    }

    /// Ends an open stream from this side (`request::hang_up`): kubectl went away. A stream
    /// that has ended already (its request object is gone, perhaps while this ran) needs
    /// nothing more: that is not an error.
    pub async fn hang_up(&self, request: Address) -> Result<(), RoundTripError> {
        self.router.forget(request);
        let request_arg = match self.client.clone().object_arg(request).await {
            Ok(arg) => arg,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut tx = TransactionBuilder::new();
        Contract::new(self.client.package()).hang_up(&mut tx, request_arg).expect("hang_up matches its signature");
        match self.execute(tx).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_gone() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn try_call(
        &self,
        request: &RequestEnvelope,
        attributes: &RequestAttributes,
    ) -> Result<Reply, RoundTripError> {
        let node = self.node().await?;
        let requester = self.key.public_key().derive_address();
        let reply = SecretKey::generate();
        let binding = Binding::Request { cluster: self.cluster, requester, audit: attributes.digest() };
        let sealed = Sealed::seal(request, &node.sealing_key, &binding)?;
        let chunks = sealed.chunks(MAX_CHUNK_LEN);
        let contract = Contract::new(self.client.package());
        let submission = Submission {
            node: node.address,
            sealing_key: node.sealing_key.to_bytes().to_vec(),
            reply_key: reply.public_key().to_bytes().to_vec(),
            verb: Verb::from_code(attributes.verb).expect("attributes carry a verb"),
            group: attributes.group.clone(),
            resource: attributes.resource.clone(),
            namespace: attributes.namespace.clone(),
            name: attributes.name.clone(),
            body_len: sealed.0.len() as u64,
            body_digest: sealed.digest(),
            chunk_count: chunks.len() as u32,
            chunks: chunks.iter().take(FIRST_CHUNKS).cloned().collect(),
        };
        let mut tx = TransactionBuilder::new();
        contract.submit(&mut tx, self.cluster_arg, self.token_arg, &submission).expect("submit matches its signature");
        let submitted = self.execute(tx).await?;
        let request_id = submitted.events_of::<RequestSubmitted>()[0].request_id;
        if chunks.len() > FIRST_CHUNKS {
            let request_arg = self.client.clone().object_arg(request_id).await?;
            for batch in chunks[FIRST_CHUNKS..].chunks(UPLOAD_CHUNKS) {
                let mut tx = TransactionBuilder::new();
                contract.upload(&mut tx, request_arg, batch.to_vec()).expect("upload matches its signature");
                self.execute(tx).await?;
            }
        }
        let routed = match tokio::time::timeout(self.timeout, self.router.wait(request_id)).await {
            Ok(Some(routed)) => routed,
            Ok(None) => return Err(RoundTripError::RouterStopped),
            Err(_) => return self.give_up(request_id, node, reply).await,
        };
        self.reply_of(routed, request_id, node, reply).await
    }

    /// Opens what the router handed out.
    async fn reply_of(
        &self,
        routed: Routed,
        request: Address,
        node: NodeTarget,
        reply: SecretKey,
    ) -> Result<Reply, RoundTripError> {
        match routed {
            Routed::Response(sealed) => {
                let binding = Binding::Response { cluster: self.cluster, request };
                Ok(Reply::Response(sealed?.open(&reply, &binding, MAX_RESPONSE_BODY)?))
            }
            Routed::Stream(start) => {
                let stream = OpenStream::begin(start, self.cluster, request, node, reply, self.timeout).await;
                if stream.is_err() {
                    let _ = self.hang_up(request).await;
                }
                Ok(Reply::Stream(Box::new(stream?)))
            }
        }
    }

    /// No answer in time: cancel on chain, so the node never starts the request. If the
    /// node answered first (the cancel is refused as answered), its answer is what the caller
    /// gets; if it started a write first (refused as started), the proxy waits for its answer
    /// once more as long: a write that ran is never reported as not run.
    async fn give_up(&self, request_id: Address, node: NodeTarget, reply: SecretKey) -> Result<Reply, RoundTripError> {
        let node_address = node.address;
        let timeout = |gave_up| RoundTripError::Timeout {
            node: node_address,
            cluster: self.cluster,
            waited: self.timeout,
            gave_up,
        };
        let mut client = self.client.clone();
        let cancelled = async {
            let request = client.object_arg(request_id).await?;
            let mut tx = TransactionBuilder::new();
            Contract::new(self.client.package()).cancel(&mut tx, request).expect("cancel matches its signature");
            self.execute(tx).await
        }
        .await;
        let (late, grace) = match cancelled {
            Ok(_) => {
                self.router.forget(request_id);
                return Err(timeout(GaveUp::Cancelled));
            }
            Err(ChainError::Abort { abort: Some(a), .. }) if a.kind == Abort::EAlreadyAnswered => {
                (GaveUp::NotCancelled, ANSWER_GRACE)
            }
            Err(ChainError::Abort { abort: Some(a), .. }) if a.kind == Abort::ERequestStarted => {
                (GaveUp::Started, self.timeout.max(ANSWER_GRACE))
            }
            Err(e) => {
                tracing::warn!(request = %request_id, error = %e, "could not cancel the request on chain");
                self.router.forget(request_id);
                return Err(timeout(GaveUp::NotCancelled));
            }
        };
        match tokio::time::timeout(grace, self.router.wait(request_id)).await {
            Ok(Some(routed)) => self.reply_of(routed, request_id, node, reply).await,
            _ => {
                self.router.forget(request_id);
                Err(timeout(late))
            }
        }
    }

    async fn execute(&self, tx: TransactionBuilder) -> Result<Executed, ChainError> {
        self.gas.execute(&mut self.client.clone(), &self.key, tx).await
    }
}

/// The first node of `cluster` allowed to answer (attested with a measurement the policy still
/// accepts, or debug when the policy allows them) that has a sealing key: the proxy never
/// seals to a node the policy no longer accepts.
async fn active_node(client: &mut ChainClient, cluster: Address) -> Result<NodeTarget, RoundTripError> {
    let object: Cluster = client.move_object(cluster).await?;
    object
        .nodes
        .contents
        .iter()
        .filter(|e| object.is_active_node(&e.key))
        .find_map(|e| {
            Some(NodeTarget { address: e.key, sealing_key: PublicKey::from_bytes(&e.value.sealing_key).ok()? })
        })
        .ok_or(RoundTripError::NoNode(cluster))
}

#[cfg(test)]
mod tests;
