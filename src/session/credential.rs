//! `kubectl sui credential`: the ExecCredential kubectl asks for. It refuses an expired
//! token or a login whose identity is no longer configured (each naming `kubectl sui login`),
//! serves the cached bearer token while it is fresh, and starts the login's proxy if it is not
//! running.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{SessionError, now_ms};
use crate::config::{Login, Paths, Settings};
use crate::credential::{self, BearerToken, CachedCredential, CredentialCache, ExecInfo};
use crate::proxy::daemon;

/// A fresh credential is valid this long (or until the seal token expires, if sooner).
pub const CREDENTIAL_LIFETIME: Duration = Duration::from_secs(3600);

/// What the credential command answers.
#[derive(Debug)]
pub struct CredentialOutcome {
    /// The ExecCredential, as JSON, in the apiVersion kubectl asked for.
    pub exec_credential: String,
    /// Whether the proxy had to be started for it.
    pub started_proxy: bool,
    /// The login it is for.
    pub login: Login,
}

/// The credential of the login `selector` names (a context, a cluster name or id), for
/// `info`, starting its proxy with `exe` (this `kubectl-sui`) if needed.
pub fn credential(
    paths: &Paths,
    settings: &Settings,
    selector: Option<&str>,
    info: &ExecInfo,
    exe: &Path,
) -> Result<CredentialOutcome, SessionError> {
    let login = settings.login(selector, None)?.clone();
    let now = SystemTime::now();
    if login.token_expires_ms <= now_ms() {
        let when = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(login.token_expires_ms));
        return Err(SessionError::Refused(format!(
            "seal token {} for cluster {} expired at {when}; run `kubectl sui login --cluster {}`",
            login.token, login.cluster_name, login.cluster_name
        )));
    }
    let identity = settings.identity.as_ref().filter(|i| i.address == login.address).ok_or_else(|| {
        SessionError::Refused(format!(
            "context {} was logged in as {}, which is no longer the configured identity; run `kubectl sui login --cluster {}`",
            login.context, login.address, login.cluster_name
        ))
    })?;
    let cache = CredentialCache::new(paths.credential_cache_dir());
    let (cached, _hit) = cache.get_or_make(&login.address.to_string(), &login.context, now, || {
        let key = credential::load_key(paths, identity.address, identity.store)?;
        let expires_ms = login.token_expires_ms.min(now_ms() + CREDENTIAL_LIFETIME.as_millis() as u64);
        let bearer =
            BearerToken { address: login.address, cluster: login.cluster, seal_token: login.token, expires_ms };
        Ok::<_, SessionError>(CachedCredential { token: bearer.sign(&key), expires_ms })
    })?;
    let started_proxy = daemon::ensure_running(paths, &login, exe)?;
    let exec_credential = credential::exec_credential(&info.api_version, &cached.token, cached.expires());
    Ok(CredentialOutcome { exec_credential, started_proxy, login })
}
