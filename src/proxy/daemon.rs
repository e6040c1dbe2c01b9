//! The proxy as a background process: started by the credential command when kubectl first
//! needs it, found again through its pid file, stopped by `logout`, `down` or
//! `proxy --stop`. Its output goes to a log file next to its certificates. The supervision
//! itself (pid files, detached start, start lock, log tail) is [`crate::process::supervise`]'s.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::ProxyError;
use crate::config::{Login, Paths};
use crate::fs::create_private_dir;
pub use crate::process::supervise::live_pid;
use crate::process::supervise::{StartLock, spawn_detached, terminate, wait_until_ready};

/// How long a starting proxy may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The pid file of `context`'s proxy.
pub fn pid_file(paths: &Paths, context: &str) -> PathBuf {
    paths.proxy_dir(context).join("proxy.pid")
}

/// Where `context`'s proxy writes the address of its metrics endpoint, while it serves one.
pub fn metrics_file(paths: &Paths, context: &str) -> PathBuf {
    paths.proxy_dir(context).join("metrics.addr")
}

/// The log file of `context`'s proxy.
pub fn log_file(paths: &Paths, context: &str) -> PathBuf {
    paths.proxy_dir(context).join("proxy.log")
}

/// The pid of `context`'s proxy, if one is running.
pub fn running_pid(paths: &Paths, context: &str) -> Option<i32> {
    live_pid(&pid_file(paths, context))
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(200)).is_ok()
}

/// Starts `login`'s proxy in the background unless it is running; `exe` is `kubectl-sui`.
/// Returns whether it had to be started. Starters take turns (a lock file beside the pid
/// file): kubectl runs the credential command once per invocation, so two first kubectl
/// calls at once would otherwise both start a proxy, and the one that lost the port would
/// fail its kubectl.
pub fn ensure_running(paths: &Paths, login: &Login, exe: &Path) -> Result<bool, ProxyError> {
    let up = || running_pid(paths, &login.context).is_some() && listening(login.proxy_port);
    if up() {
        return Ok(false);
    }
    let dir = paths.proxy_dir(&login.context);
    create_private_dir(&dir)?;
    // Released when dropped, on every return below.
    let _turn = StartLock::acquire(&dir.join("start.lock"))?;
    if up() {
        return Ok(false);
    }
    let log = log_file(paths, &login.context);
    let mut started = spawn_detached(Command::new(exe).args(["proxy", "--cluster", &login.context]), &log)?;
    match wait_until_ready(&mut started.child, START_TIMEOUT, Duration::from_millis(50), up) {
        Ok(()) => Ok(true),
        Err(why) => Err(ProxyError::DidNotStart { tail: started.log_tail(5), log, why: why.to_string() }),
    }
}

/// Stops `context`'s proxy (SIGTERM, then SIGKILL after 5 s); whether one was running.
pub fn stop(paths: &Paths, context: &str) -> bool {
    let pid_file = pid_file(paths, context);
    let stopped = terminate(&pid_file, Duration::from_secs(5), true);
    if stopped {
        let _ = std::fs::remove_file(pid_file);
    }
    stopped
}
