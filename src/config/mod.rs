//! Where `kubectl-sui` keeps its files and what its settings file says: the networks it
//! knows, the identity in use, and one [`Login`] per kubeconfig context it wrote.
//!
//! This module owns the settings file (`config.yaml` in the config directory) and the layout
//! of the data and cache directories. Every write is a locked read-modify-write that replaces
//! the file atomically, so a crash or a concurrent `kubectl sui` never leaves it half written.
//! It holds no secrets: keys belong to [`crate::credential`], which records here only where
//! a key is stored.

mod network;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

pub use network::{Network, NetworkEndpoints};

use crate::fs::{FileError, create_private_dir, lock_file, write_atomic};

/// Environment variable that puts every file of `kubectl-sui` under one directory.
pub const HOME_ENV: &str = "KUBECTL_SUI_HOME";

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No home directory to put the default paths under.
    #[error("no home directory found; set {HOME_ENV} to a directory for kubectl-sui's files")]
    NoHome,
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The settings file is not valid.
    #[error("{path} is not a valid kubectl-sui configuration: {message}; fix or remove it")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A network name that is neither built in, configured, nor a URL.
    #[error(
        "unknown network {0:?}; use devnet, localnet, testnet, mainnet, a name under `networks:` in the configuration, or an http(s) URL"
    )]
    UnknownNetwork(String),
    /// The network has no published contract this build knows.
    #[error(
        "network {0} has no kubectl-sui package id configured; pass --package or set `networks.{0}.package` in the configuration"
    )]
    NoPackage(String),
    /// No login matches.
    #[error("{0}")]
    NoLogin(String),
}

/// The directories `kubectl-sui` uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// Settings (`config.yaml`).
    pub config_dir: PathBuf,
    /// Keys stored as files, proxy certificates, logs and `kubectl sui up` state.
    pub data_dir: PathBuf,
    /// Cached credentials.
    pub cache_dir: PathBuf,
}

impl Paths {
    /// The user's directories (XDG on Linux), or all under `$KUBECTL_SUI_HOME` when set.
    pub fn discover() -> Result<Paths, ConfigError> {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
            return Ok(Paths::under(Path::new(&home)));
        }
        let dirs = directories::ProjectDirs::from("", "", "kubectl-sui").ok_or(ConfigError::NoHome)?;
        Ok(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            cache_dir: dirs.cache_dir().to_path_buf(),
        })
    }

    /// Everything under `home`.
    pub fn under(home: &Path) -> Paths {
        Paths { config_dir: home.join("config"), data_dir: home.join("data"), cache_dir: home.join("cache") }
    }

    /// The settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("config.yaml")
    }

    /// Where the proxy of `context` keeps its certificates, pid and log.
    pub fn proxy_dir(&self, context: &str) -> PathBuf {
        self.data_dir.join("proxy").join(file_safe(context))
    }

    /// Where credentials are cached.
    pub fn credential_cache_dir(&self) -> PathBuf {
        self.cache_dir.join("credentials")
    }
}

/// `name` with every character a file name cannot safely hold replaced.
pub fn file_safe(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Where an identity's secret key is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStoreKind {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    Keyring,
    /// A file readable only by the user, under the data directory.
    File,
}

impl std::fmt::Display for KeyStoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyStoreKind::Keyring => "the OS keyring",
            KeyStoreKind::File => "a file readable only by you",
        })
    }
}

/// The identity `kubectl-sui` signs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Its Sui address.
    pub address: Address,
    /// Where its key is.
    pub store: KeyStoreKind,
}

/// What `kubectl sui login` set up for one kubeconfig context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The kubeconfig context (and cluster and user entry) name.
    pub context: String,
    /// The network as given (name or URL).
    pub network: String,
    /// Its resolved endpoints.
    pub endpoints: NetworkEndpoints,
    /// The package id of the contract.
    pub package: Address,
    /// The cluster object.
    pub cluster: Address,
    /// The cluster's name.
    pub cluster_name: String,
    /// Who logged in.
    pub address: Address,
    /// The seal token.
    pub token: Address,
    /// When the seal token expires (ms since the epoch).
    pub token_expires_ms: u64,
    /// The proxy's loopback port: fixed, so the server URL (kubectl's discovery cache key)
    /// is stable.
    pub proxy_port: u16,
    /// The kubeconfig file written.
    pub kubeconfig: PathBuf,
}

impl Login {
    /// The proxy's URL, as kubeconfig names it.
    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.proxy_port)
    }
}

/// A cluster object this identity administers (it holds the admin capability).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminCluster {
    /// The cluster's name.
    pub name: String,
    /// The cluster object.
    pub cluster: Address,
    /// The admin capability.
    pub cap: Address,
    /// The network as given.
    pub network: String,
    /// Its endpoints.
    pub endpoints: NetworkEndpoints,
    /// The package id.
    pub package: Address,
}

/// Proxy settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxySettings {
    /// Largest request body carried, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_body: Option<usize>,
    /// Seconds to wait for a node's answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Requests on chain at once, waiting for their answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<usize>,
    /// A loopback address to serve Prometheus `/metrics` on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// The settings file's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Networks besides (or overriding) the built-in ones.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkEndpoints>,
    /// The identity in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// Logins by context name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub logins: BTreeMap<String, Login>,
    /// Clusters administered, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub clusters: BTreeMap<String, AdminCluster>,
    /// Proxy settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub proxy: ProxySettings,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    value == &T::default()
}

