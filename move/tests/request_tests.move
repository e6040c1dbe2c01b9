#[test_only]
module kubectl_sui::request_tests;

use kubectl_sui::access;
use kubectl_sui::cluster::{Self, Cluster, ClusterAdminCap};
use kubectl_sui::request::{Self, Request};
use kubectl_sui::seal_token::SealToken;
use kubectl_sui::test_helpers::{Self as h};
use sui::clock::Clock;
use sui::test_scenario::{Self as ts, Scenario};

const VERB_GET: u8 = 0;
const VERB_DELETE: u8 = 6;

/// Submits `verb` on pods in `default` with `sent` of `total` body chunks.
fun submit_with(
    sc: &mut Scenario,
    clock: &Clock,
    verb: u8,
    node: address,
    sealing_key: vector<u8>,
    digest: vector<u8>,
    total: u32,
    sent: u64,
) {
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    let mut chunks = vector[];
    sent.do!(|_| chunks.push_back(x"abcdef"));
    request::submit(
        &c,
        &t,
        node,
        sealing_key,
        h::other_sealing_key(),
        verb,
        b"".to_string(),
        b"pods".to_string(),
        b"default".to_string(),
        b"web-0".to_string(),
        3 * sent,
        digest,
        total,
        chunks,
        clock,
        sc.ctx(),
    );
    ts::return_shared(t);
    ts::return_shared(c);
}

fun submit(sc: &mut Scenario, clock: &Clock, verb: u8, total: u32, sent: u64) {
    submit_with(sc, clock, verb, h::node(), h::sealing_key(), h::digest(), total, sent);
}

/// A user with an edit token and the minimum stake, at a fresh transaction.
fun setup_user(): (Scenario, Clock) {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), h::min_write_stake(), access::role_edit());
    (sc, clock)
}

fun respond(sc: &mut Scenario, clock: &Clock, total: u32, sent: u64) {
    let c = sc.take_shared<Cluster>();
    let mut r = sc.take_shared<Request>();
    let mut chunks = vector[];
    sent.do!(|_| chunks.push_back(x"0102"));
    r.respond(&c, 200, 2 * sent, h::digest(), total, chunks, clock, sc.ctx());
    ts::return_shared(r);
    ts::return_shared(c);
}

#[test]
fun full_round_trip() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 2, 2);
    let effects = sc.next_tx(h::node());
    // RequestSubmitted + 2 RequestChunk.
    assert!(effects.num_user_events() == 3);
    assert!(effects.created().length() == 1);
    let r = sc.take_shared<Request>();
    assert!(r.requester() == h::user() && r.node() == h::node());
    assert!(r.chunks_received() == 2 && !r.is_answered());
    ts::return_shared(r);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 1);
    let effects = sc.next_tx(h::node());
    // ResponseStored + 1 ResponseChunk.
    assert!(effects.num_user_events() == 2);
    let r = sc.take_shared<Request>();
    assert!(r.is_answered());
    r.close(sc.ctx());
    let effects = sc.next_tx(h::node());
    assert!(effects.deleted().length() == 1);
    assert!(!ts::has_most_recent_shared<Request>());
    h::finish(sc, clock);
}

#[test]
fun large_bodies_span_transactions() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 3, 1);
    sc.next_tx(h::user());
    let mut r = sc.take_shared<Request>();
    r.upload(vector[x"01", x"02"], sc.ctx());
    assert!(r.chunks_received() == 3);
    ts::return_shared(r);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 3, 0);
    sc.next_tx(h::node());
    let mut r = sc.take_shared<Request>();
    r.respond_more(vector[x"01", x"02"], sc.ctx());
    r.respond_more(vector[x"03"], sc.ctx());
    r.close(sc.ctx());
    h::finish(sc, clock);
}

#[test]
fun requester_cancels_unanswered_request() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.cancel(&clock, sc.ctx());
    let effects = sc.next_tx(h::user());
    assert!(effects.num_user_events() == 1 && effects.deleted().length() == 1);
    h::finish(sc, clock);
}

