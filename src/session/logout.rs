//! `kubectl sui logout`: stops the login's proxy, removes its kubeconfig entry, its cached
//! credential and its record. The seal token keeps its stake (`kubectl sui token unstake`
//! returns it).

use super::SessionError;
use crate::config::{Login, Paths, Settings};
use crate::credential::{self, CredentialCache};
use crate::proxy::daemon;

/// What a logout did.
#[derive(Debug)]
pub struct LogoutOutcome {
    /// The login removed.
    pub login: Login,
    /// Whether its proxy was running (and was stopped).
    pub stopped_proxy: bool,
    /// Whether its kubeconfig entry was there (and was removed).
    pub removed_entry: bool,
}

/// Logs out of the login `selector` names, or of `current_context`'s.
pub fn logout(
    paths: &Paths,
    settings: &Settings,
    selector: Option<&str>,
    current_context: Option<&str>,
) -> Result<LogoutOutcome, SessionError> {
    let login = settings.login(selector, current_context)?.clone();
    let stopped_proxy = daemon::stop(paths, &login.context);
    let removed_entry = credential::remove_entry(&login.kubeconfig, &login.context)?;
    CredentialCache::new(paths.credential_cache_dir()).forget(&login.address.to_string(), &login.context);
    Settings::update(paths, |s| s.logins.remove(&login.context))?;
    Ok(LogoutOutcome { login, stopped_proxy, removed_entry })
}
