//! The envelope: what the proxy and the node exchange through the chain, sealed.
//!
//! A request (method, path with query, the headers that matter, body) is encoded (BCS),
//! compressed (zstd) and sealed with HPKE (X25519-HKDF-SHA256, ChaCha20-Poly1305) to the
//! node's sealing key; the response is sealed the same way to the requester's reply key. Each
//! ciphertext is bound, as associated data, to what it belongs to (cluster, requester, the
//! request's public audit metadata, or the request id), so it cannot be replayed into another
//! request, cluster or direction. The sealed bytes are cut into chunks that fit Sui's
//! pure-argument limit and reassembled, digest-checked, on the other side.
//!
//! A streamed response (a watch, a followed log) is a sequence of [`Frame`]s, each sealed on
//! its own to the reply key and bound to its index, released in order by [`FrameOrder`]. A
//! session's frames are sealed with its [`SessionKey`], which its first frame carries, sealed to
//! the requester and to the cluster's auditors at once ([`Sealed::seal_to_all`]).
//!
//! Pure: no I/O, no chain, no clock. Its main types are [`RequestEnvelope`],
//! [`ResponseEnvelope`], [`Sealed`], [`Reassembly`] and [`Frame`].
//!
//! # Examples
//!
//! ```
//! use kubectl_sui::envelope::{Binding, RequestEnvelope, SecretKey, Sealed};
//! use sui_sdk_types::Address;
//!
//! let node = SecretKey::generate();
//! let binding = Binding::Request {
//!     cluster: Address::from_static("0xc1"),
//!     requester: Address::from_static("0xa11ce"),
//!     audit: [0; 32],
//! };
//! let request = RequestEnvelope {
//!     method: "GET".into(),
//!     path: "/api/v1/namespaces/default/pods".into(),
//!     headers: vec![("accept".into(), "application/json".into())],
//!     body: vec![],
//! };
//! let sealed = Sealed::seal(&request, &node.public_key(), &binding).unwrap();
//! let opened: RequestEnvelope = sealed.open(&node, &binding, 1 << 20).unwrap();
//! assert_eq!(opened, request);
//! ```

mod attributes;
mod chunks;
mod error;
mod request_info;
mod session;
mod stream;

use std::io::Read;

use chacha20poly1305::KeyInit;
use chacha20poly1305::aead::{Aead, Payload};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

pub use attributes::RequestAttributes;
pub use chunks::Reassembly;
pub use error::EnvelopeError;
pub use request_info::{NotCarried, RequestInfo, RequestInfoError, Target};
pub use session::{SessionKey, VERSION_SESSION};
pub use stream::{FRAME_DATA_MAX, Frame, FrameOrder, FrameSeal, Message, MessageAssembly};

/// The first byte of an envelope sealed to one recipient.
pub const VERSION: u8 = 1;
/// The first byte of an envelope sealed to several recipients (a session's opening frame).
pub const VERSION_MANY: u8 = 2;
/// Most recipients of one envelope: a session's requester and every auditor a policy may name.
pub const MAX_RECIPIENTS: usize = 1 + crate::contract::MAX_AUDITORS;
/// Length of one recipient's entry in an envelope sealed to several: HPKE's encapsulated key,
/// then the content key sealed (32 bytes and a 16-byte tag).
const ENTRY_LENGTH: usize = KEY_LENGTH + KEY_LENGTH + 16;
/// Length of an X25519 public key, and of HPKE's encapsulated key.
pub const KEY_LENGTH: usize = 32;
/// zstd level: fast, and most of the gain on JSON and YAML.
const COMPRESSION_LEVEL: i32 = 3;
/// HPKE `info`: names the protocol and version, so keys cannot be confused across uses.
const INFO: &[u8] = b"kubectl-sui envelope v1";

/// An HTTP request as the node replays it against the Kubernetes API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// HTTP method.
    pub method: String,
    /// Path and query, as kubectl sent them.
    pub path: String,
    /// The headers that matter to the API server (lowercase names).
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// The API server's answer as the proxy replays it to kubectl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// HTTP status.
    pub status: u16,
    /// The headers kubectl needs (lowercase names).
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

impl ResponseEnvelope {
    /// A Kubernetes `Status` failure, as the API server itself would answer: `reason` is the
    /// Kubernetes reason (`Forbidden`, `BadRequest`, ...), `message` a sentence for the user.
    pub fn status(code: u16, reason: &str, message: &str) -> ResponseEnvelope {
        let body = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        });
        ResponseEnvelope {
            status: code,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(&body).expect("JSON"),
        }
    }
}

