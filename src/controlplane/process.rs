//! A child process of the control plane: started with its output in a log file, killed and
//! reaped when dropped, so no component outlives the control plane, even when a test panics.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::error::ControlPlaneError;

/// One running component.
#[derive(Debug)]
pub struct Component {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Component {
    /// Starts `binary` with `args`, its stdout and stderr appended to `log`.
    pub fn spawn(
        name: &'static str,
        binary: &Path,
        args: &[String],
        log: PathBuf,
    ) -> Result<Component, ControlPlaneError> {
        let io = crate::fs::failed("opening log", &log);
        let out = File::options().create(true).append(true).open(&log).map_err(&io)?;
        let err = out.try_clone().map_err(&io)?;
        let child = Command::new(binary)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| ControlPlaneError::Spawn { component: name, binary: binary.to_path_buf(), source })?;
        Ok(Component { name, child, log })
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// An error if the process has exited.
    pub fn check_running(&mut self) -> Result<(), ControlPlaneError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(ControlPlaneError::Exited {
                component: self.name,
                status,
                log: self.log.clone(),
                tail: log_tail(&self.log),
            }),
            Err(source) => Err(crate::fs::FileError::new("checking process of", &self.log, source).into()),
        }
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        // Already exited, or killed now; either way reap it so no zombie is left.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log, for error messages.
pub fn log_tail(log: &Path) -> String {
    crate::process::supervise::log_tail(log, 15)
}
