//! The node's keys: Ed25519 (its Sui address, signs its transactions) and X25519 (request
//! bodies are sealed to it). Created on first start in the data directory, mode 0600.

use std::path::Path;

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;

use super::error::NodeError;
use crate::envelope::SecretKey;

/// File of the signing key (base64 of the Ed25519 secret).
pub const SIGNING_KEY_FILE: &str = "signing.key";
/// File of the sealing key (base64 of the X25519 secret).
pub const SEALING_KEY_FILE: &str = "sealing.key";
/// File of the sealing key before the last rotation, kept to open requests sealed to it.
pub const PREVIOUS_SEALING_KEY_FILE: &str = "sealing.previous.key";

/// The node's two keys.
#[derive(Debug, Clone)]
pub struct NodeKeys {
    /// Signs transactions; its address is the node's identity on chain.
    pub signing: Ed25519PrivateKey,
    /// Opens request bodies.
    pub sealing: SecretKey,
    /// The sealing key before the last rotation: requests sealed to it are still opened.
    pub previous_sealing: Option<SecretKey>,
}

impl NodeKeys {
    /// Loads the keys from `dir`, creating them the first time.
    pub fn load_or_create(dir: &Path) -> Result<NodeKeys, NodeError> {
        std::fs::create_dir_all(dir).map_err(crate::fs::failed("creating", dir))?;
        let signing =
            read_or_create(&dir.join(SIGNING_KEY_FILE), || Ed25519PrivateKey::generate(rand_core::OsRng).to_base64())?;
        let signing = Ed25519PrivateKey::from_base64(signing.trim())
            .map_err(|e| NodeError::Key { file: SIGNING_KEY_FILE, message: e.to_string() })?;
        let sealing = read_or_create(&dir.join(SEALING_KEY_FILE), || base64_encode(&SecretKey::generate().to_bytes()))?;
        let sealing = sealing_key(&sealing, SEALING_KEY_FILE)?;
        let previous_sealing = match std::fs::read_to_string(dir.join(PREVIOUS_SEALING_KEY_FILE)) {
            Ok(text) => Some(sealing_key(&text, PREVIOUS_SEALING_KEY_FILE)?),
            Err(_) => None,
        };
        Ok(NodeKeys { signing, sealing, previous_sealing })
    }

    /// Makes a new sealing key current, keeping the current one as the previous key.
    /// A crash in between leaves either the old state or both files: the node then finishes
    /// the rotation on chain at its next start.
    pub fn rotate_sealing(dir: &Path) -> Result<NodeKeys, NodeError> {
        let current = dir.join(SEALING_KEY_FILE);
        std::fs::rename(&current, dir.join(PREVIOUS_SEALING_KEY_FILE))
            .map_err(crate::fs::failed("rotating", &current))?;
        NodeKeys::load_or_create(dir)
    }

    /// The secret of the sealing key whose public half is `public`: current or previous.
    pub fn sealing_for(&self, public: &[u8]) -> Option<&SecretKey> {
        std::iter::once(&self.sealing)
            .chain(self.previous_sealing.as_ref())
            .find(|k| k.public_key().to_bytes().as_slice() == public)
    }

    /// The node's Sui address.
    pub fn address(&self) -> Address {
        self.signing.public_key().derive_address()
    }
}

fn read_or_create(path: &Path, create: impl FnOnce() -> String) -> Result<String, NodeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let io = |action, source| NodeError::from(crate::fs::FileError::new(action, path, source));
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = create();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| io("creating", e))?;
            file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(|e| io("writing", e))?;
            Ok(text)
        }
        Err(e) => Err(io("reading", e)),
    }
}

fn sealing_key(text: &str, file: &'static str) -> Result<SecretKey, NodeError> {
    base64_decode(text.trim())
        .and_then(|b| SecretKey::from_bytes(&b).ok())
        .ok_or(NodeError::Key { file, message: "not a base64 X25519 key".into() })
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64::encode_string(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64ct::Encoding;
    base64ct::Base64::decode_vec(text).ok()
}
