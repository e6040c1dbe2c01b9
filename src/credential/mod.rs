//! The user's side of authentication: the Sui key and where it is kept, the bearer token the
//! proxy accepts, the ExecCredential kubectl asks for, and the kubeconfig entries that make
//! kubectl ask.
//!
//! This module owns secrets at rest (OS keyring or a 0600 file), their import from the Sui
//! CLI keystore or a `suiprivkey` string, the credential cache, and edits of the user's
//! kubeconfig. It never prints or logs a secret, never talks to the chain, and does not run
//! the proxy (it only produces what the proxy verifies).

mod bearer;
mod exec;
mod keys;
mod kubeconfig;

pub use bearer::{BEARER_PREFIX, BearerError, BearerToken};
pub use exec::{CachedCredential, CredentialCache, ExecInfo, exec_credential};
pub use keys::{
    KEY_STORE_ENV, KeyError, StorePreference, delete_key, import_sui_keystore, load_key, parse_suiprivkey, store_key,
};
pub use kubeconfig::{
    KubeconfigEntry, KubeconfigError, default_kubeconfig_path, read_kubeconfig, remove_entry, upsert_entry,
};
