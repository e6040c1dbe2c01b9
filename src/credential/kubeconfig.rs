//! The kubeconfig entries `kubectl sui login` writes: a cluster pointing at the local proxy
//! with its CA, a user whose credential comes from `kubectl-sui credential`, and a context
//! tying them together. Edits go through the `kube` crate's kubeconfig types, keep every
//! other entry, back the file up first, and replace it atomically.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use kube::config::{
    AuthInfo, Cluster, Context, ExecConfig, ExecInteractiveMode, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

use crate::fs::{FileError, failed, write_atomic};

/// Why the kubeconfig could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KubeconfigError {
    /// The file exists but cannot be read or parsed; it is left untouched.
    #[error(
        "kubeconfig {path} is unreadable ({message}); fix it or point KUBECONFIG at another file; nothing was changed"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// It could not be written; the previous file is intact.
    #[error("cannot write kubeconfig {}; the previous file is intact", path.display())]
    Unwritable {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: FileError,
    },
    /// No home directory to find `~/.kube/config` under.
    #[error("no home directory for ~/.kube/config; set KUBECONFIG")]
    NoHome,
}

/// One login's kubeconfig cluster, user and context (all named `name`).
#[derive(Debug, Clone)]
pub struct KubeconfigEntry {
    /// Name of the cluster, user and context entries.
    pub name: String,
    /// The proxy URL.
    pub server: String,
    /// PEM of the CA that signed the proxy's certificate.
    pub ca_pem: String,
    /// Absolute path of `kubectl-sui`, so clients without the user's PATH find it.
    pub command: PathBuf,
    /// Arguments of the credential command.
    pub args: Vec<String>,
    /// Environment the credential command needs (e.g. `KUBECTL_SUI_HOME`).
    pub env: Vec<(String, String)>,
}

/// The kubeconfig file kubectl writes new entries to: the first of `$KUBECONFIG`, else
/// `~/.kube/config`.
pub fn default_kubeconfig_path() -> Result<PathBuf, KubeconfigError> {
    if let Some(list) = std::env::var_os("KUBECONFIG")
        && let Some(first) = std::env::split_paths(&list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    directories::BaseDirs::new().map(|b| b.home_dir().join(".kube").join("config")).ok_or(KubeconfigError::NoHome)
}

/// Reads `path` (empty when it does not exist).
pub fn read_kubeconfig(path: &Path) -> Result<Kubeconfig, KubeconfigError> {
    let unreadable = |message: String| KubeconfigError::Unreadable { path: path.to_path_buf(), message };
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Kubeconfig::default()),
        Ok(text) => Kubeconfig::from_yaml(&text).map_err(|e| unreadable(e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Kubeconfig::default()),
        Err(e) => Err(unreadable(e.to_string())),
    }
}

fn write(path: &Path, config: &Kubeconfig) -> Result<Option<PathBuf>, KubeconfigError> {
    let unwritable = |source| KubeconfigError::Unwritable { path: path.to_path_buf(), source };
    let mut config = config.clone();
    config.api_version.get_or_insert_with(|| "v1".to_string());
    config.kind.get_or_insert_with(|| "Config".to_string());
    let text = serde_yaml::to_string(&config).expect("kubeconfig serializes");
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| unwritable(failed("creating", dir)(e)))?;
    }
    let backup = if path.exists() {
        let backup = path.with_file_name(format!(
            "{}.kubectl-sui.bak",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ));
        std::fs::copy(path, &backup).map_err(|e| unwritable(failed("backing up", &backup)(e)))?;
        Some(backup)
    } else {
        None
    };
    write_atomic(path, text.as_bytes(), 0o600).map_err(unwritable)?;
    Ok(backup)
}

fn upsert<T>(list: &mut Vec<T>, name: &str, name_of: impl Fn(&T) -> &str, value: T) {
    match list.iter_mut().find(|e| name_of(e) == name) {
        Some(existing) => *existing = value,
        None => list.push(value),
    }
}

