//! The identity's Ed25519 key: generated, or imported from the Sui CLI keystore or a
//! `suiprivkey` string; kept in the OS keyring, or in a file only the user can read where no
//! keyring service runs (headless Linux, CI).

use std::path::{Path, PathBuf};

use sui_crypto::ed25519::Ed25519PrivateKey;
use sui_sdk_types::Address;

use crate::config::{ConfigError, KeyStoreKind, Paths};
use crate::fs::{FileError, create_private_dir, write_atomic};

/// Environment variable choosing the key store: `auto` (default), `keyring` or `file`.
pub const KEY_STORE_ENV: &str = "KUBECTL_SUI_KEY_STORE";
const KEYRING_SERVICE: &str = "kubectl-sui";

/// Why a key could not be stored, found or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The keyring refused.
    #[error("the OS keyring is not usable ({0}); set {KEY_STORE_ENV}=file to keep the key in a file only you can read")]
    Keyring(String),
    /// The key of the identity is not in its store.
    #[error("no key for {address} in {store}; run `kubectl sui login --import-keystore` or `--new-key` again")]
    Missing {
        /// The identity.
        address: Address,
        /// Where it was looked for.
        store: KeyStoreKind,
    },
    /// The key file is readable by others.
    #[error("{path} is readable by other users (mode {mode:o}); run `chmod 600 {}`", path.display())]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// What is stored does not parse as a key.
    #[error("{what} is not a valid Ed25519 Sui private key ({message}); expected a `suiprivkey1…` string")]
    Invalid {
        /// Where it came from.
        what: String,
        /// Why.
        message: String,
    },
    /// The stored key belongs to another address.
    #[error("the key stored for {expected} belongs to {found}; the store was changed outside kubectl-sui")]
    WrongKey {
        /// The identity.
        expected: Address,
        /// The key's address.
        found: Address,
    },
    /// The Sui CLI keystore could not be used.
    #[error("Sui keystore {path}: {message}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// The configuration could not be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] FileError),
}

/// Which store to use for new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorePreference {
    /// The keyring when it works, else the file.
    Auto,
    /// The keyring or an error.
    Keyring,
    /// The file.
    File,
}

impl StorePreference {
    /// The preference from `$KUBECTL_SUI_KEY_STORE`.
    pub fn from_env() -> Result<StorePreference, KeyError> {
        match std::env::var(KEY_STORE_ENV).unwrap_or_default().as_str() {
            "" | "auto" => Ok(StorePreference::Auto),
            "keyring" => Ok(StorePreference::Keyring),
            "file" => Ok(StorePreference::File),
            other => Err(KeyError::Keyring(format!("{KEY_STORE_ENV}={other} is not auto, keyring or file"))),
        }
    }
}

fn key_file(paths: &Paths, address: &Address) -> PathBuf {
    paths.data_dir.join("keys").join(format!("{address}.key"))
}

fn keyring_entry(address: &Address) -> Result<keyring::Entry, KeyError> {
    keyring::Entry::new(KEYRING_SERVICE, &address.to_string()).map_err(|e| KeyError::Keyring(e.to_string()))
}

/// Stores `key` where `preference` says; returns the store used and, when the keyring was
/// wanted but unusable, why the file was used instead.
pub fn store_key(
    paths: &Paths,
    key: &Ed25519PrivateKey,
    preference: StorePreference,
) -> Result<(KeyStoreKind, Option<String>), KeyError> {
    let address = key.public_key().derive_address();
    let encoded = encode(key);
    if preference != StorePreference::File {
        match keyring_entry(&address)
            .and_then(|e| e.set_password(&encoded).map_err(|e| KeyError::Keyring(e.to_string())))
        {
            Ok(()) => return Ok((KeyStoreKind::Keyring, None)),
            Err(e) if preference == StorePreference::Keyring => return Err(e),
            Err(KeyError::Keyring(why)) => {
                write_key_file(paths, &address, &encoded)?;
                return Ok((KeyStoreKind::File, Some(why)));
            }
            Err(e) => return Err(e),
        }
    }
    write_key_file(paths, &address, &encoded)?;
    Ok((KeyStoreKind::File, None))
}

fn write_key_file(paths: &Paths, address: &Address, encoded: &str) -> Result<(), KeyError> {
    let path = key_file(paths, address);
    create_private_dir(path.parent().expect("key files live in a directory"))?;
    write_atomic(&path, format!("{encoded}\n").as_bytes(), 0o600)?;
    Ok(())
}

fn encode(key: &Ed25519PrivateKey) -> String {
    key.to_suiprivkey().expect("an Ed25519 key always encodes")
}

/// Reads the key of `address` from `store`, checking it is that address's key.
pub fn load_key(paths: &Paths, address: Address, store: KeyStoreKind) -> Result<Ed25519PrivateKey, KeyError> {
    let (text, what) = match store {
        KeyStoreKind::Keyring => {
            let text = keyring_entry(&address)?.get_password().map_err(|e| match e {
                keyring::Error::NoEntry => KeyError::Missing { address, store },
                other => KeyError::Keyring(other.to_string()),
            })?;
            (text, format!("the keyring entry for {address}"))
        }
        KeyStoreKind::File => {
            let path = key_file(paths, &address);
            check_private(&path)?;
            let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => KeyError::Missing { address, store },
                _ => FileError::new("reading", &path, e).into(),
            })?;
            (text, path.display().to_string())
        }
    };
    let key = parse_suiprivkey(text.trim(), &what)?;
    let found = key.public_key().derive_address();
    if found != address {
        return Err(KeyError::WrongKey { expected: address, found });
    }
    Ok(key)
}

fn check_private(path: &Path) -> Result<(), KeyError> {
    #[cfg(unix)]
    if let Ok(meta) = std::fs::metadata(path) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen { path: path.to_path_buf(), mode });
        }
    }
    Ok(())
}

