//! The proxy as a background process: started by the credential command when kubectl first
//! needs it, found again through its pid file, stopped by `logout`, `down` or
//! `proxy --stop`. Its output goes to a log file next to its certificates.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ProxyError;
use crate::config::{Login, Paths};
use crate::fs::{create_private_dir, failed};

/// How long a starting proxy may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The pid file of `context`'s proxy.
pub fn pid_file(paths: &Paths, context: &str) -> PathBuf {
    paths.proxy_dir(context).join("proxy.pid")
}

/// The log file of `context`'s proxy.
pub fn log_file(paths: &Paths, context: &str) -> PathBuf {
    paths.proxy_dir(context).join("proxy.log")
}

/// The pid of `context`'s proxy, if one is running.
pub fn running_pid(paths: &Paths, context: &str) -> Option<i32> {
    live_pid(&pid_file(paths, context))
}

/// The pid recorded in `pid_file`, if that process is alive.
pub fn live_pid(pid_file: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

/// Stops the process recorded in `pid_file` with SIGTERM, waiting up to `grace` for it to
/// exit, then SIGKILL if `kill` and it still runs; whether one was running.
pub fn terminate(pid_file: &Path, grace: Duration, kill: bool) -> bool {
    let Some(pid) = live_pid(pid_file) else { return false };
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && alive(pid.as_raw()) {
        std::thread::sleep(Duration::from_millis(50));
    }
    if kill && alive(pid.as_raw()) {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    }
    true
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
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
    if running_pid(paths, &login.context).is_some() && listening(login.proxy_port) {
        return Ok(false);
    }
    let dir = paths.proxy_dir(&login.context);
    create_private_dir(&dir)?;
    let lock_path = dir.join("start.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(failed("opening", &lock_path))?;
    // Released when `lock` is dropped, on every return below.
    lock.lock().map_err(failed("locking", &lock_path))?;
    if running_pid(paths, &login.context).is_some() && listening(login.proxy_port) {
        return Ok(false);
    }
    let log_path = log_file(paths, &login.context);
    let log =
        std::fs::OpenOptions::new().create(true).append(true).open(&log_path).map_err(failed("opening", &log_path))?;
    let log_err = log.try_clone().map_err(failed("opening", &log_path))?;
    let mut command = Command::new(exe);
    command.args(["proxy", "--cluster", &login.context]).stdin(Stdio::null()).stdout(log).stderr(log_err);
    // Its own process group: the proxy outlives the kubectl run that started it, and a ^C
    // in that terminal does not reach it.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(failed("starting", exe))?;
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ProxyError::DidNotStart {
                log: log_path.clone(),
                why: format!("it exited ({status})"),
                tail: tail(&log_path),
            });
        }
        if listening(login.proxy_port) && running_pid(paths, &login.context).is_some() {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(ProxyError::DidNotStart {
        log: log_path.clone(),
        why: format!("it did not listen within {}s", START_TIMEOUT.as_secs()),
        tail: tail(&log_path),
    })
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
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