#[test]
fun previous_sealing_key_still_accepted_after_rotation() {
    let (mut sc, clock) = setup_user();
    sc.next_tx(h::node());
    let mut c = sc.take_shared<Cluster>();
    cluster::rotate_sealing_key(&mut c, h::other_sealing_key(), sc.ctx());
    ts::return_shared(c);
    sc.next_tx(h::user());
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = access::EInvalidVerb)]
fun unknown_verb_is_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, 9, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = kubectl_sui::seal_token::EPermissionDenied)]
fun submit_checks_the_token() {
    let (mut sc, clock) = h::setup();
    h::stake(&mut sc, &clock, h::user(), h::min_write_stake(), access::role_view());
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::ENodeNotActive)]
fun unregistered_node_is_refused() {
    let (mut sc, clock) = setup_user();
    submit_with(&mut sc, &clock, VERB_GET, @0x1234, h::sealing_key(), h::digest(), 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::ENodeNotActive)]
fun debug_node_is_inactive_when_policy_forbids() {
    let (mut sc, clock) = h::setup_with(false, access::role_edit());
    h::stake(&mut sc, &clock, h::user(), 0, access::role_view());
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::EUnknownSealingKey)]
fun body_sealed_to_unknown_key_is_refused() {
    let (mut sc, clock) = setup_user();
    submit_with(&mut sc, &clock, VERB_GET, h::node(), h::other_sealing_key(), h::digest(), 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun short_digest_is_refused() {
    let (mut sc, clock) = setup_user();
    submit_with(&mut sc, &clock, VERB_GET, h::node(), h::sealing_key(), x"01", 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::EInvalidReplyKey)]
fun short_reply_key_is_refused() {
    let (mut sc, clock) = setup_user();
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    request::submit(
        &c, &t, h::node(), h::sealing_key(), x"01", VERB_GET,
        b"".to_string(), b"pods".to_string(), b"default".to_string(), b"".to_string(),
        0, h::digest(), 0, vector[], &clock, sc.ctx(),
    );
    abort 0
}

#[test, expected_failure(abort_code = request::EFieldTooLong)]
fun overlong_name_is_refused() {
    let (mut sc, clock) = setup_user();
    let c = sc.take_shared<Cluster>();
    let t = sc.take_shared<SealToken>();
    let mut name = vector[];
    254u64.do!(|_| name.push_back(0x61));
    request::submit(
        &c, &t, h::node(), h::sealing_key(), h::other_sealing_key(), VERB_GET,
        b"".to_string(), b"pods".to_string(), b"default".to_string(), name.to_string(),
        0, h::digest(), 0, vector[], &clock, sc.ctx(),
    );
    abort 0
}

#[test, expected_failure(abort_code = request::ETooManyChunks)]
fun more_chunks_than_announced_is_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 1, 2);
    abort 0
}

#[test, expected_failure(abort_code = request::ETooManyChunks)]
fun upload_beyond_announced_count_is_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 1, 1);
    sc.next_tx(h::user());
    let mut r = sc.take_shared<Request>();
    r.upload(vector[x"01"], sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotRequester)]
fun only_requester_uploads() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 2, 1);
    sc.next_tx(h::stranger());
    let mut r = sc.take_shared<Request>();
    r.upload(vector[x"01"], sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAddressedNode)]
fun only_addressed_node_responds() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::stranger());
    respond(&mut sc, &clock, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::ENodeNotActive)]
fun removed_node_cannot_respond() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::admin());
    let mut c = sc.take_shared<Cluster>();
    let cap = sc.take_from_sender<ClusterAdminCap>();
    cluster::remove_node(&cap, &mut c, h::node());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::ERequestIncomplete)]
fun response_waits_for_full_body() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 2, 1);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::EAlreadyAnswered)]
fun second_response_is_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 0);
    abort 0
}

#[test, expected_failure(abort_code = request::EInvalidDigest)]
fun response_digest_must_be_32_bytes() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    let c = sc.take_shared<Cluster>();
    let mut r = sc.take_shared<Request>();
    r.respond(&c, 200, 0, x"00", 0, vector[], &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ETooManyChunks)]
fun response_chunks_beyond_count_are_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 1);
    sc.next_tx(h::node());
    let mut r = sc.take_shared<Request>();
    r.respond_more(vector[x"01"], sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAnswered)]
fun respond_more_needs_a_response() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    let mut r = sc.take_shared<Request>();
    r.respond_more(vector[x"01"], sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAnswered)]
fun close_needs_a_response() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    let r = sc.take_shared<Request>();
    r.close(sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EResponseIncomplete)]
