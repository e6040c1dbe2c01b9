//! Files as every module writes them: an error that says what was being done to which path,
//! private directories, atomic replacement, and exclusive locks.
//!
//! This module owns the mechanics only; it must not know what any file means. Each module's
//! error type wraps [`FileError`] rather than repeating its fields.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A file operation that failed: what was being done, to which path, and why.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}")]
pub struct FileError {
    /// What was being done ("reading", "creating", ...).
    pub action: &'static str,
    /// On what.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

impl FileError {
    /// The error of `action` on `path`.
    pub fn new(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> FileError {
        FileError { action, path: path.into(), source }
    }
}

/// A mapper from the I/O errors of `action` on `path` to [`FileError`]s, for `map_err`.
pub fn failed(action: &'static str, path: &Path) -> impl Fn(std::io::Error) -> FileError + use<> {
    let path = path.to_path_buf();
    move |source| FileError::new(action, path.clone(), source)
}

/// Creates `dir` (and parents) readable only by the user.
pub fn create_private_dir(dir: &Path) -> Result<(), FileError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(failed("creating", dir))
}

/// Holds an exclusive lock on `path` (created if missing) until dropped. A separate lock file
/// lets readers of the locked file never see it partially replaced.
pub fn lock_file(path: &Path) -> Result<std::fs::File, FileError> {
    let io = failed("locking", path);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).map_err(&io)?;
    file.lock().map_err(&io)?;
    Ok(file)
}

/// Replaces `path` with `bytes` atomically (write a sibling, fsync, rename), with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::Builder::new().prefix(".kubectl-sui-").tempfile_in(dir).map_err(failed("writing next to", path))?;
    #[cfg(unix)]
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(mode))
        .map_err(failed("setting permissions of", path))?;
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(failed("writing", path))?;
    tmp.persist(path).map_err(|e| FileError::new("replacing", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_with_the_mode_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        write_atomic(&path, b"one", 0o600).unwrap();
        write_atomic(&path, b"two", 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        }
        let missing = dir.path().join("no/such/dir/f");
        let err = write_atomic(&missing, b"x", 0o600).unwrap_err();
        assert_eq!((err.action, err.path), ("writing next to", missing));
    }
}
