//! The client-go exec credential protocol: what kubectl asks for (`KUBERNETES_EXEC_INFO`),
//! the `ExecCredential` it reads from stdout, and a disk cache so most kubectl runs cost no
//! signing and no key-store access.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::file_safe;
use crate::fs::{FileError, create_private_dir, lock_file, write_atomic};

/// The apiVersions of `client.authentication.k8s.io` this plugin speaks.
const API_VERSIONS: [&str; 2] = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"];

/// A cached credential is reused only while it has at least this long left, so kubectl
/// never sends one that expires in flight.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// What kubectl passed in `KUBERNETES_EXEC_INFO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecInfo {
    /// The apiVersion to answer with.
    pub api_version: String,
    /// Whether the plugin may prompt on the terminal.
    pub interactive: bool,
}

#[derive(Deserialize)]
struct ExecInfoJson {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    spec: Option<ExecInfoSpec>,
}

#[derive(Deserialize)]
struct ExecInfoSpec {
    #[serde(default)]
    interactive: bool,
}

impl ExecInfo {
    /// Parses the variable's value; without one (run by hand) answers v1, non-interactive.
    pub fn parse(value: Option<&str>) -> Result<ExecInfo, String> {
        let Some(value) = value.filter(|v| !v.trim().is_empty()) else {
            return Ok(ExecInfo { api_version: API_VERSIONS[0].to_string(), interactive: false });
        };
        let info: ExecInfoJson =
            serde_json::from_str(value).map_err(|e| format!("KUBERNETES_EXEC_INFO is not valid JSON: {e}"))?;
        let api_version = info.api_version.unwrap_or_else(|| API_VERSIONS[0].to_string());
        if !API_VERSIONS.contains(&api_version.as_str()) {
            return Err(format!(
                "kubectl asked for ExecCredential {api_version}; this plugin speaks {}",
                API_VERSIONS.join(" and ")
            ));
        }
        Ok(ExecInfo { api_version, interactive: info.spec.is_some_and(|s| s.interactive) })
    }
}

/// The `ExecCredential` JSON kubectl reads: `token`, valid until `expires`.
pub fn exec_credential(api_version: &str, token: &str, expires: SystemTime) -> String {
    let expiration = humantime::format_rfc3339_seconds(expires).to_string();
    serde_json::json!({
        "apiVersion": api_version,
        "kind": "ExecCredential",
        "spec": {},
        "status": { "token": token, "expirationTimestamp": expiration },
    })
    .to_string()
}

/// A credential in the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedCredential {
    /// The bearer token.
    pub token: String,
    /// Its expiry, ms since the epoch.
    pub expires_ms: u64,
}

impl CachedCredential {
    /// Its expiry.
    pub fn expires(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_ms)
    }

    fn fresh(&self, now: SystemTime) -> bool {
        now + REFRESH_MARGIN < self.expires()
    }
}

/// Credentials cached on disk, one file per identity and context (0600), each guarded by a
/// lock file so concurrent kubectl runs create one credential, not several.
#[derive(Debug, Clone)]
pub struct CredentialCache {
    dir: PathBuf,
}

impl CredentialCache {
    /// The cache in `dir`.
    pub fn new(dir: PathBuf) -> CredentialCache {
        CredentialCache { dir }
    }

    fn file(&self, identity: &str, context: &str) -> PathBuf {
        self.dir.join(format!("{}.json", file_safe(&format!("{identity}-{context}"))))
    }

    /// The cached credential for `identity` and `context` when fresh at `now`, else the one
    /// `make` returns, which is then cached. `make` runs under the entry's lock.
    pub fn get_or_make<E: From<FileError>>(
        &self,
        identity: &str,
        context: &str,
        now: SystemTime,
        make: impl FnOnce() -> Result<CachedCredential, E>,
    ) -> Result<(CachedCredential, bool), E> {
        create_private_dir(&self.dir)?;
        let path = self.file(identity, context);
        let _lock = lock_file(&path.with_extension("lock"))?;
        let cached = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<CachedCredential>(&b).ok());
        if let Some(c) = cached.filter(|c| c.fresh(now)) {
            return Ok((c, true));
        }
        let made = make()?;
        write_atomic(&path, &serde_json::to_vec(&made).expect("credential serializes"), 0o600)?;
        Ok((made, false))
    }

    /// Forgets the credential of `identity` and `context`.
    pub fn forget(&self, identity: &str, context: &str) {
        let _ = std::fs::remove_file(self.file(identity, context));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_info_follows_kubectl() {
        let v1beta1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":true}}"#;
        let info = ExecInfo::parse(Some(v1beta1)).unwrap();
        assert_eq!((info.api_version.as_str(), info.interactive), ("client.authentication.k8s.io/v1beta1", true));
        let v1 =
            r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#;
        assert!(!ExecInfo::parse(Some(v1)).unwrap().interactive);
        assert_eq!(ExecInfo::parse(None).unwrap().api_version, API_VERSIONS[0]);
        let alpha = r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#;
        assert!(ExecInfo::parse(Some(alpha)).unwrap_err().contains("v1alpha1"));
    }

    #[test]
    fn credential_json_has_token_and_rfc3339_expiry() {
        let json = exec_credential(API_VERSIONS[1], "t", UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["apiVersion"], API_VERSIONS[1]);
        assert_eq!(v["kind"], "ExecCredential");
        assert_eq!(v["status"]["token"], "t");
        assert_eq!(v["status"]["expirationTimestamp"], "2027-01-15T08:00:00Z");
    }

    #[test]
    fn cache_reuses_fresh_and_replaces_stale_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CredentialCache::new(dir.path().join("c"));
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let make = |token: &str, expires_ms| {
            let token = token.to_string();
            move || Ok::<_, FileError>(CachedCredential { token, expires_ms })
        };
        let (first, hit) = cache.get_or_make("me", "ctx", now, make("a", 1_000_000 + 3_600_000)).unwrap();
        assert!(!hit);
        let (again, hit) = cache.get_or_make("me", "ctx", now, make("b", 0)).unwrap();
        assert!(hit);
        assert_eq!(again, first);
        let later = now + Duration::from_secs(3_600 - 30);
        let (renewed, hit) = cache.get_or_make("me", "ctx", later, make("c", 9_000_000)).unwrap();
        assert!(!hit);
        assert_eq!(renewed.token, "c");
        cache.forget("me", "ctx");
        assert!(!cache.get_or_make("me", "ctx", now, make("d", 9_000_000)).unwrap().1);
    }
}
