use proptest::prelude::*;
use sui_sdk_types::Address;

use super::*;

const MIB: usize = 1024 * 1024;

fn request_binding() -> Binding {
    Binding::Request {
        cluster: Address::from_static("0xc1"),
        requester: Address::from_static("0xa11ce"),
        audit: [3; 32],
    }
}

fn request(body: Vec<u8>) -> RequestEnvelope {
    RequestEnvelope {
        method: "PUT".into(),
        path: "/api/v1/namespaces/default/configmaps/big?fieldManager=kubectl".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    }
}

fn random_bytes(len: usize) -> Vec<u8> {
    use rand_core::RngCore;
    let mut bytes = vec![0; len];
    rand_core::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn reassemble(sealed: &Sealed, chunks: Vec<(u32, Vec<u8>)>, count: usize) -> Result<Sealed, EnvelopeError> {
    let mut r = Reassembly::new(count as u32, sealed.0.len() as u64, sealed.digest());
    for (i, c) in chunks {
        r.add(i, c)?;
    }
    r.finish()
}

#[test]
fn bodies_of_every_size_round_trip_byte_exact_through_chunks() {
    let key = SecretKey::generate();
    for len in [0, 1024, 100 * 1024, MIB, 5 * MIB] {
        let message = request(random_bytes(len));
        let sealed = Sealed::seal(&message, &key.public_key(), &request_binding()).unwrap();
        let chunks = sealed.chunks(crate::contract::calls::MAX_CHUNK_LEN);
        assert!(chunks.iter().all(|c| c.len() <= crate::contract::calls::MAX_CHUNK_LEN));
        let count = chunks.len();
        // Arrival order does not matter, the index does.
        let shuffled: Vec<(u32, Vec<u8>)> = chunks.into_iter().enumerate().rev().map(|(i, c)| (i as u32, c)).collect();
        let back = reassemble(&sealed, shuffled, count).unwrap();
        let opened: RequestEnvelope = back.open(&key, &request_binding(), 6 * MIB).unwrap();
        assert_eq!(opened, message, "{len} bytes");
    }
}

#[test]
fn compression_shrinks_kubernetes_json() {
    let key = SecretKey::generate();
    let json = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"nginx"}]}}"#.repeat(50);
    let sealed = Sealed::seal(&request(json.clone()), &key.public_key(), &request_binding()).unwrap();
    assert!(sealed.0.len() < json.len() / 5, "{} sealed bytes for {} bytes of JSON", sealed.0.len(), json.len());
}

#[test]
fn a_tampered_ciphertext_does_not_open() {
    let key = SecretKey::generate();
    let sealed = Sealed::seal(&request(b"secret".to_vec()), &key.public_key(), &request_binding()).unwrap();
    for position in [1, KEY_LENGTH + 1, sealed.0.len() - 1] {
        let mut tampered = sealed.clone();
        tampered.0[position] ^= 1;
        let err = tampered.open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err();
        assert_eq!(err, EnvelopeError::Open, "flipped byte {position}");
    }
}