fun close_needs_every_response_chunk() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 2, 1);
    sc.next_tx(h::node());
    let r = sc.take_shared<Request>();
    r.close(sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAddressedNode)]
fun only_addressed_node_closes() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    sc.next_tx(h::stranger());
    let r = sc.take_shared<Request>();
    r.close(sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotRequester)]
fun only_requester_cancels() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::stranger());
    let r = sc.take_shared<Request>();
    r.cancel(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EAlreadyAnswered)]
fun answered_request_cannot_be_cancelled() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 0);
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.cancel(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EClusterMismatch)]
fun response_through_another_cluster_is_refused() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_GET, 0, 0);
    sc.next_tx(h::admin());
    cluster::create_cluster(b"other".to_string(), 0, 1, 0, true, 1, false, sc.ctx());
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    abort 0
}

fun start(sc: &mut Scenario, clock: &Clock) {
    let c = sc.take_shared<Cluster>();
    let mut r = sc.take_shared<Request>();
    r.start(&c, clock, sc.ctx());
    ts::return_shared(r);
    ts::return_shared(c);
}

#[test]
fun a_started_write_is_answered_as_usual() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    let effects = sc.next_tx(h::node());
    // RequestStarted.
    assert!(effects.num_user_events() == 1);
    let r = sc.take_shared<Request>();
    assert!(r.is_started() && !r.is_answered());
    ts::return_shared(r);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    sc.next_tx(h::node());
    let r = sc.take_shared<Request>();
    r.close(sc.ctx());
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = request::ERequestStarted)]
fun a_started_request_cannot_be_cancelled() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.cancel(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ERequestStarted)]
fun a_request_starts_once() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAddressedNode)]
fun only_addressed_node_starts() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    sc.next_tx(h::stranger());
    start(&mut sc, &clock);
    abort 0
}

#[test, expected_failure(abort_code = request::ERequestIncomplete)]
fun start_waits_for_full_body() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 2, 1);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    abort 0
}

#[test, expected_failure(abort_code = request::EAlreadyAnswered)]
fun an_answered_request_cannot_start() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_DELETE, 0, 0);
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 1, 0);
    sc.next_tx(h::node());
    start(&mut sc, &clock);
    abort 0
}

const VERB_WATCH: u8 = 2;

fun open_stream(sc: &mut Scenario, clock: &Clock, frames: u64) {
    let c = sc.take_shared<Cluster>();
    let mut r = sc.take_shared<Request>();
    let mut data = vector[];
    frames.do!(|_| data.push_back(x"f0"));
    r.open_stream(&c, 200, data, clock, sc.ctx());
    ts::return_shared(r);
    ts::return_shared(c);
}

fun stream_frames(sc: &mut Scenario, frames: u64) {
    let c = sc.take_shared<Cluster>();
    let mut r = sc.take_shared<Request>();
    let mut data = vector[];
    frames.do!(|_| data.push_back(x"f1"));
    r.stream(&c, data, sc.ctx());
    ts::return_shared(r);
    ts::return_shared(c);
}

/// A watch submitted by the user and opened as a stream by the node with one frame.
fun opened_watch(): (Scenario, Clock) {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_WATCH, 0, 0);
    sc.next_tx(h::node());
    open_stream(&mut sc, &clock, 1);
    (sc, clock)
}

#[test]
fun a_stream_opens_carries_numbered_frames_and_ends_once() {
    let (mut sc, clock) = opened_watch();
    let effects = sc.next_tx(h::node());
    // StreamOpened + 1 StreamFrame.
    assert!(effects.num_user_events() == 2);
    let r = sc.take_shared<Request>();
    assert!(r.is_answered() && r.is_streaming() && r.frames_sent() == 1);
    ts::return_shared(r);
    sc.next_tx(h::node());
    stream_frames(&mut sc, 3);
    let effects = sc.next_tx(h::node());
    assert!(effects.num_user_events() == 3);
    let r = sc.take_shared<Request>();
    assert!(r.frames_sent() == 4);
    r.end_stream(0, &clock, sc.ctx());
    let effects = sc.next_tx(h::node());
    // StreamEnded, and the request is gone.
    assert!(effects.num_user_events() == 1 && effects.deleted().length() == 1);
    assert!(!ts::has_most_recent_shared<Request>());
    h::finish(sc, clock);
}

