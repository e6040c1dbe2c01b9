//! A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager,
//! kube-scheduler and kwok (fake nodes that run pods without a container runtime).
//!
//! This module owns starting those processes from binaries built by [`build`],
//! their freshly generated certificates, an admin kubeconfig, readiness, and teardown: every
//! process is killed when the [`ControlPlane`] is dropped. It does not build binaries, and it
//! talks to the cluster only through the real `kubectl` (which must be on `PATH`), as a user
//! would. The tests use it, and `kubectl sui up` starts the same.

pub mod build;
mod error;
pub mod forward;
mod pki;
mod process;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub use error::ControlPlaneError;
use pki::Pki;
use process::{Component, log_tail};

/// The binaries the control plane runs, and the kubectl it is driven with, in
/// `ControlPlaneSpec::bin_dir`.
pub const BINARIES: [&str; 6] =
    ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl"];
/// Service IP range; its first address is in the serving certificate.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";
/// How long each component gets to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(250);

/// What to start.
#[derive(Debug, Clone)]
pub struct ControlPlaneSpec {
    /// Directory with the binaries of [`BINARIES`].
    pub bin_dir: PathBuf,
    /// Directory for certificates, data, logs and the kubeconfig; must exist.
    pub work_dir: PathBuf,
    /// Number of kwok nodes to register.
    pub nodes: usize,
}

/// Every request at Metadata level (who, verb, what, answer), once complete: what
/// `kubectl sui audit verify` and the end-to-end tests compare with the chain.
const AUDIT_POLICY: &str = "apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
";

/// A running control plane; dropping it stops every component.
#[derive(Debug)]
pub struct ControlPlane {
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    audit_log: PathBuf,
    pod_log: PathBuf,
    forward: forward::ForwardBackend,
    // Declared in start order; stopped in reverse by `Drop`.
    components: Vec<Component>,
}

