/// A Kubernetes API request and its response, carried through the chain.
///
/// This module owns `Request`, one shared object per kubectl call, and the events the node
/// and the proxy follow. Audit metadata (who, verb, group, resource, namespace, name, sizes,
/// digests, times) is public; bodies arrive already sealed (HPKE, by the client) and are only
/// carried as chunk events. Because each call has its own `Request`, and the cluster and the
/// token are read-only inputs, calls never contend with each other. The `Request` object is
/// deleted when its response is complete, so a request is answered exactly once.
///
/// A watch or a followed log is a stream: the node opens it (`open_stream`, the API server's
/// status and the first sealed frames), sends numbered sealed frames (`stream`) as the API
/// server produces them, and ends it with a reason (`end_stream`); the requester may hang up
/// (`hang_up`). Every end deletes the `Request` and is recorded in `StreamEnded`, with the
/// frame count, so each stream is one line of the audit trail.
///
/// An interactive session (`pods/exec`, `pods/attach`, `pods/portforward`) is a stream that
/// also carries frames the other way: the requester sends its sealed, numbered input frames
/// with `send_input` while the stream is open. The node numbers nothing for it: each frame is
/// sealed bound to its index, so the node refuses a frame out of place, and the events keep
/// both directions of a session on the record in chain order.
module kubectl_sui::request;

use kubectl_sui::access;
use kubectl_sui::cluster::Cluster;
use kubectl_sui::seal_token::SealToken;
use std::string::String;
use sui::clock::Clock;
use sui::event;

/// The target node is not registered, or is a debug node and the policy forbids them.
const ENodeNotActive: u64 = 40;
/// The body is sealed to a key that is neither the node's current nor previous sealing key.
const EUnknownSealingKey: u64 = 41;
/// A digest is not 32 bytes.
const EInvalidDigest: u64 = 42;
/// The reply key (X25519, for sealing the response) is not 32 bytes.
const EInvalidReplyKey: u64 = 43;
/// group, resource, namespace or name is longer than Kubernetes allows (253 bytes).
const EFieldTooLong: u64 = 44;
/// More chunks than announced, or more than the maximum.
const ETooManyChunks: u64 = 45;
/// Only the requester may upload chunks to or cancel this request.
const ENotRequester: u64 = 46;
/// Only the node the request is addressed to may answer it.
const ENotAddressedNode: u64 = 47;
/// The request body is not fully uploaded yet.
const ERequestIncomplete: u64 = 48;
/// The request already has a response.
const EAlreadyAnswered: u64 = 49;
/// The request has no response yet.
const ENotAnswered: u64 = 50;
/// Not all response chunks have been sent yet.
const EResponseIncomplete: u64 = 51;
/// The cluster given is not the request's cluster.
const EClusterMismatch: u64 = 52;
/// The node has started running the request: it can no longer be cancelled, nor started again.
const ERequestStarted: u64 = 53;
/// The request is not a stream (it was answered with `respond`, or not yet).
const ENotStreaming: u64 = 54;
/// The request is a stream: it ends with `end_stream` or `hang_up`, not `close`.
const EStreaming: u64 = 55;
/// The end reason is not one of the `END_*` codes a node may give.
const EInvalidEndReason: u64 = 56;

/// The first index of an input batch plus its length overflows, or is past the most frames one
/// session direction carries.
const EInvalidInputIndex: u64 = 57;

/// Why a stream ended (`StreamEnded.reason`): the API server ended it (timeout, pod exit).
const END_COMPLETED: u8 = 0;
/// The requester's token was revoked, expired, or lost the permission while it ran.
const END_TOKEN: u8 = 1;
/// A limit of the cluster's node (duration, bytes, frames) was reached.
const END_LIMIT: u8 = 2;
/// The node failed or restarted while it ran.
const END_NODE: u8 = 3;
/// The requester hung up (`hang_up`); a node cannot give this reason.
const END_CLIENT: u8 = 4;

const DIGEST_LENGTH: u64 = 32;
const KEY_LENGTH: u64 = 32;
const MAX_FIELD_LENGTH: u64 = 253;
/// 4096 chunks of at most 16 KiB (Sui's pure-argument limit): 64 MiB of sealed body.
const MAX_CHUNKS: u32 = 4096;
/// Most frames one stream carries (16 GiB of sealed frames); a node's limits end it sooner.
const MAX_STREAM_FRAMES: u32 = 1048576;