/// What a ciphertext belongs to; sealed as associated data, so opening it anywhere else fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Binding {
    /// A request body: its cluster, its requester, and a digest of its public audit metadata.
    Request {
        /// The cluster object.
        cluster: Address,
        /// The requester's address.
        requester: Address,
        /// Digest of the audit metadata the contract checks (verb, group, resource, ...).
        audit: [u8; 32],
    },
    /// A response body: its cluster and the request it answers.
    Response {
        /// The cluster object.
        cluster: Address,
        /// The request id.
        request: Address,
    },
    /// One frame of a streamed response: its cluster, its request and its position, so a
    /// frame cannot be replayed into another stream nor moved within its own.
    Frame {
        /// The cluster object.
        cluster: Address,
        /// The request id.
        request: Address,
        /// The frame's index.
        index: u32,
    },
    /// One input frame of a session, from its requester to the node: its cluster, its request
    /// and its position in the input direction (apart from the node's frames).
    Input {
        /// The cluster object.
        cluster: Address,
        /// The request id.
        request: Address,
        /// The frame's index.
        index: u32,
    },
}

impl Binding {
    fn aad(&self) -> Vec<u8> {
        bcs::to_bytes(self).expect("bindings encode")
    }
}

/// An X25519 secret key (a node's sealing key, or a proxy session's reply key).
#[derive(Clone)]
pub struct SecretKey(<X25519HkdfSha256 as Kem>::PrivateKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> SecretKey {
        SecretKey(X25519HkdfSha256::gen_keypair().0)
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<SecretKey, EnvelopeError> {
        <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(bytes).map(SecretKey).map_err(|_| EnvelopeError::InvalidKey)
    }

    /// Its 32 bytes; keep them secret.
    pub fn to_bytes(&self) -> [u8; KEY_LENGTH] {
        self.0.to_bytes().into()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(X25519HkdfSha256::sk_to_pk(&self.0))
    }
}

/// An X25519 public key, as registered on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(<X25519HkdfSha256 as Kem>::PublicKey);

impl PublicKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, EnvelopeError> {
        <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(bytes).map(PublicKey).map_err(|_| EnvelopeError::InvalidKey)
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; KEY_LENGTH] {
        self.0.to_bytes().into()
    }
}

/// A sealed envelope: `[VERSION][encapsulated key (32)][ciphertext]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed(pub Vec<u8>);

impl Sealed {
    /// Encodes, compresses and seals `message` to `recipient`, bound to `binding`.
    pub fn seal<T: Serialize>(message: &T, recipient: &PublicKey, binding: &Binding) -> Result<Sealed, EnvelopeError> {
        let mut out = vec![VERSION];
        out.extend(hpke_seal(recipient, &encode_payload(message)?, &binding.aad())?);
        Ok(Sealed(out))
    }

    /// Encodes, compresses and seals `message` once to all of `recipients` (at most
    /// [`MAX_RECIPIENTS`]), bound to `binding`: a fresh content key seals the message
    /// (ChaCha20-Poly1305), and HPKE seals that key to each recipient, bound the same way.
    /// `[VERSION_MANY][count][count × (encapsulated key (32), sealed content key (48))][ciphertext]`.
    pub fn seal_to_all<T: Serialize>(
        message: &T,
        recipients: &[PublicKey],
        binding: &Binding,
    ) -> Result<Sealed, EnvelopeError> {
        if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
            return Err(EnvelopeError::Encode(format!("{} recipients (1 to {MAX_RECIPIENTS})", recipients.len())));
        }
        let compressed = encode_payload(message)?;
        let content_key = SessionKey::generate().to_bytes();
        let aad = binding.aad();
        let mut out = vec![VERSION_MANY, recipients.len() as u8];
        for recipient in recipients {
            out.extend(hpke_seal(recipient, &content_key, &aad)?);
        }
        out.extend(
            content_cipher(content_key)
                .encrypt(&CONTENT_NONCE.into(), Payload { msg: &compressed, aad: &aad })
                .map_err(|_| EnvelopeError::Seal)?,
        );
        Ok(Sealed(out))
    }

    /// Opens with `key`, checking `binding`; the decompressed message may not exceed
    /// `max_len` bytes. Reads an envelope sealed to one recipient or to several.
    pub fn open<T: DeserializeOwned>(
        &self,
        key: &SecretKey,
        binding: &Binding,
        max_len: usize,
    ) -> Result<T, EnvelopeError> {
        let (&version, rest) = self.0.split_first().ok_or(EnvelopeError::Truncated)?;
        if version == VERSION_MANY {
            return decode_payload(&open_for_one_of_many(rest, key, binding)?, max_len);
        }
        if version != VERSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        decode_payload(&hpke_open(key, rest, &binding.aad())?, max_len)
    }

    /// Blake2b-256 of the sealed bytes: the digest recorded on chain.
    pub fn digest(&self) -> [u8; 32] {
        digest(&self.0)
    }

    /// The sealed bytes cut into chunks of at most `max_chunk` bytes (none for nothing).
    pub fn chunks(&self, max_chunk: usize) -> Vec<Vec<u8>> {
        self.0.chunks(max_chunk).map(<[u8]>::to_vec).collect()
    }
}