impl ControlPlane {
    /// Starts etcd, the API server, the controller manager, the scheduler and kwok, registers
    /// `spec.nodes` kwok nodes, and returns once the nodes are Ready and the `default`
    /// service account exists (so pods can be created).
    pub fn start(spec: &ControlPlaneSpec) -> Result<ControlPlane, ControlPlaneError> {
        let bin = |name: &str| -> Result<PathBuf, ControlPlaneError> {
            let path = spec.bin_dir.join(name);
            if path.is_file() { Ok(path) } else { Err(ControlPlaneError::MissingBinary { path }) }
        };
        for name in BINARIES {
            bin(name)?;
        }
        let work = &spec.work_dir;
        let pki = Pki::generate(work)?;
        let arg = |name: &str, value: &dyn AsRef<std::ffi::OsStr>| {
            format!("--{name}={}", Path::new(value.as_ref()).display())
        };

        let (etcd_client, etcd_peer, apiserver_port) = (free_port()?, free_port()?, free_port()?);
        // kwok's port is in the nodes' status (their kubelet endpoint), which etcd keeps across
        // restarts and kwok does not rewrite: the same port each time, or logs, exec, attach
        // and port-forward reach nothing after `kubectl sui down` and `up`.
        let kwok_port = kept_port(&work.join("kwok.port"))?;
        let mut plane = ControlPlane {
            kubectl: bin("kubectl")?,
            kubeconfig: work.join("admin.kubeconfig"),
            server: format!("https://127.0.0.1:{apiserver_port}"),
            audit_log: work.join("audit.log"),
            pod_log: work.join("pod.log"),
            forward: forward::ForwardBackend::start().map_err(ControlPlaneError::Port)?,
            components: Vec::new(),
        };
        // What every kwok container "writes": kwok serves this file as its log, and follows it.
        let first: String = POD_LOG.lines().map(cri_log_line).collect();
        crate::fs::write_atomic(&plane.pod_log, first.as_bytes(), 0o644)?;
        let kwok_config = work.join("kwok.yaml");
        let exec_dir = work.join("exec");
        crate::fs::create_private_dir(&exec_dir)?;
        let config = kwok_config_of(&plane.pod_log, &exec_dir, plane.forward.addr());
        crate::fs::write_atomic(&kwok_config, config.as_bytes(), 0o600)?;
        let audit_policy = work.join("audit-policy.yaml");
        crate::fs::write_atomic(&audit_policy, AUDIT_POLICY.as_bytes(), 0o600)?;

        let etcd_url = format!("http://127.0.0.1:{etcd_client}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer}");
        plane.spawn(
            "etcd",
            &bin("etcd")?,
            &[
                arg("data-dir", &work.join("etcd")),
                arg("listen-client-urls", &etcd_url),
                arg("advertise-client-urls", &etcd_url),
                arg("listen-peer-urls", &peer_url),
                arg("initial-advertise-peer-urls", &peer_url),
                format!("--initial-cluster=default={peer_url}"),
                // Tests need speed, not durability across power loss.
                "--unsafe-no-fsync".into(),
            ],
            work,
        )?;

        plane.spawn(
            "kube-apiserver",
            &bin("kube-apiserver")?,
            &[
                arg("etcd-servers", &etcd_url),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={apiserver_port}"),
                arg("cert-dir", &work.join("apiserver-certs")),
                arg("tls-cert-file", &pki.serving_cert),
                arg("tls-private-key-file", &pki.serving_key),
                arg("client-ca-file", &pki.ca_cert),
                arg("service-account-key-file", &pki.service_account_public_key),
                arg("service-account-signing-key-file", &pki.service_account_key),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                format!("--service-cluster-ip-range={SERVICE_CIDR}"),
                "--authorization-mode=RBAC".into(),
                "--allow-privileged=true".into(),
                // The oracle of the end-to-end tests: what the API server itself ran.
                arg("audit-policy-file", &audit_policy),
                arg("audit-log-path", &plane.audit_log),
                "--audit-log-format=json".into(),
                "--audit-log-mode=blocking".into(),
                // kwok's nodes serve logs on their InternalIP (loopback), with a certificate
                // the API server does not check (as kubeadm's default).
                "--kubelet-preferred-address-types=InternalIP".into(),
            ],
            work,
        )?;

        plane.write_kubeconfig(&pki)?;
        plane.wait_for("kube-apiserver /readyz", &["get", "--raw=/readyz"])?;

        let kubeconfig = arg("kubeconfig", &plane.kubeconfig);
        plane.spawn(
            "kube-controller-manager",
            &bin("kube-controller-manager")?,
            &[
                kubeconfig.clone(),
                arg("service-account-private-key-file", &pki.service_account_key),
                arg("root-ca-file", &pki.ca_cert),
                "--use-service-account-credentials=false".into(),
                "--leader-elect=false".into(),
                "--secure-port=0".into(),
                "--controllers=*,-nodeipam,-cloud-node-lifecycle".into(),
            ],
            work,
        )?;
        plane.spawn(
            "kube-scheduler",
            &bin("kube-scheduler")?,
            &[kubeconfig.clone(), "--leader-elect=false".into(), "--secure-port=0".into()],
            work,
        )?;
        plane.spawn(
            "kwok",
            &bin("kwok")?,
            &[
                kubeconfig,
                "--manage-all-nodes=false".into(),
                format!("--manage-nodes-with-annotation-selector={KWOK_ANNOTATION}=fake"),
                "--node-ip=127.0.0.1".into(),
                "--cidr=10.0.2.0/24".into(),
                format!("--node-port={kwok_port}"),
                format!("--server-address=127.0.0.1:{kwok_port}"),
                arg("tls-cert-file", &pki.serving_cert),
                arg("tls-private-key-file", &pki.serving_key),
                arg("config", &kwok_config),
            ],
            work,
        )?;

        plane.kubectl_stdin(&["apply", "-f", "-"], &node_manifests(spec.nodes))?;
        if spec.nodes > 0 {
            plane.wait_for("kwok nodes Ready", &["wait", "--for=condition=Ready", "node", "--all", "--timeout=5s"])?;
        }
        plane.wait_for("default service account", &["get", "serviceaccount", "default", "--namespace=default"])?;
        Ok(plane)
    }