public struct Request has key {
    id: UID,
    cluster_id: ID,
    requester: address,
    node: address,
    chunk_count: u32,
    chunks_received: u32,
    answered: bool,
    response_chunk_count: u32,
    response_chunks_sent: u32,
    /// The node has started running the request (a write): a cancel is refused from here on.
    started: bool,
    /// The node answered with a stream (`open_stream`): it ends with `end_stream` or `hang_up`.
    streaming: bool,
    /// Stream frames sent so far.
    frames_sent: u32,
}

/// The audit record of a call, and the node's signal to fetch its chunks.
public struct RequestSubmitted has copy, drop {
    request_id: ID,
    cluster_id: ID,
    token_id: ID,
    requester: address,
    node: address,
    verb: u8,
    group: String,
    resource: String,
    namespace: String,
    name: String,
    body_len: u64,
    body_digest: vector<u8>,
    chunk_count: u32,
    sealing_key: vector<u8>,
    reply_key: vector<u8>,
    timestamp_ms: u64,
}

public struct RequestChunk has copy, drop {
    request_id: ID,
    index: u32,
    data: vector<u8>,
}

public struct ResponseStored has copy, drop {
    request_id: ID,
    cluster_id: ID,
    node: address,
    status: u16,
    body_len: u64,
    body_digest: vector<u8>,
    chunk_count: u32,
    timestamp_ms: u64,
}

public struct ResponseChunk has copy, drop {
    request_id: ID,
    index: u32,
    data: vector<u8>,
}

/// A node began running a write: from here on the requester cannot cancel it.
public struct RequestStarted has copy, drop {
    request_id: ID,
    node: address,
    timestamp_ms: u64,
}

/// A node opened a stream in answer (a watch, a followed log), with the API server's status.
public struct StreamOpened has copy, drop {
    request_id: ID,
    cluster_id: ID,
    node: address,
    status: u16,
    timestamp_ms: u64,
}

/// One sealed frame of a stream, numbered from 0.
public struct StreamFrame has copy, drop {
    request_id: ID,
    index: u32,
    data: vector<u8>,
}

/// A stream ended: who ended it, why (`END_*`), and how many frames it carried.
public struct StreamEnded has copy, drop {
    request_id: ID,
    cluster_id: ID,
    ended_by: address,
    reason: u8,
    frames: u32,
    timestamp_ms: u64,
}

/// One sealed input frame of an interactive session, from its requester, numbered from 0.
public struct SessionInput has copy, drop {
    request_id: ID,
    index: u32,
    data: vector<u8>,
}

public struct RequestCancelled has copy, drop {
    request_id: ID,
    requester: address,
    timestamp_ms: u64,
}

