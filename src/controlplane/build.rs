//! Building the local control plane's binaries from their pinned Go modules, and the cache of
//! what was built.
//!
//! This module owns the pins (three Go modules, `pins/*/go.mod` and `go.sum`, embedded in the
//! binary so an installed `kubectl sui` can build without the source checkout), the cache
//! (`$KUBECTL_SUI_K8S_CACHE`, default `<cache dir>/kubectl-sui/k8s`, one directory per
//! Kubernetes version and key), the key (every pin, this builder's version, the Go toolchain),
//! one `go build` per binary with its progress and the time it took last time, and the atomic
//! install of a complete build: a build that stops half-way leaves nothing a later run would
//! take for complete. It does not start anything ([`super::ControlPlane`] does).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::BINARIES;
use crate::fs::{create_private_dir, lock_file, write_atomic};

/// Bumped when a change here changes what is built.
const BUILDER_VERSION: &str = "1";

/// A pinned Go module: its directory name and files.
struct Pin {
    dir: &'static str,
    go_mod: &'static str,
    go_sum: &'static str,
}

const PINS: [Pin; 3] = [
    Pin {
        dir: "kubernetes",
        go_mod: include_str!("pins/kubernetes/go.mod"),
        go_sum: include_str!("pins/kubernetes/go.sum"),
    },
    Pin { dir: "etcd", go_mod: include_str!("pins/etcd/go.mod"), go_sum: include_str!("pins/etcd/go.sum") },
    Pin { dir: "kwok", go_mod: include_str!("pins/kwok/go.mod"), go_sum: include_str!("pins/kwok/go.sum") },
];

/// One binary: the pin it is built in and its Go package.
struct Step {
    binary: &'static str,
    pin: &'static str,
    package: &'static str,
    /// Whether Kubernetes' version variables are set (so `kubectl version` tells the truth).
    versioned: bool,
}

const STEPS: [Step; 6] = [
    Step {
        binary: "kube-apiserver",
        pin: "kubernetes",
        package: "k8s.io/kubernetes/cmd/kube-apiserver",
        versioned: true,
    },
    Step {
        binary: "kube-controller-manager",
        pin: "kubernetes",
        package: "k8s.io/kubernetes/cmd/kube-controller-manager",
        versioned: true,
    },
    Step {
        binary: "kube-scheduler",
        pin: "kubernetes",
        package: "k8s.io/kubernetes/cmd/kube-scheduler",
        versioned: true,
    },
    Step { binary: "kubectl", pin: "kubernetes", package: "k8s.io/kubernetes/cmd/kubectl", versioned: true },
    Step { binary: "etcd", pin: "etcd", package: "go.etcd.io/etcd/server/v3", versioned: false },
    Step { binary: "kwok", pin: "kwok", package: "sigs.k8s.io/kwok/cmd/kwok", versioned: false },
];

/// What can go wrong building the control plane.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No Go toolchain.
    #[error(
        "building the local control plane needs Go 1.24 or newer, and `go` is not on PATH: install it (https://go.dev/doc/install, or your distribution's golang package), or point KUBECTL_SUI_K8S_BIN at already built binaries"
    )]
    NoGo,
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// `go` could not be run.
    #[error("running go: {0}")]
    Go(#[source] std::io::Error),
    /// A `go build` failed.
    #[error("go build of {binary} failed ({status}); its output:\n{output}")]
    Failed {
        /// The binary.
        binary: &'static str,
        /// The exit status.
        status: std::process::ExitStatus,
        /// The end of what it printed.
        output: String,
    },
}

/// How a build is going, for a progress display.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Building `binary`, the `index`th of `total`; `last` is how long it took last time.
    Building {
        /// The binary.
        binary: &'static str,
        /// 1-based.
        index: usize,
        /// How many.
        total: usize,
        /// The previous build's time for it, when known.
        last: Option<Duration>,
    },
    /// `binary` is built.
    Built {
        /// The binary.
        binary: &'static str,
        /// How long it took.
        took: Duration,
    },
}

/// The root of the build cache: `$KUBECTL_SUI_K8S_CACHE`, else `<cache dir>/kubectl-sui/k8s`.
pub fn cache_root() -> PathBuf {
    if let Some(root) = std::env::var_os("KUBECTL_SUI_K8S_CACHE") {
        return PathBuf::from(root);
    }
    directories::BaseDirs::new()
        .map(|b| b.cache_dir().to_path_buf())
        .unwrap_or_else(std::env::temp_dir)
        .join("kubectl-sui")
        .join("k8s")
}

/// The Kubernetes version the pins build.
pub fn kubernetes_version() -> &'static str {
    required(PINS[0].go_mod, "k8s.io/kubernetes").expect("the kubernetes pin requires k8s.io/kubernetes")
}

/// The version a go.mod requires of `module`, in a `require` line or block.
fn required<'a>(go_mod: &'a str, module: &str) -> Option<&'a str> {
    go_mod.lines().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [m, v, ..] if *m == module => Some(*v),
            ["require", m, v, ..] if *m == module => Some(*v),
            _ => None,
        }
    })
}

/// Whether `dir` holds every binary the control plane needs.
pub fn is_complete(dir: &Path) -> bool {
    BINARIES.iter().all(|b| dir.join(b).is_file())
}

