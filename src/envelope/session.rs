//! A session's keys: what makes a session (exec, attach, port-forward) readable by its
//! requester, its node and the cluster's auditors, and by nobody else.
//!
//! When a session opens, the node draws a fresh [`SessionKey`] and puts it in the session's
//! first frame ([`Frame::Open`]), sealed at once to the requester's reply key and to every
//! auditor key of the cluster's policy ([`Sealed::seal_to_all`]). Every later frame, the node's
//! and the requester's input alike, is sealed with that key (XChaCha20-Poly1305, a random
//! nonce, bound to its direction and index as associated data). So the requester cannot hide
//! its input from the auditors: the node opens only input sealed with the key the auditors
//! hold. Who sent a frame is the chain's to say (the node's frames are `StreamFrame` events of
//! its transactions, the input `SessionInput` events of the requester's), not the key's.
//!
//! Pure: no I/O, no clock.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use sui_sdk_types::Address;

use super::stream::FRAME_DATA_MAX;
use super::{Binding, EnvelopeError, Frame, KEY_LENGTH, decode_payload, encode_payload};

/// The first byte of a frame sealed with a session's key.
pub const VERSION_SESSION: u8 = 3;
/// Length of the random nonce of a session frame.
const NONCE_LENGTH: usize = 24;

/// The symmetric key of one session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey([u8; KEY_LENGTH]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A fresh random key.
    pub fn generate() -> SessionKey {
        let mut key = [0u8; KEY_LENGTH];
        OsRng.fill_bytes(&mut key);
        SessionKey(key)
    }

    /// The key from its bytes (as [`Frame::Open`] carries them).
    pub fn from_bytes(bytes: [u8; KEY_LENGTH]) -> SessionKey {
        SessionKey(bytes)
    }

    /// Its bytes; keep them secret.
    pub fn to_bytes(&self) -> [u8; KEY_LENGTH] {
        self.0
    }

    /// Seals the node's frame `index` of session `request` (after the opening frame).
    pub fn seal_frame(&self, frame: &Frame, cluster: Address, request: Address, index: u32) -> SealResult {
        self.seal(frame, &Binding::Frame { cluster, request, index })
    }

    /// Opens the node's frame `index` of session `request`.
    pub fn open_frame(&self, data: &[u8], cluster: Address, request: Address, index: u32) -> OpenResult {
        self.open(data, &Binding::Frame { cluster, request, index })
    }

    /// Seals the requester's input frame `index` of session `request`.
    pub fn seal_input(&self, frame: &Frame, cluster: Address, request: Address, index: u32) -> SealResult {
        self.seal(frame, &Binding::Input { cluster, request, index })
    }

    /// Opens the requester's input frame `index` of session `request`.
    pub fn open_input(&self, data: &[u8], cluster: Address, request: Address, index: u32) -> OpenResult {
        self.open(data, &Binding::Input { cluster, request, index })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// `[VERSION_SESSION][nonce (24)][ciphertext]`.
    fn seal(&self, frame: &Frame, binding: &Binding) -> SealResult {
        let compressed = encode_payload(frame)?;
        let mut nonce = [0u8; NONCE_LENGTH];
        OsRng.fill_bytes(&mut nonce);
        let aad = binding.aad();
        let ciphertext = self
            .cipher()
            .encrypt(&XNonce::from(nonce), Payload { msg: &compressed, aad: &aad })
            .map_err(|_| EnvelopeError::Seal)?;
        let mut out = Vec::with_capacity(1 + NONCE_LENGTH + ciphertext.len());
        out.push(VERSION_SESSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    fn open(&self, data: &[u8], binding: &Binding) -> OpenResult {
        let (&version, rest) = data.split_first().ok_or(EnvelopeError::Truncated)?;
        if version != VERSION_SESSION {
            return Err(EnvelopeError::UnsupportedVersion(version));
        }
        if rest.len() < NONCE_LENGTH {
            return Err(EnvelopeError::Truncated);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LENGTH);
        let nonce: [u8; NONCE_LENGTH] = nonce.try_into().expect("split at the nonce's length");
        let aad = binding.aad();
        let compressed = self
            .cipher()
            .decrypt(&XNonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| EnvelopeError::Open)?;
        decode_payload(&compressed, FRAME_DATA_MAX + 1024)
    }
}

/// A sealed frame, or why not.
pub type SealResult = Result<Vec<u8>, EnvelopeError>;
/// An opened frame, or why not.
pub type OpenResult = Result<Frame, EnvelopeError>;

#[cfg(test)]
mod tests {
    use super::super::{PublicKey, Sealed, SecretKey};
    use super::*;

    const CLUSTER: Address = Address::from_static("0xc1");
    const REQUEST: Address = Address::from_static("0x4e");

    fn opening(key: &SessionKey) -> Frame {
        Frame::Open {
            headers: vec![("sec-websocket-protocol".into(), "v5.channel.k8s.io".into())],
            key: key.to_bytes(),
        }
    }

    #[test]
    fn the_opening_frame_opens_for_the_requester_and_each_auditor_and_nobody_else() {
        let requester = SecretKey::generate();
        let auditors = [SecretKey::generate(), SecretKey::generate()];
        let key = SessionKey::generate();
        let recipients: Vec<PublicKey> =
            std::iter::once(&requester).chain(&auditors).map(SecretKey::public_key).collect();
        let binding = Binding::Frame { cluster: CLUSTER, request: REQUEST, index: 0 };
        let sealed = Sealed::seal_to_all(&opening(&key), &recipients, &binding).unwrap();
        for reader in std::iter::once(&requester).chain(&auditors) {
            assert_eq!(sealed.open::<Frame>(reader, &binding, 4096).unwrap(), opening(&key));
        }
        assert_eq!(sealed.open::<Frame>(&SecretKey::generate(), &binding, 4096), Err(EnvelopeError::Open));
        let other = Binding::Frame { cluster: CLUSTER, request: Address::from_static("0x4f"), index: 0 };
        assert_eq!(sealed.open::<Frame>(&requester, &other, 4096), Err(EnvelopeError::Open), "another session");
        // A recipient's entry moved into the content, or the content altered, opens for nobody.
        let mut altered = sealed.clone();
        let last = altered.0.len() - 1;
        altered.0[last] ^= 1;
        assert_eq!(altered.open::<Frame>(&auditors[1], &binding, 4096), Err(EnvelopeError::Open));
    }

    #[test]
    fn a_session_frame_opens_only_in_its_direction_at_its_index() {
        let key = SessionKey::generate();
        let frame = Frame::Message { binary: true, data: b"\x00ls\n".to_vec(), last: true, at_ms: 7 };
        let sealed = key.seal_input(&frame, CLUSTER, REQUEST, 2).unwrap();
        assert_eq!(key.open_input(&sealed, CLUSTER, REQUEST, 2).unwrap(), frame);
        assert_eq!(key.open_input(&sealed, CLUSTER, REQUEST, 3), Err(EnvelopeError::Open), "moved");
        assert_eq!(key.open_frame(&sealed, CLUSTER, REQUEST, 2), Err(EnvelopeError::Open), "other direction");
        assert_eq!(SessionKey::generate().open_input(&sealed, CLUSTER, REQUEST, 2), Err(EnvelopeError::Open));
        // Two seals of one frame differ (a fresh nonce each), and both open.
        let again = key.seal_input(&frame, CLUSTER, REQUEST, 2).unwrap();
        assert_ne!(again, sealed);
        assert_eq!(key.open_input(&again, CLUSTER, REQUEST, 2).unwrap(), frame);
        assert_eq!(key.open_input(&sealed[..10], CLUSTER, REQUEST, 2), Err(EnvelopeError::Truncated));
    }

    #[test]
    fn a_full_session_frame_of_incompressible_data_fits_one_pure_argument() {
        let key = SessionKey::generate();
        let mut noise = vec![0u8; FRAME_DATA_MAX];
        OsRng.fill_bytes(&mut noise);
        let frame = Frame::Message { binary: true, data: noise, last: false, at_ms: u64::MAX };
        let sealed = key.seal_frame(&frame, CLUSTER, REQUEST, 9).unwrap();
        assert!(sealed.len() <= crate::contract::calls::MAX_CHUNK_LEN, "{} bytes", sealed.len());
    }

    #[test]
    fn an_opening_frame_for_the_most_auditors_fits_one_pure_argument() {
        let recipients: Vec<PublicKey> = (0..MAX_RECIPIENTS).map(|_| SecretKey::generate().public_key()).collect();
        let binding = Binding::Frame { cluster: CLUSTER, request: REQUEST, index: 0 };
        let sealed = Sealed::seal_to_all(&opening(&SessionKey::generate()), &recipients, &binding).unwrap();
        assert!(sealed.0.len() <= crate::contract::calls::MAX_CHUNK_LEN, "{} bytes", sealed.0.len());
        let too_many: Vec<PublicKey> = recipients.iter().cloned().chain([recipients[0].clone()]).collect();
        assert!(Sealed::seal_to_all(&opening(&SessionKey::generate()), &too_many, &binding).is_err());
    }

    use super::super::MAX_RECIPIENTS;
}
