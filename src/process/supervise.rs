//! Background processes of this program, found again through pid files.
//!
//! A detached start ([`spawn_detached`]) runs a command in its own process group (so it
//! outlives the terminal run that started it and a ^C there does not reach it), its output
//! appended to a log file; [`wait_until_ready`] then polls a readiness test until the child
//! exits or a deadline passes. Starters that may race take a [`StartLock`] first. Stopping is
//! by SIGTERM, then SIGKILL if asked ([`terminate`]). What failed is told with the log's last
//! lines ([`log_tail`]).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::fs::{FileError, failed};

/// The pid recorded in `pid_file`, if that process is alive.
pub fn live_pid(pid_file: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    alive(pid).then_some(pid)
}

/// Whether process `pid` exists.
pub fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
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

/// The last `lines` lines of a log, for error messages (empty if it cannot be read).
pub fn log_tail(log: &Path, lines: usize) -> String {
    tail_from(log, 0, lines)
}

/// The last `lines` lines of what follows byte `from` of a log (read from there on only: a
/// proxy's log grows with every run).
fn tail_from(log: &Path, from: u64, lines: usize) -> String {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    if let Ok(mut file) = File::open(log)
        && file.seek(std::io::SeekFrom::Start(from)).is_ok()
    {
        let _ = file.read_to_end(&mut bytes);
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// An exclusive lock on a file, held until dropped: starters of the same process take turns.
#[derive(Debug)]
pub struct StartLock(#[allow(dead_code)] File);

impl StartLock {
    /// Waits for the lock on `path` (created if missing).
    pub fn acquire(path: &Path) -> Result<StartLock, FileError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(failed("opening", path))?;
        file.lock().map_err(failed("locking", path))?;
        Ok(StartLock(file))
    }
}

/// A process started by [`spawn_detached`], and where its output begins in its log.
#[derive(Debug)]
pub struct Detached {
    /// The process.
    pub child: Child,
    log: PathBuf,
    from: u64,
}

impl Detached {
    /// The last `lines` lines this process wrote to its log, for error messages: the log is
    /// appended to by every run, and an earlier run's last words would mislead.
    pub fn log_tail(&self, lines: usize) -> String {
        tail_from(&self.log, self.from, lines)
    }
}

/// Starts `command` detached: standard input closed, output appended to `log`, in its own
/// process group.
pub fn spawn_detached(command: &mut Command, log: &Path) -> Result<Detached, FileError> {
    let out = std::fs::OpenOptions::new().create(true).append(true).open(log).map_err(failed("opening", log))?;
    let from = out.metadata().map_err(failed("opening", log))?.len();
    let err = out.try_clone().map_err(failed("opening", log))?;
    command.stdin(Stdio::null()).stdout(out).stderr(err);
    std::os::unix::process::CommandExt::process_group(command, 0);
    let child = command.spawn().map_err(failed("starting", Path::new(command.get_program())))?;
    Ok(Detached { child, log: log.to_path_buf(), from })
}

/// Why a started process never became ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// It exited first.
    Exited(ExitStatus),
    /// It was still not ready after this long.
    TimedOut(Duration),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited(status) => write!(f, "it exited ({status})"),
            NotReady::TimedOut(waited) => write!(f, "it was not ready within {}s", waited.as_secs()),
        }
    }
}

/// Polls `ready` every `poll` until it holds, `child` exits, or `timeout` passes.
pub fn wait_until_ready(
    child: &mut Child,
    timeout: Duration,
    poll: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), NotReady> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(NotReady::Exited(status));
        }
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut(timeout));
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_that_exits_is_told_apart_from_one_that_is_never_ready() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        std::fs::write(&log, "an earlier run's last words\n").unwrap();
        let mut exits =
            spawn_detached(Command::new("sh").args(["-c", "echo one; echo two >&2; exit 3"]), &log).unwrap();
        let why = wait_until_ready(&mut exits.child, Duration::from_secs(10), Duration::from_millis(10), || false)
            .unwrap_err();
        assert!(matches!(why, NotReady::Exited(s) if s.code() == Some(3)), "{why}");
        assert_eq!(exits.log_tail(1), "two");
        assert_eq!(exits.log_tail(5), "one\ntwo", "this run's lines only");
        assert_eq!(log_tail(&log, 5), "an earlier run's last words\none\ntwo");

        let mut sleeps = spawn_detached(Command::new("sleep").arg("30"), &log).unwrap().child;
        let why = wait_until_ready(&mut sleeps, Duration::from_millis(100), Duration::from_millis(10), || false);
        assert_eq!(why, Err(NotReady::TimedOut(Duration::from_millis(100))));
        let pid_file = dir.path().join("pid");
        std::fs::write(&pid_file, sleeps.id().to_string()).unwrap();
        assert_eq!(live_pid(&pid_file), Some(sleeps.id() as i32));
        // Reaped as it dies, as init reaps a real background process (a zombie still "lives").
        let reaper = std::thread::spawn(move || sleeps.wait().unwrap());
        assert!(terminate(&pid_file, Duration::from_secs(5), false));
        assert!(reaper.join().unwrap().code().is_none(), "ended by the signal");
        assert_eq!(live_pid(&pid_file), None);
        assert!(!terminate(&pid_file, Duration::from_secs(1), true), "nothing left to stop");
    }
}