#[test]
fun the_requester_hangs_up_a_stream() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.hang_up(&clock, sc.ctx());
    let effects = sc.next_tx(h::user());
    assert!(effects.num_user_events() == 1 && effects.deleted().length() == 1);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = request::ENotRequester)]
fun only_the_requester_hangs_up() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::stranger());
    let r = sc.take_shared<Request>();
    r.hang_up(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotStreaming)]
fun an_unopened_request_cannot_be_hung_up() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_WATCH, 0, 0);
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.hang_up(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EInvalidEndReason)]
fun a_node_cannot_claim_the_client_hung_up() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::node());
    let r = sc.take_shared<Request>();
    r.end_stream(4, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAddressedNode)]
fun only_the_addressed_node_sends_frames() {
    let (mut sc, _clock) = opened_watch();
    sc.next_tx(h::stranger());
    stream_frames(&mut sc, 1);
    abort 0
}

#[test, expected_failure(abort_code = request::ENotAddressedNode)]
fun only_the_addressed_node_ends_a_stream() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::stranger());
    let r = sc.take_shared<Request>();
    r.end_stream(0, &clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::ENodeNotActive)]
fun a_removed_node_cannot_send_frames() {
    let (mut sc, _clock) = opened_watch();
    sc.next_tx(h::admin());
    let cap = sc.take_from_sender<ClusterAdminCap>();
    let mut c = sc.take_shared<Cluster>();
    cluster::remove_node(&cap, &mut c, h::node());
    ts::return_shared(c);
    sc.return_to_sender(cap);
    sc.next_tx(h::node());
    stream_frames(&mut sc, 1);
    abort 0
}

#[test, expected_failure(abort_code = request::ENotStreaming)]
fun frames_need_an_open_stream() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_WATCH, 0, 0);
    sc.next_tx(h::node());
    stream_frames(&mut sc, 1);
    abort 0
}

#[test, expected_failure(abort_code = request::EStreaming)]
fun a_stream_is_not_closed_like_an_answer() {
    let (mut sc, _clock) = opened_watch();
    sc.next_tx(h::node());
    let r = sc.take_shared<Request>();
    r.close(sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EAlreadyAnswered)]
fun an_open_stream_cannot_be_cancelled() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::user());
    let r = sc.take_shared<Request>();
    r.cancel(&clock, sc.ctx());
    abort 0
}

#[test, expected_failure(abort_code = request::EAlreadyAnswered)]
fun an_open_stream_cannot_also_be_answered() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::node());
    respond(&mut sc, &clock, 0, 0);
    abort 0
}

fun send_input(sc: &mut Scenario, first_index: u32, frames: u64) {
    let r = sc.take_shared<Request>();
    let mut data = vector[];
    frames.do!(|_| data.push_back(x"e0"));
    r.send_input(first_index, data, sc.ctx());
    ts::return_shared(r);
}

#[test]
fun the_requester_sends_numbered_input_into_an_open_session() {
    let (mut sc, clock) = opened_watch();
    sc.next_tx(h::user());
    send_input(&mut sc, 0, 3);
    let effects = sc.next_tx(h::user());
    // Three SessionInput events; the request is only read.
    assert!(effects.num_user_events() == 3);
    send_input(&mut sc, 3, 1);
    let effects = sc.next_tx(h::node());
    assert!(effects.num_user_events() == 1);
    let r = sc.take_shared<Request>();
    assert!(r.frames_sent() == 1);
    ts::return_shared(r);
    h::finish(sc, clock);
}

#[test, expected_failure(abort_code = request::ENotRequester)]
fun only_the_requester_sends_input() {
    let (mut sc, _clock) = opened_watch();
    sc.next_tx(h::stranger());
    send_input(&mut sc, 0, 1);
    abort 0
}

#[test, expected_failure(abort_code = request::ENotStreaming)]
fun no_input_before_the_session_opens() {
    let (mut sc, clock) = setup_user();
    submit(&mut sc, &clock, VERB_WATCH, 0, 0);
    sc.next_tx(h::user());
    send_input(&mut sc, 0, 1);
    abort 0
}

#[test, expected_failure(abort_code = request::EInvalidInputIndex)]
fun input_indices_stay_within_a_session() {
    let (mut sc, _clock) = opened_watch();
    sc.next_tx(h::user());
    send_input(&mut sc, 1048576, 1);
    abort 0
}
