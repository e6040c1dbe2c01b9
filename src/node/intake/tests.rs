//! The intake's rules, without a chain or a cluster.

use super::*;
use crate::envelope::digest;

const ALICE: Address = Address::from_static("0xa");
const BOB: Address = Address::from_static("0xb");

fn limits() -> Limits {
    Limits {
        max_sealed_body: 1000,
        max_sealed_read_body: 100,
        max_open_per_requester: 2,
        max_buffered_bytes: 1500,
        upload_ttl_ms: 60_000,
    }
}

fn submitted(id: u8, requester: Address, verb: Verb, body: &[u8], chunks: u32, at_ms: u64) -> RequestSubmitted {
    RequestSubmitted {
        request_id: Address::new([id; 32]),
        cluster_id: Address::ZERO,
        token_id: Address::ZERO,
        requester,
        node: Address::ZERO,
        verb: verb.code(),
        group: String::new(),
        resource: "configmaps".into(),
        namespace: "default".into(),
        name: String::new(),
        body_len: body.len() as u64,
        body_digest: digest(body).to_vec(),
        chunk_count: chunks,
        sealing_key: vec![0; 32],
        reply_key: vec![0; 32],
        timestamp_ms: at_ms,
    }
}

fn chunk(id: u8, index: u32, data: &[u8]) -> RequestChunk {
    RequestChunk { request_id: Address::new([id; 32]), index, data: data.to_vec() }
}

fn ids(ready: &[Ready]) -> Vec<u8> {
    ready.iter().map(|r| r.id().inner()[0]).collect()
}

#[test]
fn a_request_is_handed_out_once_complete_in_any_chunk_order() {
    let mut intake = Intake::new(limits());
    intake.submitted(submitted(1, ALICE, Verb::Create, b"hello world", 2, 0), 5);
    assert!(intake.take_ready().is_empty());
    intake.chunk(chunk(1, 1, b" world"));
    assert!(intake.take_ready().is_empty());
    intake.chunk(chunk(1, 0, b"hello"));
    let ready = intake.take_ready();
    assert!(matches!(&ready[..], [Ready::Execute { sealed, .. }] if sealed.0 == b"hello world"));
    assert_eq!(intake.buffered_bytes(), 0);
    assert!(intake.take_ready().is_empty(), "handed out once");
    intake.submitted(submitted(1, ALICE, Verb::Create, b"hello world", 2, 0), 6);
    assert!(intake.take_ready().is_empty(), "a replayed event does not hand it out again");
}

#[test]
fn the_cursor_never_passes_an_open_request() {
    let mut intake = Intake::new(limits());
    assert_eq!(intake.cursor(9), 10);
    intake.submitted(submitted(1, ALICE, Verb::Create, b"ab", 2, 0), 5);
    intake.submitted(submitted(2, BOB, Verb::Create, b"x", 1, 0), 7);
    intake.chunk(chunk(2, 0, b"x"));
    assert_eq!(ids(&intake.take_ready()), [2]);
    assert_eq!(intake.cursor(9), 5, "arriving");
    intake.chunk(chunk(1, 0, b"a"));
    intake.chunk(chunk(1, 1, b"b"));
    assert_eq!(ids(&intake.take_ready()), [1]);
    assert_eq!(intake.cursor(9), 5, "running");
    intake.finished(&Address::new([1; 32]));
    assert_eq!(intake.cursor(9), 7);
    intake.finished(&Address::new([2; 32]));
    assert_eq!(intake.cursor(9), 10);
}

#[test]
fn one_requester_cannot_hold_more_than_its_share() {
    let mut intake = Intake::new(limits());
    for id in 1..=3 {
        intake.submitted(submitted(id, ALICE, Verb::Get, b"", 0, 0), 1);
    }
    intake.submitted(submitted(4, BOB, Verb::Get, b"", 0, 0), 1);
    let mut ready = intake.take_ready();
    ready.sort_by_key(Ready::id);
    let refused: Vec<_> = ready.iter().filter(|r| matches!(r, Ready::Refuse { .. })).collect();
    assert_eq!(refused.len(), 1, "{ready:?}");
    assert!(
        matches!(refused[0], Ready::Refuse { refusal: Refusal::TooManyOpen { requester, .. }, .. } if *requester == ALICE)
    );
    assert_eq!(
        refused
            .iter()
            .map(|r| match r {
                Ready::Refuse { refusal, .. } => refusal.status(),
                _ => 0,
            })
            .next(),
        Some(429)
    );
    for r in &ready {
        intake.finished(&r.id());
    }
    intake.submitted(submitted(5, ALICE, Verb::Get, b"", 0, 0), 2);
    assert!(matches!(&intake.take_ready()[..], [Ready::Execute { .. }]), "answered ones free the share");
}