    /// The admin kubeconfig (one context, current).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The kubectl built with the control plane.
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// The API server's audit log: one JSON `audit.k8s.io/v1` event per line, every request
    /// at Metadata level, written before the response is sent.
    pub fn audit_log(&self) -> &Path {
        &self.audit_log
    }

    /// Where `kubectl port-forward` to any port of any pod arrives: an HTTP backend of the
    /// control plane's that answers with [`forward::GREETING`] and the request line.
    pub fn port_forward_backend(&self) -> std::net::SocketAddr {
        self.forward.addr()
    }

    /// The log every kwok container serves (`kubectl logs`, `logs -f`), in the CRI log
    /// format; [`ControlPlane::log_line`] appends to it and a follower sees the line.
    pub fn pod_log(&self) -> &Path {
        &self.pod_log
    }

    /// Appends `line` to every kwok container's log.
    pub fn log_line(&self, line: &str) -> Result<(), ControlPlaneError> {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.pod_log)
            .map_err(|source| crate::fs::FileError::new("appending to", &self.pod_log, source))?;
        file.write_all(cri_log_line(line).as_bytes())
            .map_err(|source| crate::fs::FileError::new("appending to", &self.pod_log, source))?;
        Ok(())
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Runs kubectl against this control plane and returns its stdout.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, ControlPlaneError> {
        self.kubectl_stdin(args, "")
    }

    /// Runs kubectl with `stdin` as its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String, ControlPlaneError> {
        kubectl(&self.kubectl, &self.kubeconfig, args, stdin)
    }

    fn spawn(
        &mut self,
        name: &'static str,
        binary: &Path,
        args: &[String],
        work: &Path,
    ) -> Result<(), ControlPlaneError> {
        let component = Component::spawn(name, binary, args, work.join(format!("{name}.log")))?;
        self.components.push(component);
        Ok(())
    }

    /// The admin kubeconfig, written by kubectl itself so its format is kubectl's own.
    fn write_kubeconfig(&self, pki: &Pki) -> Result<(), ControlPlaneError> {
        let ca = format!("--certificate-authority={}", pki.ca_cert.display());
        let cert = format!("--client-certificate={}", pki.admin_cert.display());
        let key = format!("--client-key={}", pki.admin_key.display());
        let server = format!("--server={}", self.server);
        self.kubectl(&["config", "set-cluster", "local", &server, &ca, "--embed-certs"])?;
        self.kubectl(&["config", "set-credentials", "admin", &cert, &key, "--embed-certs"])?;
        self.kubectl(&["config", "set-context", "local", "--cluster=local", "--user=admin"])?;
        self.kubectl(&["config", "use-context", "local"])?;
        Ok(())
    }

    /// Polls `kubectl args` until it succeeds, failing early if a component died.
    fn wait_for(&mut self, what: &str, args: &[&str]) -> Result<(), ControlPlaneError> {
        let start = Instant::now();
        loop {
            for c in &mut self.components {
                c.check_running()?;
            }
            if self.kubectl(args).is_ok() {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                let log = self.components.last().map(|c| c.log().to_path_buf()).unwrap_or_default();
                return Err(ControlPlaneError::NotReady {
                    what: what.to_string(),
                    waited: start.elapsed(),
                    tail: log_tail(&log),
                    log,
                });
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Clients first, etcd last.
        while self.components.pop().is_some() {}
    }
}

/// The first lines of every kwok container's log.
const POD_LOG: &str = "kwok container started (a fake pod of the kubectl-sui local control plane)
its log is the control plane's pod.log file; lines appended to it are what `kubectl logs -f` follows
";

/// One line of a container log as the CRI writes it (what kwok serves): time, stream, `F`ull.
fn cri_log_line(line: &str) -> String {
    format!("{} stdout F {line}\n", humantime::format_rfc3339_nanos(std::time::SystemTime::now()))
}

/// kwok's configuration for every container of every pod: it logs [`ControlPlane::pod_log`]
/// (`kubectl logs`), `kubectl attach` follows that log, and `kubectl exec` runs the command on
/// this machine, as the user running the control plane, in `exec_dir` (kwok's containers
/// are not real: this is what exec into one can do), with kwok's environment; and
/// `kubectl port-forward` to any port of any pod reaches `forward` (the control plane's
/// [`forward::ForwardBackend`]).
///
/// kwok v0.7 never closes an exec's standard input (it copies the stream into the command's
/// pipe and leaves the pipe open), so a command that reads to the end of its input waits
/// forever. `kubectl cp` into a pod runs `tar -x`, which reads in 10 KiB records and needs the
/// end of input to finish the last one: `TAR_OPTIONS=--blocking-factor=1` makes it read
/// 512-byte blocks and stop at the archive's end marker, so `kubectl cp` works.
fn kwok_config_of(pod_log: &Path, exec_dir: &Path, forward: std::net::SocketAddr) -> String {
    format!(
        "apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterLogs\nmetadata:\n  name: every-container\nspec:\n  logs:\n  - logsFile: {log}\n    follow: true\n---\n\
apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterAttach\nmetadata:\n  name: every-container\nspec:\n  attaches:\n  - logsFile: {log}\n---\n\
apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterExec\nmetadata:\n  name: every-container\nspec:\n  execs:\n  - local:\n      workDir: {dir}\n      envs:\n      - name: TAR_OPTIONS\n        value: --blocking-factor=1\n---\n\
apiVersion: kwok.x-k8s.io/v1alpha1\nkind: ClusterPortForward\nmetadata:\n  name: every-container\nspec:\n  forwards:\n  - target:\n      address: {address}\n      port: {port}\n",
        log = pod_log.display(),
        dir = exec_dir.display(),
        address = forward.ip(),
        port = forward.port(),
    )
}

/// The annotation marking the nodes kwok manages.
pub const KWOK_ANNOTATION: &str = "kwok.x-k8s.io/node";

fn node_manifests(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                "apiVersion: v1\nkind: Node\nmetadata:\n  name: kwok-node-{i}\n  annotations:\n    {KWOK_ANNOTATION}: fake\n  labels:\n    type: kwok\n    kubernetes.io/hostname: kwok-node-{i}\n    kubernetes.io/os: linux\n    kubernetes.io/arch: amd64\nstatus:\n  allocatable: {{cpu: \"32\", memory: 256Gi, pods: \"110\"}}\n  capacity: {{cpu: \"32\", memory: 256Gi, pods: \"110\"}}\n---\n"
            )
        })
        .collect()
}

