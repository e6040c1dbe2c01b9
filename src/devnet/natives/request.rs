//! `request.move`: a request's submission, upload, start, answer, close and cancel, and a
//! stream's opening, frames and end, and a session's input.

use sui_sdk_types::{Address, ExecutionError, Owner};

use super::Call;
use super::cluster::is_active_node;
use super::{DIGEST_LENGTH, KEY_LENGTH, MAX_CHUNKS, MAX_FIELD_LENGTH};
use crate::contract::Abort;
use crate::contract::events::*;
use crate::contract::objects::*;
use crate::contract::{EndReason, Verb, access};

pub(super) fn submit(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let cluster = c.cluster(0)?;
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
        !sealing_key.is_empty()
            && (n.sealing_key == sealing_key
                || (!n.previous_sealing_key.is_empty() && n.previous_sealing_key == sealing_key))
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
        streaming: false,
        frames_sent: 0,
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

pub(super) fn upload(c: &mut Call<'_>) -> Result<(), ExecutionError> {
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

pub(super) fn start(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster = c.cluster(1)?;
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

pub(super) fn respond(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster = c.cluster(1)?;
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

pub(super) fn emit_response_chunks(c: &mut Call<'_>, request: &mut Request, chunks: Vec<Vec<u8>>) {
    for data in chunks {
        c.emit(&ResponseChunk { request_id: request.id, index: request.response_chunks_sent, data });
        request.response_chunks_sent += 1;
    }
}

pub(super) fn respond_more(c: &mut Call<'_>) -> Result<(), ExecutionError> {
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

pub(super) fn close(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(request.answered, Abort::ENotAnswered)?;
    c.ensure(!request.streaming, Abort::EStreaming)?;
    c.ensure(request.response_chunks_sent == request.response_chunk_count, Abort::EResponseIncomplete)?;
    c.session.delete(request.id);
    Ok(())
}

pub(super) fn cancel(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    c.clock(1)?;
    c.ensure(request.requester == c.sender(), Abort::ENotRequester)?;
    c.ensure(!request.answered, Abort::EAlreadyAnswered)?;
    c.ensure(!request.started, Abort::ERequestStarted)?;
    c.session.delete(request.id);
    c.emit(&RequestCancelled { request_id: request.id, requester: request.requester, timestamp_ms: c.now() });
    Ok(())
}

/// `request::MAX_STREAM_FRAMES`.
const MAX_STREAM_FRAMES: u32 = 1_048_576;

pub(super) fn open_stream(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster = c.cluster(1)?;
    let status: u16 = c.pure(2)?;
    let frames: Vec<Vec<u8>> = c.pure(3)?;
    c.clock(4)?;
    c.ensure(request.cluster_id == cluster.id, Abort::EClusterMismatch)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(is_active_node(&cluster, &request.node), Abort::ENodeNotActive)?;
    c.ensure(request.chunks_received == request.chunk_count, Abort::ERequestIncomplete)?;
    c.ensure(!request.answered, Abort::EAlreadyAnswered)?;
    request.answered = true;
    request.streaming = true;
    c.emit(&StreamOpened {
        request_id: request.id,
        cluster_id: request.cluster_id,
        node: request.node,
        status,
        timestamp_ms: c.now(),
    });
    emit_frames(c, &mut request, frames)?;
    c.store(request.id, &request);
    Ok(())
}

pub(super) fn stream(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let mut request: Request = c.load(0)?;
    let cluster = c.cluster(1)?;
    let frames: Vec<Vec<u8>> = c.pure(2)?;
    c.ensure(request.cluster_id == cluster.id, Abort::EClusterMismatch)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(is_active_node(&cluster, &request.node), Abort::ENodeNotActive)?;
    c.ensure(request.streaming, Abort::ENotStreaming)?;
    emit_frames(c, &mut request, frames)?;
    c.store(request.id, &request);
    Ok(())
}

pub(super) fn end_stream(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    let reason: u8 = c.pure(1)?;
    c.clock(2)?;
    c.ensure(request.node == c.sender(), Abort::ENotAddressedNode)?;
    c.ensure(request.streaming, Abort::ENotStreaming)?;
    let by_node = EndReason::from_code(reason).is_some_and(|r| r != EndReason::Client);
    c.ensure(by_node, Abort::EInvalidEndReason)?;
    finish_stream(c, &request, reason);
    Ok(())
}

pub(super) fn hang_up(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    c.clock(1)?;
    c.ensure(request.requester == c.sender(), Abort::ENotRequester)?;
    c.ensure(request.streaming, Abort::ENotStreaming)?;
    finish_stream(c, &request, EndReason::Client.code());
    Ok(())
}

pub(super) fn send_input(c: &mut Call<'_>) -> Result<(), ExecutionError> {
    let request: Request = c.load(0)?;
    let first_index: u32 = c.pure(1)?;
    let frames: Vec<Vec<u8>> = c.pure(2)?;
    c.ensure(request.requester == c.sender(), Abort::ENotRequester)?;
    c.ensure(request.streaming, Abort::ENotStreaming)?;
    c.ensure(u64::from(first_index) + frames.len() as u64 <= u64::from(MAX_STREAM_FRAMES), Abort::EInvalidInputIndex)?;
    for (index, data) in (first_index..).zip(frames) {
        c.emit(&SessionInput { request_id: request.id, index, data });
    }
    Ok(())
}

fn finish_stream(c: &mut Call<'_>, request: &Request, reason: u8) {
    c.session.delete(request.id);
    c.emit(&StreamEnded {
        request_id: request.id,
        cluster_id: request.cluster_id,
        ended_by: c.sender(),
        reason,
        frames: request.frames_sent,
        timestamp_ms: c.now(),
    });
}

fn emit_frames(c: &mut Call<'_>, request: &mut Request, frames: Vec<Vec<u8>>) -> Result<(), ExecutionError> {
    c.ensure(
        u64::from(request.frames_sent) + frames.len() as u64 <= u64::from(MAX_STREAM_FRAMES),
        Abort::ETooManyChunks,
    )?;
    for data in frames {
        c.emit(&StreamFrame { request_id: request.id, index: request.frames_sent, data });
        request.frames_sent += 1;
    }
    Ok(())
}