#[test]
fn bodies_are_bounded_by_verb_and_in_total() {
    let mut intake = Intake::new(limits());
    intake.submitted(submitted(1, ALICE, Verb::Get, &[0; 101], 1, 0), 1);
    intake.chunk(chunk(1, 0, &[0; 101]));
    let ready = intake.take_ready();
    assert!(matches!(&ready[..], [Ready::Refuse { refusal: Refusal::TooLarge { verb: "read", .. }, .. }]), "{ready:?}");
    assert_eq!(intake.buffered_bytes(), 0, "a refused body is counted, not kept");
    intake.submitted(submitted(2, ALICE, Verb::Create, &[0; 1001], 1, 0), 1);
    intake.submitted(submitted(3, BOB, Verb::Create, &[0; 900], 1, 0), 1);
    intake.submitted(submitted(4, BOB, Verb::Create, &[0; 900], 1, 0), 1);
    assert_eq!(intake.buffered_bytes(), 900);
    for id in 2..=4 {
        intake.chunk(chunk(id, 0, &[0; 900]));
    }
    let mut ready = intake.take_ready();
    ready.sort_by_key(Ready::id);
    assert!(matches!(&ready[0], Ready::Refuse { refusal: Refusal::TooLarge { verb: "write", .. }, .. }));
    assert!(matches!(&ready[2], Ready::Refuse { refusal: Refusal::Busy { .. }, .. }), "{ready:?}");
}

#[test]
fn more_bytes_than_announced_or_a_wrong_digest_is_refused_not_run() {
    let mut intake = Intake::new(limits());
    intake.submitted(submitted(1, ALICE, Verb::Create, b"abc", 2, 0), 1);
    intake.chunk(chunk(1, 0, b"abc"));
    intake.chunk(chunk(1, 1, b"abc"));
    assert!(matches!(&intake.take_ready()[..], [Ready::Refuse { refusal: Refusal::Malformed(_), .. }]));
    assert_eq!(intake.buffered_bytes(), 0);
    intake.submitted(submitted(2, ALICE, Verb::Create, b"abc", 1, 0), 1);
    intake.chunk(chunk(2, 0, b"abd"));
    assert!(matches!(&intake.take_ready()[..], [Ready::Refuse { refusal: Refusal::Malformed(_), .. }]));
}

#[test]
fn an_upload_that_never_finishes_expires_and_frees_everything() {
    let mut intake = Intake::new(limits());
    intake.submitted(submitted(1, ALICE, Verb::Create, &[0; 500], 4096, 1_000), 3);
    assert_eq!((intake.buffered_bytes(), intake.cursor(9)), (500, 3));
    assert!(intake.expire(60_000).is_empty(), "not yet");
    assert_eq!(intake.expire(61_001), [Address::new([1; 32])]);
    assert_eq!((intake.buffered_bytes(), intake.open_requests(), intake.cursor(9)), (0, 0, 10));
}

#[test]
fn a_cancelled_request_is_forgotten() {
    let mut intake = Intake::new(limits());
    intake.submitted(submitted(1, ALICE, Verb::Create, b"ab", 2, 0), 3);
    intake.chunk(chunk(1, 0, b"a"));
    intake.gone(&Address::new([1; 32]));
    intake.chunk(chunk(1, 1, b"b"));
    assert!(intake.take_ready().is_empty());
    assert_eq!((intake.buffered_bytes(), intake.open_requests(), intake.cursor(9)), (0, 0, 10));
}

#[test]
fn an_answer_on_chain_frees_the_share_at_once_and_a_cancel_of_a_running_request_does_not() {
    let mut intake = Intake::new(limits()); // a share of 2 open requests
    for id in 1..=2 {
        intake.submitted(submitted(id, ALICE, Verb::Get, b"", 0, 0), 1);
    }
    assert!(intake.take_ready().iter().all(|r| matches!(r, Ready::Execute { .. })));
    // Cancelled while running: still counted, or cancelling would buy more executions.
    intake.gone(&Address::new([1; 32]));
    intake.submitted(submitted(3, ALICE, Verb::Get, b"", 0, 0), 2);
    assert!(matches!(&intake.take_ready()[..], [Ready::Refuse { refusal: Refusal::TooManyOpen { .. }, .. }]));
    intake.finished(&Address::new([3; 32]));
    // Its answer seen on chain, before the answering task finished: the share is free.
    intake.answered(&Address::new([2; 32]));
    intake.submitted(submitted(4, ALICE, Verb::Get, b"", 0, 0), 3);
    assert!(matches!(&intake.take_ready()[..], [Ready::Execute { .. }]), "the answered one no longer counts");
    // The task finishing later releases nothing twice.
    intake.finished(&Address::new([2; 32]));
    intake.submitted(submitted(5, ALICE, Verb::Get, b"", 0, 0), 4);
    assert!(matches!(&intake.take_ready()[..], [Ready::Refuse { .. }]), "1 and 4 still count");
}