/// The port kept in `file` if it is still free, else a free one, kept there for next time.
fn kept_port(file: &Path) -> Result<u16, ControlPlaneError> {
    let kept = std::fs::read_to_string(file).ok().and_then(|p| p.trim().parse::<u16>().ok());
    if let Some(port) = kept.filter(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok()) {
        return Ok(port);
    }
    let port = free_port()?;
    crate::fs::write_atomic(file, port.to_string().as_bytes(), 0o644)?;
    Ok(port)
}

/// A loopback port free right now. The listener is closed before the component binds it, a
/// window in which another process could take it; the component then fails to start and
/// says so in its log.
fn free_port() -> Result<u16, ControlPlaneError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(ControlPlaneError::Port)?;
    listener.local_addr().map(|a| a.port()).map_err(ControlPlaneError::Port)
}

/// Runs `program` (a kubectl) with `kubeconfig`, `args` and `stdin`; its stdout, or its
/// stderr as the error.
pub fn kubectl(program: &Path, kubeconfig: &Path, args: &[&str], stdin: &str) -> Result<String, ControlPlaneError> {
    use std::io::Write;
    let failed = |stderr: String| ControlPlaneError::Kubectl { args: args.join(" "), stderr };
    let mut child = Command::new(program)
        .arg(format!("--kubeconfig={}", kubeconfig.display()))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(format!("cannot run kubectl (is it on PATH?): {e}")))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).map_err(|e| failed(e.to_string()))?;
    }
    let out = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_string()))
    }
}