/// Removes the key of `address` from `store` (nothing to do when it is not there).
pub fn delete_key(paths: &Paths, address: Address, store: KeyStoreKind) -> Result<(), KeyError> {
    match store {
        KeyStoreKind::Keyring => match keyring_entry(&address)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeyError::Keyring(e.to_string())),
        },
        KeyStoreKind::File => {
            let path = key_file(paths, &address);
            match std::fs::remove_file(&path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(FileError::new("removing", path, source).into()),
            }
        }
    }
}

/// Parses a `suiprivkey1…` string (the Sui CLI's and the TypeScript SDK's export format).
pub fn parse_suiprivkey(text: &str, what: &str) -> Result<Ed25519PrivateKey, KeyError> {
    Ed25519PrivateKey::from_suiprivkey(text.trim())
        .map_err(|e| KeyError::Invalid { what: what.to_string(), message: e.to_string() })
}

/// The Sui CLI's configuration directory: `dir`, else `$SUI_CONFIG_DIR`, else
/// `~/.sui/sui_config`.
fn sui_config_dir(dir: Option<&Path>) -> Option<PathBuf> {
    dir.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SUI_CONFIG_DIR").filter(|d| !d.is_empty()).map(PathBuf::from))
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join(".sui").join("sui_config")))
}

/// Imports the key of `address` from the Sui CLI keystore in `dir` (see [`sui_config_dir`]);
/// without an address, the `active_address` of its `client.yaml`.
pub fn import_sui_keystore(dir: Option<&Path>, address: Option<Address>) -> Result<Ed25519PrivateKey, KeyError> {
    let dir = sui_config_dir(dir).ok_or(KeyError::Config(ConfigError::NoHome))?;
    let keystore = dir.join("sui.keystore");
    let fail = |message: String| KeyError::Keystore { path: keystore.clone(), message };
    let text = std::fs::read_to_string(&keystore).map_err(|e| {
        fail(match e.kind() {
            std::io::ErrorKind::NotFound => {
                "not found; set SUI_CONFIG_DIR or pass --keystore-dir, or import with --key-file".to_string()
            }
            _ => e.to_string(),
        })
    })?;
    let entries: Vec<String> =
        serde_json::from_str(&text).map_err(|e| fail(format!("is corrupted: not a JSON list of keys ({e})")))?;
    let address = match address {
        Some(a) => a,
        None => active_address(&dir.join("client.yaml")).map_err(|m| fail(format!("no --address given and {m}")))?,
    };
    let mut other_schemes = 0;
    for entry in &entries {
        match Ed25519PrivateKey::from_base64(entry) {
            Ok(key) if key.public_key().derive_address() == address => return Ok(key),
            Ok(_) => {}
            Err(_) => other_schemes += 1,
        }
    }
    Err(fail(format!(
        "holds no Ed25519 key for {address} ({} keys, {other_schemes} of other schemes; kubectl-sui signs with Ed25519 only)",
        entries.len()
    )))
}

fn active_address(client_yaml: &Path) -> Result<Address, String> {
    let text =
        std::fs::read_to_string(client_yaml).map_err(|e| format!("{} is unreadable: {e}", client_yaml.display()))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| format!("{} is not YAML: {e}", client_yaml.display()))?;
    let active = value
        .get("active_address")
        .and_then(|a| a.as_str())
        .ok_or_else(|| format!("{} has no active_address", client_yaml.display()))?;
    active.parse().map_err(|e| format!("active_address {active:?} is not an address: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Ed25519PrivateKey {
        Ed25519PrivateKey::generate(rand_core::OsRng)
    }

    #[test]
    fn file_store_round_trips_and_refuses_open_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let k = key();
        let address = k.public_key().derive_address();
        let (store, _) = store_key(&paths, &k, StorePreference::File).unwrap();
        assert_eq!(store, KeyStoreKind::File);
        assert_eq!(load_key(&paths, address, store).unwrap().public_key(), k.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = key_file(&paths, &address);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(load_key(&paths, address, store), Err(KeyError::TooOpen { .. })));
        }
        delete_key(&paths, address, store).unwrap();
        assert!(matches!(load_key(&paths, address, store), Err(KeyError::Missing { .. })));
    }

    #[test]
    fn keystore_import_finds_the_active_address_and_reports_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (key(), key());
        let entries = serde_json::to_string(&[a.to_base64(), b.to_base64()]).unwrap();
        std::fs::write(dir.path().join("sui.keystore"), entries).unwrap();
        let b_address = b.public_key().derive_address();
        std::fs::write(dir.path().join("client.yaml"), format!("active_address: \"{b_address}\"\n")).unwrap();
        let imported = import_sui_keystore(Some(dir.path()), None).unwrap();
        assert_eq!(imported.public_key(), b.public_key());
        let a_address = a.public_key().derive_address();
        assert_eq!(import_sui_keystore(Some(dir.path()), Some(a_address)).unwrap().public_key(), a.public_key());
        let err = import_sui_keystore(Some(dir.path()), Some(Address::ZERO)).unwrap_err().to_string();
        assert!(err.contains("holds no Ed25519 key for 0x0000"), "{err}");
        std::fs::write(dir.path().join("sui.keystore"), "{not json").unwrap();
        let err = import_sui_keystore(Some(dir.path()), None).unwrap_err().to_string();
        assert!(err.contains("is corrupted"), "{err}");
    }

    #[test]
    fn invalid_suiprivkey_never_echoes_the_input() {
        let secret = "suiprivkey1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq";
        let err = parse_suiprivkey(secret, "standard input").unwrap_err().to_string();
        assert!(!err.contains(secret) && err.contains("standard input"), "{err}");
    }
}