#[test]
fn a_ciphertext_replayed_into_another_request_or_cluster_does_not_open() {
    let key = SecretKey::generate();
    let sealed = Sealed::seal(&request(b"secret".to_vec()), &key.public_key(), &request_binding()).unwrap();
    let other_cluster = Binding::Request {
        cluster: Address::from_static("0xc2"),
        requester: Address::from_static("0xa11ce"),
        audit: [3; 32],
    };
    let other_requester = Binding::Request {
        cluster: Address::from_static("0xc1"),
        requester: Address::from_static("0xb0b"),
        audit: [3; 32],
    };
    let other_metadata = Binding::Request {
        cluster: Address::from_static("0xc1"),
        requester: Address::from_static("0xa11ce"),
        audit: [4; 32],
    };
    let as_response =
        Binding::Response { cluster: Address::from_static("0xc1"), request: Address::from_static("0x4e") };
    for binding in [other_cluster, other_requester, other_metadata, as_response] {
        assert_eq!(
            sealed.open::<RequestEnvelope>(&key, &binding, MIB).unwrap_err(),
            EnvelopeError::Open,
            "{binding:?}"
        );
    }
    let response = ResponseEnvelope { status: 200, headers: vec![], body: b"{}".to_vec() };
    let for_request_1 =
        Binding::Response { cluster: Address::from_static("0xc1"), request: Address::from_static("0x1") };
    let for_request_2 =
        Binding::Response { cluster: Address::from_static("0xc1"), request: Address::from_static("0x2") };
    let sealed = Sealed::seal(&response, &key.public_key(), &for_request_1).unwrap();
    assert_eq!(sealed.open::<ResponseEnvelope>(&key, &for_request_2, MIB).unwrap_err(), EnvelopeError::Open);
    assert_eq!(sealed.open::<ResponseEnvelope>(&key, &for_request_1, MIB).unwrap(), response);
}

#[test]
fn another_key_does_not_open() {
    let sealed = Sealed::seal(&request(vec![1]), &SecretKey::generate().public_key(), &request_binding()).unwrap();
    let err = sealed.open::<RequestEnvelope>(&SecretKey::generate(), &request_binding(), MIB).unwrap_err();
    assert_eq!(err, EnvelopeError::Open);
}

#[test]
fn missing_duplicated_reordered_and_stray_chunks_are_rejected() {
    let key = SecretKey::generate();
    let sealed = Sealed::seal(&request(random_bytes(40_000)), &key.public_key(), &request_binding()).unwrap();
    let chunks = sealed.chunks(16_382);
    assert_eq!(chunks.len(), 3);
    let indexed = || chunks.iter().cloned().enumerate().map(|(i, c)| (i as u32, c)).collect::<Vec<_>>();

    let mut missing = indexed();
    missing.remove(1);
    assert_eq!(reassemble(&sealed, missing, 3).unwrap_err(), EnvelopeError::MissingChunks { missing: 1, count: 3 });

    let mut duplicated = indexed();
    duplicated.push((1, chunks[1].clone()));
    assert_eq!(reassemble(&sealed, duplicated, 3).unwrap_err(), EnvelopeError::DuplicateChunk { index: 1 });

    // Same sizes, swapped contents: only the digest can tell.
    let swapped = vec![(0, chunks[1].clone()), (1, chunks[0].clone()), (2, chunks[2].clone())];
    let err = reassemble(&sealed, swapped, 3).unwrap_err();
    assert_eq!(err, EnvelopeError::DigestMismatch);

    let mut stray = indexed();
    stray.push((3, vec![0]));
    assert_eq!(reassemble(&sealed, stray, 3).unwrap_err(), EnvelopeError::ChunkOutOfRange { index: 3, count: 3 });
}

#[test]
fn limits_versions_and_truncation_are_enforced() {
    let key = SecretKey::generate();
    let sealed = Sealed::seal(&request(vec![0; 10_000]), &key.public_key(), &request_binding()).unwrap();
    let err = sealed.open::<RequestEnvelope>(&key, &request_binding(), 5_000).unwrap_err();
    assert_eq!(err, EnvelopeError::TooLarge { limit: 5_000 });
    let mut future = sealed.clone();
    future.0[0] = 9;
    assert_eq!(
        future.open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err(),
        EnvelopeError::UnsupportedVersion(9)
    );
    // A session frame (version 3) is not an envelope to a key; an envelope to several keys
    // (version 2) with a count past the most recipients is refused before any key is tried.
    future.0[0] = crate::envelope::VERSION_SESSION;
    assert_eq!(
        future.open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err(),
        EnvelopeError::UnsupportedVersion(3)
    );
    let many = Sealed(vec![crate::envelope::VERSION_MANY, 200, 0, 0]);
    assert!(matches!(many.open::<RequestEnvelope>(&key, &request_binding(), MIB), Err(EnvelopeError::Decode(_))));
    let short = Sealed(vec![crate::envelope::VERSION_MANY, 2, 0, 0]);
    assert_eq!(short.open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err(), EnvelopeError::Truncated);
    assert_eq!(
        Sealed(vec![]).open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err(),
        EnvelopeError::Truncated
    );
    assert_eq!(
        Sealed(vec![1, 2, 3]).open::<RequestEnvelope>(&key, &request_binding(), MIB).unwrap_err(),
        EnvelopeError::Truncated
    );
}