/// Authorises a call with the token, records it, and shares its `Request`. `chunks` holds
/// the first (or all) of the `chunk_count` sealed body chunks; `upload` sends the rest.
public fun submit(
    cluster: &Cluster,
    token: &SealToken,
    node: address,
    sealing_key: vector<u8>,
    reply_key: vector<u8>,
    verb: u8,
    group: String,
    resource: String,
    namespace: String,
    name: String,
    body_len: u64,
    body_digest: vector<u8>,
    chunk_count: u32,
    chunks: vector<vector<u8>>,
    clock: &Clock,
    ctx: &mut TxContext,
) {
    cluster.assert_current();
    access::assert_verb(verb);
    let now = clock.timestamp_ms();
    token.assert_authorized(cluster, ctx.sender(), verb, &group, &resource, &namespace, &name, now);
    assert!(cluster.is_active_node(node), ENodeNotActive);
    assert!(cluster.accepts_sealing_key(node, &sealing_key), EUnknownSealingKey);
    assert!(reply_key.length() == KEY_LENGTH, EInvalidReplyKey);
    assert!(body_digest.length() == DIGEST_LENGTH, EInvalidDigest);
    assert!(
        group.length() <= MAX_FIELD_LENGTH && resource.length() <= MAX_FIELD_LENGTH
            && namespace.length() <= MAX_FIELD_LENGTH && name.length() <= MAX_FIELD_LENGTH,
        EFieldTooLong,
    );
    assert!(chunk_count <= MAX_CHUNKS && (chunks.length() as u64) <= (chunk_count as u64), ETooManyChunks);
    let mut request = Request {
        id: object::new(ctx),
        cluster_id: object::id(cluster),
        requester: ctx.sender(),
        node,
        chunk_count,
        chunks_received: 0,
        answered: false,
        response_chunk_count: 0,
        response_chunks_sent: 0,
        started: false,
        streaming: false,
        frames_sent: 0,
    };
    event::emit(RequestSubmitted {
        request_id: object::id(&request),
        cluster_id: request.cluster_id,
        token_id: object::id(token),
        requester: request.requester,
        node,
        verb,
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
    request.emit_request_chunks(chunks);
    transfer::share_object(request);
}

/// Requester: sends further body chunks of a request too large for one transaction.
public fun upload(request: &mut Request, chunks: vector<vector<u8>>, ctx: &TxContext) {
    assert!(request.requester == ctx.sender(), ENotRequester);
    assert!(
        (request.chunks_received as u64) + chunks.length() <= (request.chunk_count as u64),
        ETooManyChunks,
    );
    request.emit_request_chunks(chunks);
}

/// Node: marks a complete, unanswered request as running, before a write reaches the
/// cluster. Consensus orders it against the requester's `cancel`: whichever lands first wins,
/// so a write never runs after a successful cancel, and a cancel that comes too late says so.
public fun start(request: &mut Request, cluster: &Cluster, clock: &Clock, ctx: &TxContext) {
    cluster.assert_current();
    assert!(request.cluster_id == object::id(cluster), EClusterMismatch);
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(cluster.is_active_node(request.node), ENodeNotActive);
    assert!(request.chunks_received == request.chunk_count, ERequestIncomplete);
    assert!(!request.answered, EAlreadyAnswered);
    assert!(!request.started, ERequestStarted);
    request.started = true;
    event::emit(RequestStarted { request_id: object::id(request), node: request.node, timestamp_ms: clock.timestamp_ms() });
}

/// Node: records the response status and metadata and its first (or all) sealed chunks.
public fun respond(
    request: &mut Request,
    cluster: &Cluster,
    status: u16,
    body_len: u64,
    body_digest: vector<u8>,
    chunk_count: u32,
    chunks: vector<vector<u8>>,
    clock: &Clock,
    ctx: &TxContext,
) {
    cluster.assert_current();
    assert!(request.cluster_id == object::id(cluster), EClusterMismatch);
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(cluster.is_active_node(request.node), ENodeNotActive);
    assert!(request.chunks_received == request.chunk_count, ERequestIncomplete);
    assert!(!request.answered, EAlreadyAnswered);
    assert!(body_digest.length() == DIGEST_LENGTH, EInvalidDigest);
    assert!(chunk_count <= MAX_CHUNKS && (chunks.length() as u64) <= (chunk_count as u64), ETooManyChunks);
    request.answered = true;
    request.response_chunk_count = chunk_count;
    event::emit(ResponseStored {
        request_id: object::id(request),
        cluster_id: request.cluster_id,
        node: request.node,
        status,
        body_len,
        body_digest,
        chunk_count,
        timestamp_ms: clock.timestamp_ms(),
    });
    request.emit_response_chunks(chunks);
}

/// Node: sends further response chunks.
public fun respond_more(request: &mut Request, chunks: vector<vector<u8>>, ctx: &TxContext) {
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(request.answered, ENotAnswered);
    assert!(
        (request.response_chunks_sent as u64) + chunks.length() <= (request.response_chunk_count as u64),
        ETooManyChunks,
    );
    request.emit_response_chunks(chunks);
}

/// Node: deletes the answered request once every response chunk is out (storage rebate).
public fun close(request: Request, ctx: &TxContext) {
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(request.answered, ENotAnswered);
    assert!(!request.streaming, EStreaming);
    assert!(request.response_chunks_sent == request.response_chunk_count, EResponseIncomplete);
    let Request { id, .. } = request;
    id.delete();
}

/// Requester: withdraws a request no node has answered or started (e.g. after a timeout).
public fun cancel(request: Request, clock: &Clock, ctx: &TxContext) {
    assert!(request.requester == ctx.sender(), ENotRequester);
    assert!(!request.answered, EAlreadyAnswered);
    assert!(!request.started, ERequestStarted);
    let request_id = object::id(&request);
    let Request { id, requester, .. } = request;
    id.delete();
    event::emit(RequestCancelled { request_id, requester, timestamp_ms: clock.timestamp_ms() });
}

/// Node: answers a complete, unanswered request with a stream: the API server's `status` and
/// the first sealed frames. From here on the request is answered (a cancel is refused).
public fun open_stream(
    request: &mut Request,
    cluster: &Cluster,
    status: u16,
    frames: vector<vector<u8>>,
    clock: &Clock,
    ctx: &TxContext,
) {
    cluster.assert_current();
    assert!(request.cluster_id == object::id(cluster), EClusterMismatch);
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(cluster.is_active_node(request.node), ENodeNotActive);
    assert!(request.chunks_received == request.chunk_count, ERequestIncomplete);
    assert!(!request.answered, EAlreadyAnswered);
    request.answered = true;
    request.streaming = true;
    event::emit(StreamOpened {
        request_id: object::id(request),
        cluster_id: request.cluster_id,
        node: request.node,
        status,
        timestamp_ms: clock.timestamp_ms(),
    });
    request.emit_frames(frames);
}

/// Node: sends further sealed frames of an open stream, while it is still an active node.
public fun stream(request: &mut Request, cluster: &Cluster, frames: vector<vector<u8>>, ctx: &TxContext) {
    cluster.assert_current();
    assert!(request.cluster_id == object::id(cluster), EClusterMismatch);
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(cluster.is_active_node(request.node), ENodeNotActive);
    assert!(request.streaming, ENotStreaming);
    request.emit_frames(frames);
}

/// Node: ends a stream for `reason` (an `END_*` code other than `END_CLIENT`) and deletes it.
public fun end_stream(request: Request, reason: u8, clock: &Clock, ctx: &TxContext) {
    assert!(request.node == ctx.sender(), ENotAddressedNode);
    assert!(request.streaming, ENotStreaming);
    assert!(
        reason == END_COMPLETED || reason == END_TOKEN || reason == END_LIMIT || reason == END_NODE,
        EInvalidEndReason,
    );
    request.finish_stream(ctx.sender(), reason, clock);
}

/// Requester: hangs up an open stream (kubectl closed the connection) and deletes it; the
/// node's next frame finds it gone and stops.
public fun hang_up(request: Request, clock: &Clock, ctx: &TxContext) {
    assert!(request.requester == ctx.sender(), ENotRequester);
    assert!(request.streaming, ENotStreaming);
    request.finish_stream(ctx.sender(), END_CLIENT, clock);
}

/// Requester: sends sealed input frames `first_index`, `first_index + 1`, ... into an open
/// session (exec, attach, port-forward). The request is only read: input and the node's
/// frames do not contend for it.
public fun send_input(request: &Request, first_index: u32, frames: vector<vector<u8>>, ctx: &TxContext) {
    assert!(request.requester == ctx.sender(), ENotRequester);
    assert!(request.streaming, ENotStreaming);
    assert!((first_index as u64) + frames.length() <= (MAX_STREAM_FRAMES as u64), EInvalidInputIndex);
    let request_id = object::id(request);
    let mut index = first_index;
    frames.do!(|data| {
        event::emit(SessionInput { request_id, index, data });
        index = index + 1;
    });
}

public fun requester(request: &Request): address { request.requester }

public fun node(request: &Request): address { request.node }

public fun is_answered(request: &Request): bool { request.answered }

public fun is_started(request: &Request): bool { request.started }

public fun chunks_received(request: &Request): u32 { request.chunks_received }

public fun is_streaming(request: &Request): bool { request.streaming }

public fun frames_sent(request: &Request): u32 { request.frames_sent }

fun finish_stream(request: Request, ended_by: address, reason: u8, clock: &Clock) {
    let request_id = object::id(&request);
    let Request { id, cluster_id, frames_sent, .. } = request;
    id.delete();
    event::emit(StreamEnded {
        request_id,
        cluster_id,
        ended_by,
        reason,
        frames: frames_sent,
        timestamp_ms: clock.timestamp_ms(),
    });
}

fun emit_frames(request: &mut Request, frames: vector<vector<u8>>) {
    assert!(
        (request.frames_sent as u64) + frames.length() <= (MAX_STREAM_FRAMES as u64),
        ETooManyChunks,
    );
    let request_id = object::id(request);
    frames.do!(|data| {
        event::emit(StreamFrame { request_id, index: request.frames_sent, data });
        request.frames_sent = request.frames_sent + 1;
    });
}

fun emit_request_chunks(request: &mut Request, chunks: vector<vector<u8>>) {
    let request_id = object::id(request);
    chunks.do!(|data| {
        event::emit(RequestChunk { request_id, index: request.chunks_received, data });
        request.chunks_received = request.chunks_received + 1;
    });
}

fun emit_response_chunks(request: &mut Request, chunks: vector<vector<u8>>) {
    let request_id = object::id(request);
    chunks.do!(|data| {
        event::emit(ResponseChunk { request_id, index: request.response_chunks_sent, data });
        request.response_chunks_sent = request.response_chunks_sent + 1;
    });
}
