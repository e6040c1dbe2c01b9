//! `sui::nitro_attestation` (Sui framework, `0x2`): `load_nitro_attestation` verified as Sui's
//! validators verify it, with `fastcrypto`'s `nitro_attestation` module (the code they run):
//! COSE_Sign1 and CBOR parsing, the P-384 signature, the certificate chain to the pinned AWS
//! Nitro root, every certificate valid at the `Clock`'s time. PCRs as on Sui's devnet and
//! testnet: the required ones (0-4, 8) always, any other index when non-zero.
//!
//! The document lives only within its transaction (`has drop`, no `store`): it is an execution
//! value of its own kind, so that no pure argument can pass for one.

use sui_sdk_types::{Address, ExecutionError, Identifier, MoveLocation};

use super::super::session::{Document, Session, Value};

/// Its module, and its errors (`sui::nitro_attestation`'s constants).
pub const MODULE: &str = "nitro_attestation";
const EPARSE: u64 = 1;
const EVERIFY: u64 = 2;

fn abort(code: u64) -> ExecutionError {
    ExecutionError::MoveAbort {
        location: MoveLocation {
            package: Address::TWO,
            module: Identifier::from_static(MODULE),
            function: 0,
            instruction: 0,
            function_name: Some(Identifier::from_static("load_nitro_attestation")),
        },
        code,
    }
}

/// `load_nitro_attestation(attestation: vector<u8>, clock: &Clock)`.
pub fn load_nitro_attestation(session: &mut Session, args: Vec<Value>) -> Result<Vec<Value>, ExecutionError> {
    let [bytes, clock] = <[Value; 2]>::try_from(args).map_err(|_| ExecutionError::ArityMismatch)?;
    let bytes: Vec<u8> =
        bytes.to_bcs().and_then(|b| bcs::from_bytes(&b).ok()).ok_or(ExecutionError::CommandArgumentError {
            argument: 0,
            kind: sui_sdk_types::CommandArgumentError::TypeMismatch,
        })?;
    if !matches!(clock, Value::Object(id) if id == Address::from_static("0x6")) {
        return Err(ExecutionError::CommandArgumentError {
            argument: 1,
            kind: sui_sdk_types::CommandArgumentError::TypeMismatch,
        });
    }
    let document = verify(&bytes, session.now_ms).map_err(abort)?;
    Ok(vec![Value::Attestation(Box::new(document))])
}

/// Parses and verifies `bytes` at `now_ms`; the framework's abort code when it fails.
pub fn verify(bytes: &[u8], now_ms: u64) -> Result<Document, u64> {
    use fastcrypto::nitro_attestation::{parse_nitro_attestation, verify_nitro_attestation};
    let (signature, message, doc) = parse_nitro_attestation(bytes, true, true, true).map_err(|_| EPARSE)?;
    verify_nitro_attestation(&signature, &message, &doc, now_ms).map_err(|_| EVERIFY)?;
    Ok(Document {
        module_id: doc.module_id.into_bytes(),
        timestamp: doc.timestamp,
        digest: doc.digest.into_bytes(),
        pcrs: doc.pcr_map.into_iter().collect(),
        public_key: doc.public_key,
        user_data: doc.user_data,
        nonce: doc.nonce,
    })
}