/// The binaries of the local control plane: `$KUBECTL_SUI_K8S_BIN`; else this build's cache
/// entry, built first when missing (with `progress` told each step). Without Go, the newest
/// complete entry of the cache is used if there is one.
pub fn ensure(progress: &mut dyn FnMut(Progress)) -> Result<PathBuf, BuildError> {
    if let Some(dir) = std::env::var_os("KUBECTL_SUI_K8S_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let root = cache_root();
    let Some(go) = go_env() else {
        return newest_cached(&root).ok_or(BuildError::NoGo);
    };
    let out = root.join(format!("{}-{}", kubernetes_version(), key(&go)));
    let bin = out.join("bin");
    if is_complete(&bin) {
        return Ok(bin);
    }
    create_private_dir(&root)?;
    // One build at a time: a second caller waits, then finds the first one's result.
    let _lock = lock_file(&root.join(".build.lock"))?;
    if is_complete(&bin) {
        return Ok(bin);
    }
    build(&root, &out, progress)?;
    Ok(bin)
}

/// `go env GOVERSION GOOS GOARCH`, or `None` without Go.
fn go_env() -> Option<String> {
    let out = Command::new("go").args(["env", "GOVERSION", "GOOS", "GOARCH"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Hashes every pin, the steps, this builder's version and the toolchain.
fn key(go: &str) -> String {
    let mut text = String::new();
    for pin in &PINS {
        text.push_str(pin.dir);
        text.push_str(pin.go_mod);
        text.push_str(pin.go_sum);
    }
    for step in &STEPS {
        text.push_str(step.binary);
        text.push_str(step.package);
    }
    text.push_str(BUILDER_VERSION);
    text.push_str(go);
    let digest = sui_sdk_types::hash::Hasher::digest(text.as_bytes());
    digest.inner().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn newest_cached(root: &Path) -> Option<PathBuf> {
    std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| is_complete(b))
        .max_by_key(|b| std::fs::metadata(b).and_then(|m| m.modified()).ok())
}

/// Seconds each binary took last time, kept beside the cache entries.
fn timings_file(root: &Path) -> PathBuf {
    root.join("timings.json")
}

fn build(root: &Path, out: &Path, progress: &mut dyn FnMut(Progress)) -> Result<(), BuildError> {
    let scratch = tempfile::Builder::new()
        .prefix(".build.")
        .tempdir_in(root)
        .map_err(crate::fs::failed("creating a build directory in", root))?;
    let work = scratch.path();
    for pin in &PINS {
        let dir = work.join("src").join(pin.dir);
        create_private_dir(&dir)?;
        write_atomic(&dir.join("go.mod"), pin.go_mod.as_bytes(), 0o644)?;
        write_atomic(&dir.join("go.sum"), pin.go_sum.as_bytes(), 0o644)?;
    }
    let bin = work.join("bin");
    create_private_dir(&bin)?;
    let mut timings: std::collections::BTreeMap<String, u64> =
        std::fs::read(timings_file(root)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let version = kubernetes_version();
    let minor = version.split('.').nth(1).unwrap_or("0");
    for (i, step) in STEPS.iter().enumerate() {
        progress(Progress::Building {
            binary: step.binary,
            index: i + 1,
            total: STEPS.len(),
            last: timings.get(step.binary).map(|s| Duration::from_secs(*s)),
        });
        let started = Instant::now();
        let mut ldflags = String::from("-s -w");
        if step.versioned {
            for pkg in ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"] {
                ldflags.push_str(&format!(
                    " -X {pkg}.gitVersion={version} -X {pkg}.gitMajor=1 -X {pkg}.gitMinor={minor} -X {pkg}.gitTreeState=clean"
                ));
            }
        }
        let output = Command::new("go")
            .args(["build", "-trimpath", "-buildvcs=false", "-ldflags", &ldflags, "-o"])
            .arg(bin.join(step.binary))
            .arg(step.package)
            .current_dir(work.join("src").join(step.pin))
            // The pinned toolchain is the one installed: never download another.
            .env("GOTOOLCHAIN", "local")
            .output()
            .map_err(BuildError::Go)?;
        if !output.status.success() {
            let text = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            return Err(BuildError::Failed {
                binary: step.binary,
                status: output.status,
                output: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
            });
        }
        let took = started.elapsed();
        timings.insert(step.binary.to_string(), took.as_secs());
        progress(Progress::Built { binary: step.binary, took });
    }
    let versions = format!(
        "kubernetes {version}\netcd {}\nkwok {}\n{}",
        required(PINS[1].go_mod, "go.etcd.io/etcd/server/v3").unwrap_or("?"),
        required(PINS[2].go_mod, "sigs.k8s.io/kwok").unwrap_or("?"),
        go_env().unwrap_or_default()
    );
    write_atomic(&work.join("versions"), versions.as_bytes(), 0o644)?;
    std::fs::remove_dir_all(work.join("src")).map_err(crate::fs::failed("removing", &work.join("src")))?;
    // The complete build appears at once, under its final name, or not at all.
    let kept = scratch.keep();
    let _ = std::fs::remove_dir_all(out);
    std::fs::rename(&kept, out).map_err(crate::fs::failed("installing the build as", out))?;
    write_atomic(&timings_file(root), &serde_json::to_vec_pretty(&timings).expect("timings serialize"), 0o644)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pins_name_their_versions() {
        assert!(kubernetes_version().starts_with("v1."), "{}", kubernetes_version());
        assert!(required(PINS[1].go_mod, "go.etcd.io/etcd/server/v3").is_some());
        assert!(required(PINS[2].go_mod, "sigs.k8s.io/kwok").is_some());
        // Every binary the control plane runs is built, and nothing else.
        let mut built: Vec<&str> = STEPS.iter().map(|s| s.binary).collect();
        let mut needed = BINARIES.to_vec();
        built.sort();
        needed.sort();
        assert_eq!(built, needed);
    }

    #[test]
    fn the_key_changes_with_the_toolchain() {
        assert_ne!(key("go1.24.0 linux amd64"), key("go1.25.0 linux amd64"));
        assert_eq!(key("go1.24.0 linux amd64"), key("go1.24.0 linux amd64"));
    }
}
