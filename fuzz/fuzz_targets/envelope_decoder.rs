//! Fuzzes everything that reads bytes from the chain into an envelope: the sealed header,
//! the inner decoder (zstd with its size limit, then BCS) that authentication normally
//! shields, and chunk reassembly. None may panic, hang or allocate without bound.
#![no_main]

use kubectl_sui::envelope::{Binding, Reassembly, RequestEnvelope, ResponseEnvelope, Sealed, SecretKey, decode_payload};
use libfuzzer_sys::fuzz_target;
use sui_sdk_types::Address;

const MAX: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => {
            let key = SecretKey::from_bytes(&[7; 32]).expect("a fixed key");
            let binding = Binding::Response { cluster: Address::ZERO, request: Address::ZERO };
            let _ = Sealed(rest.to_vec()).open::<ResponseEnvelope>(&key, &binding, MAX);
        }
        1 => {
            let _ = decode_payload::<RequestEnvelope>(rest, MAX);
            let _ = decode_payload::<ResponseEnvelope>(rest, MAX);
        }
        _ => {
            let count = rest.first().copied().unwrap_or(0) as u32 % 16;
            let mut r = Reassembly::new(count, rest.len() as u64, [0; 32]);
            for (i, chunk) in rest.chunks(7).enumerate() {
                let _ = r.add(chunk[0] as u32 % 20 + i as u32 % 2, chunk.to_vec());
            }
            let _ = r.finish();
        }
    }
});