impl Settings {
    /// Reads the settings (empty when the file does not exist yet).
    pub fn load(paths: &Paths) -> Result<Settings, ConfigError> {
        let path = paths.settings_file();
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => Ok(Settings::default()),
            Ok(text) => serde_yaml::from_str(&text).map_err(|e| ConfigError::Invalid { path, message: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(source) => Err(FileError::new("reading", path, source).into()),
        }
    }

    /// Applies `change` to the current settings under an exclusive lock and saves the result
    /// atomically; returns what `change` returned.
    pub fn update<T>(paths: &Paths, change: impl FnOnce(&mut Settings) -> T) -> Result<T, ConfigError> {
        let path = paths.settings_file();
        create_private_dir(&paths.config_dir)?;
        let _lock = lock_file(&path.with_extension("yaml.lock"))?;
        let mut settings = Settings::load(paths)?;
        let out = change(&mut settings);
        let text = serde_yaml::to_string(&settings).expect("settings serialize");
        write_atomic(&path, text.as_bytes(), 0o600)?;
        Ok(out)
    }

    /// The endpoints of `network` (a name or URL), configured entries first.
    pub fn endpoints(&self, network: &str) -> Result<NetworkEndpoints, ConfigError> {
        match self.networks.get(network) {
            Some(endpoints) => Ok(endpoints.clone()),
            None => Network::parse(network)?.endpoints(),
        }
    }

    /// The endpoints of `network` with a `faucet` and `package` given on the command line
    /// taking precedence, and the package id to call.
    pub fn resolve(
        &self,
        network: &str,
        faucet: Option<String>,
        package: Option<Address>,
    ) -> Result<(NetworkEndpoints, Address), ConfigError> {
        let mut endpoints = self.endpoints(network)?;
        endpoints.faucet = faucet.or(endpoints.faucet);
        endpoints.package = package.or(endpoints.package);
        let package = endpoints.package_for(network)?;
        Ok((endpoints, package))
    }

    /// The login for `selector` (a context name, cluster name or cluster id), or for the
    /// kubeconfig's current context when `None`.
    pub fn login(&self, selector: Option<&str>, current_context: Option<&str>) -> Result<&Login, ConfigError> {
        let wanted = selector.or(current_context);
        let found = match wanted {
            Some(w) => self.logins.values().find(|l| {
                l.context == w || l.cluster_name == w || l.cluster.to_string() == w || short_id_matches(&l.cluster, w)
            }),
            None if self.logins.len() == 1 => self.logins.values().next(),
            None => None,
        };
        found.ok_or_else(|| {
            ConfigError::NoLogin(match (wanted, self.logins.is_empty()) {
                (_, true) => "not logged in to any cluster; run `kubectl sui login --cluster <id|name>`".to_string(),
                (Some(w), false) => format!(
                    "no login for {w:?} (known: {}); run `kubectl sui login --cluster {w}` or pass --cluster",
                    self.logins.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                (None, false) => "several logins and no current kubectl-sui context; pass --cluster".to_string(),
            })
        })
    }
}

impl Settings {
    /// The administered cluster `selector` (name or id).
    pub fn admin_cluster(&self, selector: Option<&str>) -> Result<&AdminCluster, ConfigError> {
        let found = match selector {
            Some(w) => self
                .clusters
                .values()
                .find(|c| c.name == w || c.cluster.to_string() == w || short_id_matches(&c.cluster, w)),
            None if self.clusters.len() == 1 => self.clusters.values().next(),
            None => None,
        };
        found.ok_or_else(|| {
            ConfigError::NoLogin(match selector {
                Some(w) => format!("you hold no admin capability for cluster {w:?} here; create one with `kubectl sui cluster create NAME`"),
                None if self.clusters.is_empty() => "you administer no cluster; create one with `kubectl sui cluster create NAME`".to_string(),
                None => "you administer several clusters; pass --cluster".to_string(),
            })
        })
    }
}

fn short_id_matches(id: &Address, wanted: &str) -> bool {
    wanted.len() >= 6 && wanted.starts_with("0x") && id.to_string().starts_with(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_creates_a_private_file_and_keeps_what_it_does_not_touch() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        Settings::update(&paths, |s| s.identity = Some(Identity { address: Address::ZERO, store: KeyStoreKind::File }))
            .unwrap();
        Settings::update(&paths, |s| {
            s.networks.insert("lab".into(), NetworkEndpoints { rpc: "http://lab:9000".into(), ..Default::default() })
        })
        .unwrap();
        let settings = Settings::load(&paths).unwrap();
        assert_eq!(settings.identity.as_ref().unwrap().address, Address::ZERO);
        assert_eq!(settings.endpoints("lab").unwrap().rpc, "http://lab:9000");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(paths.settings_file()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn invalid_file_names_itself_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        std::fs::create_dir_all(&paths.config_dir).unwrap();
        std::fs::write(paths.settings_file(), "identity: [unclosed").unwrap();
        let err = Settings::update(&paths, |_| ()).unwrap_err().to_string();
        assert!(err.contains("config.yaml is not a valid kubectl-sui configuration"), "{err}");
        assert_eq!(std::fs::read_to_string(paths.settings_file()).unwrap(), "identity: [unclosed");
    }

    #[test]
    fn no_login_errors_name_the_next_step() {
        let settings = Settings::default();
        let err = settings.login(None, None).unwrap_err().to_string();
        assert!(err.contains("kubectl sui login --cluster"), "{err}");
    }
}