#[test]
fn the_reused_zstd_context_forgets_what_a_bad_input_left() {
    // Each thread keeps one decompression context: a frame cut short, garbage, or a bomb
    // stopped at the limit must not change how the next payload decodes.
    let good = request(random_bytes(70_000));
    let payload = encode_payload(&good).unwrap();
    let bomb = encode_payload(&request(vec![0; 4 * MIB])).unwrap();
    for bad in [&payload[..payload.len() / 2], &[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff][..], &bomb[..]] {
        assert!(decode_payload::<RequestEnvelope>(bad, MIB).is_err());
        assert_eq!(decode_payload::<RequestEnvelope>(&payload, MIB).unwrap(), good);
    }
    // The same bytes as a fresh context makes them.
    assert_eq!(payload, zstd::bulk::compress(&bcs::to_bytes(&good).unwrap(), COMPRESSION_LEVEL).unwrap());
}

#[test]
fn keys_round_trip_through_bytes() {
    let key = SecretKey::generate();
    let again = SecretKey::from_bytes(&key.to_bytes()).unwrap();
    assert_eq!(again.public_key(), key.public_key());
    assert_eq!(PublicKey::from_bytes(&key.public_key().to_bytes()).unwrap(), key.public_key());
    assert_eq!(PublicKey::from_bytes(&[1, 2]).unwrap_err(), EnvelopeError::InvalidKey);
}

fn header() -> impl Strategy<Value = (String, String)> {
    ("[a-z-]{1,20}", "[ -~]{0,40}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_request_round_trips(
        method in "[A-Z]{3,7}",
        path in "/[ -~]{0,200}",
        headers in proptest::collection::vec(header(), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let key = SecretKey::generate();
        let message = RequestEnvelope { method, path, headers, body };
        let sealed = Sealed::seal(&message, &key.public_key(), &request_binding()).unwrap();
        let opened: RequestEnvelope = sealed.open(&key, &request_binding(), MIB).unwrap();
        prop_assert_eq!(opened, message);
    }

    #[test]
    fn any_response_round_trips(status in 100u16..600, headers in proptest::collection::vec(header(), 0..8), body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let key = SecretKey::generate();
        let binding = Binding::Response { cluster: Address::from_static("0xc1"), request: Address::from_static("0x4e") };
        let message = ResponseEnvelope { status, headers, body };
        let sealed = Sealed::seal(&message, &key.public_key(), &binding).unwrap();
        prop_assert_eq!(sealed.open::<ResponseEnvelope>(&key, &binding, MIB).unwrap(), message);
    }

    #[test]
    fn arbitrary_bytes_never_open_and_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let key = SecretKey::generate();
        prop_assert!(Sealed(bytes).open::<RequestEnvelope>(&key, &request_binding(), MIB).is_err());
    }

    #[test]
    fn reassembly_of_any_split_is_exact(len in 0usize..50_000, chunk in 1usize..20_000) {
        let sealed = Sealed(vec![7; len]);
        let chunks = sealed.chunks(chunk);
        let count = chunks.len();
        let indexed = chunks.into_iter().enumerate().map(|(i, c)| (i as u32, c)).collect();
        prop_assert_eq!(reassemble(&sealed, indexed, count).unwrap(), sealed);
    }
}