/// The content of an envelope sealed to several recipients, opened with the entry `key`
/// opens; none opening is [`EnvelopeError::Open`].
fn open_for_one_of_many(rest: &[u8], key: &SecretKey, binding: &Binding) -> Result<Vec<u8>, EnvelopeError> {
    let (&count, rest) = rest.split_first().ok_or(EnvelopeError::Truncated)?;
    let count = count as usize;
    if count == 0 || count > MAX_RECIPIENTS {
        return Err(EnvelopeError::Decode(format!("{count} recipients (1 to {MAX_RECIPIENTS})")));
    }
    if rest.len() < count * ENTRY_LENGTH {
        return Err(EnvelopeError::Truncated);
    }
    let (entries, ciphertext) = rest.split_at(count * ENTRY_LENGTH);
    let aad = binding.aad();
    let content_key =
        entries.chunks(ENTRY_LENGTH).find_map(|entry| hpke_open(key, entry, &aad).ok()).ok_or(EnvelopeError::Open)?;
    let content_key: [u8; KEY_LENGTH] = content_key.try_into().map_err(|_| EnvelopeError::Open)?;
    content_cipher(content_key)
        .decrypt(&CONTENT_NONCE.into(), Payload { msg: ciphertext, aad: &aad })
        .map_err(|_| EnvelopeError::Open)
}

/// HPKE single-shot (base mode, [`INFO`]) to `recipient`: `[encapsulated key (32)][ciphertext]`.
fn hpke_seal(recipient: &PublicKey, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let (encapped, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeS::Base,
        &recipient.0,
        INFO,
        plain,
        aad,
    )
    .map_err(|_| EnvelopeError::Seal)?;
    let mut out = Vec::with_capacity(KEY_LENGTH + ciphertext.len());
    out.extend_from_slice(&encapped.to_bytes());
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Opens what [`hpke_seal`] sealed with `key`.
fn hpke_open(key: &SecretKey, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    if sealed.len() < KEY_LENGTH {
        return Err(EnvelopeError::Truncated);
    }
    let (encapped, ciphertext) = sealed.split_at(KEY_LENGTH);
    let encapped =
        <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(encapped).map_err(|_| EnvelopeError::Truncated)?;
    hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
        &OpModeR::Base,
        &key.0,
        &encapped,
        INFO,
        ciphertext,
        aad,
    )
    .map_err(|_| EnvelopeError::Open)
}

/// The nonce of a content key: each seals one message only, so a fixed nonce is safe.
const CONTENT_NONCE: [u8; 12] = [0; 12];

/// The cipher of an envelope's single-use content key (ChaCha20-Poly1305).
fn content_cipher(key: [u8; KEY_LENGTH]) -> chacha20poly1305::ChaCha20Poly1305 {
    chacha20poly1305::ChaCha20Poly1305::new(&key.into())
}

thread_local! {
    /// zstd contexts, one of each per thread and reused: making one costs more than
    /// compressing a small envelope.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::zstd_safe::DCtx<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The inner encoder of an envelope: BCS, then zstd.
fn encode_payload<T: Serialize>(message: &T) -> Result<Vec<u8>, EnvelopeError> {
    let plain = bcs::to_bytes(message).map_err(|e| EnvelopeError::Encode(e.to_string()))?;
    let encode = |e: std::io::Error| EnvelopeError::Encode(e.to_string());
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(compressor) => compressor,
            None => slot.insert(zstd::bulk::Compressor::new(COMPRESSION_LEVEL).map_err(encode)?),
        };
        compressor.compress(&plain).map_err(encode)
    })
}

/// The inner decoder of an opened envelope: zstd, at most `max_len` bytes, then BCS. Public so
/// the fuzz target (`fuzz/`) can reach it, which authenticated encryption otherwise shields.
pub fn decode_payload<T: DeserializeOwned>(compressed: &[u8], max_len: usize) -> Result<T, EnvelopeError> {
    // Read at most one byte past the limit, so a compression bomb costs nothing.
    let mut plain = Vec::new();
    let failed = |e: &dyn std::fmt::Display| EnvelopeError::Decompress(e.to_string());
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let context = match slot.as_mut() {
            Some(context) => context,
            None => slot.insert(zstd::zstd_safe::DCtx::try_create().ok_or_else(|| failed(&"no memory for zstd"))?),
        };
        // `with_context` resets the session: nothing an earlier (perhaps hostile, perhaps cut
        // short) input left carries over.
        zstd::stream::read::Decoder::with_context(compressed, context)
            .take((max_len as u64).saturating_add(1))
            .read_to_end(&mut plain)
            .map_err(|e| failed(&e))
    })?;
    if plain.len() > max_len {
        return Err(EnvelopeError::TooLarge { limit: max_len });
    }
    bcs::from_bytes(&plain).map_err(|e| EnvelopeError::Decode(e.to_string()))
}

/// Blake2b-256, as Sui hashes.
pub fn digest(bytes: &[u8]) -> [u8; 32] {
    sui_sdk_types::hash::Hasher::digest(bytes).into_inner()
}

#[cfg(test)]
mod tests;