/// Adds or replaces `entry` in `path`, making it current when `set_current`; returns the
/// backup of the previous file, if there was one.
pub fn upsert_entry(
    path: &Path,
    entry: &KubeconfigEntry,
    set_current: bool,
) -> Result<Option<PathBuf>, KubeconfigError> {
    let mut config = read_kubeconfig(path)?;
    let cluster = Cluster {
        server: Some(entry.server.clone()),
        certificate_authority_data: Some(Base64::encode_string(entry.ca_pem.as_bytes())),
        ..Default::default()
    };
    upsert(
        &mut config.clusters,
        &entry.name,
        |c| &c.name,
        NamedCluster { name: entry.name.clone(), cluster: Some(cluster), ..Default::default() },
    );
    let exec = ExecConfig {
        api_version: Some("client.authentication.k8s.io/v1".to_string()),
        command: Some(entry.command.display().to_string()),
        args: Some(entry.args.clone()),
        env: (!entry.env.is_empty()).then(|| {
            entry
                .env
                .iter()
                .map(|(n, v)| HashMap::from([("name".to_string(), n.clone()), ("value".to_string(), v.clone())]))
                .collect()
        }),
        install_hint: Some(
            "kubectl-sui is not installed or not at this path: install it (install.sh or `kubectl krew install sui`), then run `kubectl sui login` again".to_string(),
        ),
        interactive_mode: Some(ExecInteractiveMode::IfAvailable),
        provide_cluster_info: true,
        ..Default::default()
    };
    let user = AuthInfo { exec: Some(exec), ..Default::default() };
    upsert(
        &mut config.auth_infos,
        &entry.name,
        |u| &u.name,
        NamedAuthInfo { name: entry.name.clone(), auth_info: Some(user), ..Default::default() },
    );
    let context = Context { cluster: entry.name.clone(), user: Some(entry.name.clone()), ..Default::default() };
    upsert(
        &mut config.contexts,
        &entry.name,
        |c| &c.name,
        NamedContext { name: entry.name.clone(), context: Some(context), ..Default::default() },
    );
    if set_current {
        config.current_context = Some(entry.name.clone());
    }
    write(path, &config)
}

/// Removes the cluster, user and context `name` from `path`; whether anything was removed.
pub fn remove_entry(path: &Path, name: &str) -> Result<bool, KubeconfigError> {
    let mut config = read_kubeconfig(path)?;
    let before = config.clusters.len() + config.auth_infos.len() + config.contexts.len();
    config.clusters.retain(|c| c.name != name);
    config.auth_infos.retain(|u| u.name != name);
    config.contexts.retain(|c| c.name != name);
    if before == config.clusters.len() + config.auth_infos.len() + config.contexts.len() {
        return Ok(false);
    }
    if config.current_context.as_deref() == Some(name) {
        config.current_context = None;
    }
    write(path, &config)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXISTING: &str = r#"apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod:6443", certificate-authority-data: "AAAA"}
users:
- name: prod-admin
  user: {token: keep-me, client-key-data: "S0VZ"}
contexts:
- name: prod
  context: {cluster: prod, user: prod-admin, namespace: web}
current-context: prod
preferences: {}
"#;

    fn entry() -> KubeconfigEntry {
        KubeconfigEntry {
            name: "sui-test".into(),
            server: "https://127.0.0.1:7443".into(),
            ca_pem: "-----BEGIN CERTIFICATE-----\n".into(),
            command: "/usr/local/bin/kubectl-sui".into(),
            args: vec!["credential".into(), "--cluster".into(), "sui-test".into()],
            env: vec![("KUBECTL_SUI_HOME".into(), "/tmp/h".into())],
        }
    }

    #[test]
    fn upsert_keeps_other_entries_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, EXISTING).unwrap();
        let backup = upsert_entry(&path, &entry(), false).unwrap().expect("a backup");
        assert_eq!(std::fs::read_to_string(backup).unwrap(), EXISTING);
        let config = read_kubeconfig(&path).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("prod"));
        assert_eq!(config.clusters.len(), 2);
        let prod = config.auth_infos.iter().find(|u| u.name == "prod-admin").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("keep-me") && text.contains("S0VZ") && text.contains("namespace: web"), "{text}");
        assert!(prod.auth_info.is_some());
        upsert_entry(&path, &entry(), true).unwrap();
        let config = read_kubeconfig(&path).unwrap();
        assert_eq!((config.clusters.len(), config.contexts.len()), (2, 2));
        assert_eq!(config.current_context.as_deref(), Some("sui-test"));
        assert!(remove_entry(&path, "sui-test").unwrap());
        let config = read_kubeconfig(&path).unwrap();
        assert_eq!((config.clusters.len(), config.current_context), (1, None));
        assert!(!remove_entry(&path, "sui-test").unwrap());
    }

    #[test]
    fn malformed_kubeconfig_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "clusters: {not: [a list").unwrap();
        let err = upsert_entry(&path, &entry(), true).unwrap_err().to_string();
        assert!(err.contains("unreadable") && err.contains("nothing was changed"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "clusters: {not: [a list");
    }
}
