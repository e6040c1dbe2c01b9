//! `kubectl sui audit`: the cluster's on-chain trail as a table or JSON/YAML, optionally
//! following new requests as they land; `kubectl sui audit verify` checks it against the
//! API server's own audit log; `kubectl sui audit keygen` makes an auditor's key and
//! `kubectl sui audit replay` replays a recorded session with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use sui_sdk_types::Address;
use tokio::sync::mpsc;

use super::chain_ops::connect;
use super::{CliError, OutputFormat, write_out};
use crate::audit::cluster_log::{self, Discrepancy};
use crate::audit::replay::{Direction, Recording};
use crate::audit::{AuditRecord, AuditTrail};
use crate::chain::follow::{Detail, follow_with};
use crate::config::{NetworkEndpoints, Paths, Settings};
use crate::credential;
use crate::envelope::SecretKey;

/// `kubectl sui audit`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Audit", args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    /// Check the trail against the cluster's own audit log.
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Context, cluster name or cluster id [default: the current context's cluster].
    #[arg(long)]
    pub cluster: Option<String>,
    /// Keep printing requests as they are answered or refused.
    #[arg(long, short)]
    pub follow: bool,
    /// Only requests newer than this (e.g. 10m, 2h).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub since: Option<Duration>,
    /// Only requests by this address.
    #[arg(long)]
    pub user: Option<Address>,
    /// Output format (json and yaml print one list; with --follow, JSON lines).
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// `kubectl sui audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Compare what the API server ran for sui:* users (its audit log) with what the chain
    /// approved: report every execution without an approval, every approval that ran as
    /// something else, and every approval that ran twice. Exits 1 when any is found.
    Verify {
        /// The API server's audit log (`--audit-log-path`, JSON format, Metadata level or more).
        #[arg(long, value_name = "FILE")]
        k8s_audit_log: std::path::PathBuf,
        /// Context, cluster name or cluster id [default: the current context's cluster].
        #[arg(long)]
        cluster: Option<String>,
        /// Output format.
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Make an auditor's key: an X25519 key pair. The secret key goes to FILE (mode 0600,
    /// never overwritten); the public key is printed, for the cluster's admin to name with
    /// `kubectl sui cluster auditors`.
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Replay a recorded session (exec, attach, port-forward) with an auditor's key: what was
    /// typed and what came back, both ways, as it happened. Only a session opened while the
    /// key's public half was among the cluster's auditors can be read.
    Replay {
        /// The session's request id (`request` in `kubectl sui audit -o json`).
        request: Address,
        /// Start reading the chain at this checkpoint (`checkpoint` in `kubectl sui audit -o
        /// json`) instead of its first: on a long-lived network, reading from the first takes
        /// long.
        #[arg(long, value_name = "N", default_value_t = 0)]
        from_checkpoint: u64,
        /// The auditor's secret key (from `kubectl sui audit keygen`).
        #[arg(long, value_name = "FILE")]
        key: std::path::PathBuf,
        /// Play the session's output on this terminal at the pace it was recorded, instead of
        /// printing a timed transcript of both directions.
        #[arg(long)]
        play: bool,
        /// With --play: how much faster than recorded (2 plays twice as fast).
        #[arg(long, default_value_t = 1.0, value_parser = positive_speed)]
        speed: f64,
        /// With --play: the longest pause kept, however long the recorded one.
        #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
        idle_limit: Duration,
        /// Context, cluster name or cluster id [default: the current context's cluster]; with
        /// --network, the cluster's id.
        #[arg(long)]
        cluster: Option<String>,
        /// Read the chain of this network (a name: testnet, mainnet, devnet, local; or a gRPC
        /// URL), for an auditor with no login: pass the cluster's id with --cluster.
        #[arg(long, requires = "cluster")]
        network: Option<String>,
        /// The kubectl-sui package id on --network [default: the network's known one].
        #[arg(long, requires = "network")]
        package: Option<Address>,
        /// Output format of the transcript.
        #[arg(short, long, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

fn positive_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed > 0.0 && speed.is_finite() => Ok(speed),
        _ => Err(format!("{text:?} is not a positive number")),
    }
}

/// The cluster's endpoints and id: from a login, else from an administered cluster.
fn target(settings: &Settings, selector: Option<&str>) -> Result<(NetworkEndpoints, Address, Address), CliError> {
    let current =
        credential::default_kubeconfig_path().ok().and_then(|p| credential::read_kubeconfig(&p).ok()?.current_context);
    if let Ok(login) = settings.login(selector, current.as_deref()) {
        return Ok((login.endpoints.clone(), login.package, login.cluster));
    }
    let admin = settings.admin_cluster(selector)?;
    Ok((admin.endpoints.clone(), admin.package, admin.cluster))
}

/// Runs `kubectl sui audit`.
pub fn run(args: AuditArgs) -> Result<(), CliError> {
    if let Some(AuditCommand::Keygen { out }) = &args.command {
        return keygen(out);
    }
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    if let Some(AuditCommand::Replay {
        request,
        from_checkpoint,
        key,
        play,
        speed,
        idle_limit,
        cluster,
        network,
        package,
        output,
    }) = &args.command
    {
        let auditor = read_auditor_key(key)?;
        let (endpoints, package, cluster) = match network {
            Some(network) => {
                let cluster = cluster.as_deref().and_then(|c| c.parse::<Address>().ok()).ok_or_else(|| {
                    CliError::Message("with --network, pass the cluster's id (0x…) with --cluster".into())
                })?;
                let (endpoints, package) = settings.resolve(network, None, *package)?;
                (endpoints, package, cluster)
            }
            None => target(&settings, cluster.as_deref())?,
        };
        let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
        let recording = runtime.block_on(async {
            let client = connect(&endpoints, package).await?;
            let tape = crate::audit::replay::read_tape(client, cluster, *request, *from_checkpoint).await?;
            tape.open(&auditor).map_err(|e| CliError::Message(e.to_string()))
        })?;
        return match play {
            true => runtime.block_on(play_recording(&recording, *speed, *idle_limit)),
            false => print_recording(&recording, *output),
        };
    }
    if let Some(AuditCommand::Verify { k8s_audit_log, cluster, output }) = args.command {
        let (endpoints, package, cluster) = target(&settings, cluster.as_deref())?;
        let log = std::fs::read_to_string(&k8s_audit_log)
            .map_err(|e| crate::fs::FileError::new("reading", &k8s_audit_log, e))?;
        let executions = cluster_log::executions(&log).map_err(|e| CliError::Message(e.to_string()))?;
        let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
        let trail = runtime.block_on(async {
            let client = connect(&endpoints, package).await?;
            Ok::<_, CliError>(crate::audit::read_trail(client, cluster).await?)
        })?;
        let found = cluster_log::verify(&trail, &executions);
        let text = match output {
            OutputFormat::Json => serde_json::to_string_pretty(&found).map_err(CliError::Json)? + "\n",
            OutputFormat::Yaml => serde_yaml::to_string(&found).expect("discrepancies serialize"),
            OutputFormat::Table => verify_table(&found, executions.len(), trail.len()),
        };
        write_out(text.as_bytes())?;
        return match found.len() {
            0 => Ok(()),
            n => Err(CliError::Message(format!(
                "{n} request(s) ran on the cluster otherwise than the chain approved; see above"
            ))),
        };
    }
    let (endpoints, package, cluster) = target(&settings, args.cluster.as_deref())?;
    let since_ms = args.since.map(|d| {
        SystemTime::now()
            .checked_sub(d)
            .unwrap_or(UNIX_EPOCH)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64
    });
    let keep = |r: &AuditRecord| since_ms.is_none_or(|s| r.time_ms >= s) && args.user.is_none_or(|u| r.requester == u);
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let mut client = connect(&endpoints, package).await?;
        let latest = client.latest_checkpoint().await?;
        let (tx, mut rx) = mpsc::channel(256);
        let follower = tokio::spawn(follow_with(client, package, 0, Detail::Transactions, tx));
        let mut trail = AuditTrail::new(cluster);
        let mut records = Vec::new();
        let mut header = args.output == OutputFormat::Table;
        while let Some(checkpoint) = rx.recv().await {
            let sequence = checkpoint.sequence;
            let done: Vec<_> = trail.feed(&checkpoint).into_iter().filter(|r| keep(r)).collect();
            if args.follow && sequence >= latest {
                if sequence == latest {
                    records.extend(done);
                    records.sort_by_key(|r| r.time_ms);
                    print(&std::mem::take(&mut records), args.output, &mut header, true)?;
                } else {
                    print(&done, args.output, &mut header, true)?;
                }
            } else {
                records.extend(done);
            }
            if !args.follow && sequence >= latest {
                break;
            }
        }
        follower.abort();
        if !args.follow {
            records.extend(trail.unanswered().into_iter().filter(|r| keep(r)));
            records.sort_by_key(|r| r.time_ms);
            print(&records, args.output, &mut header, false)?;
        }
        Ok(())
    })
}

fn print(records: &[AuditRecord], output: OutputFormat, header: &mut bool, streaming: bool) -> Result<(), CliError> {
    let text = match output {
        OutputFormat::Json if streaming => records
            .iter()
            .map(|r| serde_json::to_string(r).map(|l| l + "\n"))
            .collect::<Result<String, _>>()
            .map_err(CliError::Json)?,
        OutputFormat::Json => serde_json::to_string_pretty(records).map_err(CliError::Json)? + "\n",
        OutputFormat::Yaml => serde_yaml::to_string(records).expect("records serialize"),
        OutputFormat::Table => {
            let mut text = String::new();
            if std::mem::take(header) {
                text += &format!(
                    "{:<20} {:<14} {:<16} {:<22} {:<36} {:<26} {:<14} {}\n",
                    "TIME", "REQUESTER", "VERB", "RESOURCE", "NAMESPACE/NAME", "STATUS", "NODE", "TX"
                );
            }
            for r in records {
                let time = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(r.time_ms)).to_string();
                let resource = match (r.resource.as_str(), r.group.as_str()) {
                    ("", _) => "(non-resource)".to_string(),
                    (res, "") => res.to_string(),
                    (res, g) => format!("{res}.{g}"),
                };
                let target = match (r.namespace.as_str(), r.name.as_str()) {
                    ("", n) => n.to_string(),
                    (ns, n) => format!("{ns}/{n}"),
                };
                text += &format!(
                    "{:<20} {:<14} {:<16} {:<22} {:<36} {:<26} {:<14} {}\n",
                    time,
                    short(&r.requester.to_string()),
                    r.verb,
                    resource,
                    target,
                    r.outcome.to_string(),
                    r.node.map(|n| short(&n.to_string())).unwrap_or_else(|| "-".into()),
                    r.tx
                );
            }
            text
        }
    };
    write_out(text.as_bytes())
}

fn short(id: &str) -> String {
    format!("{}…{}", &id[..8], &id[id.len() - 4..])
}

fn verify_table(found: &[Discrepancy], executions: usize, approvals: usize) -> String {
    let mut text = format!(
        "{executions} request(s) by sui:* users in the audit log, {approvals} on chain: {} discrepanc{}\n",
        found.len(),
        if found.len() == 1 { "y" } else { "ies" }
    );
    for d in found {
        let (kind, e, approved) = match d {
            Discrepancy::Unapproved { execution } => ("UNAPPROVED", execution, None),
            Discrepancy::Different { approved, execution } => ("DIFFERENT", execution, Some(approved)),
            Discrepancy::Repeated { execution } => ("REPEATED", execution, None),
        };
        text += &format!("{kind:<11} {} {} {} (audit id {}, status {})\n", e.user, e.verb, e.uri, e.audit_id, e.code);
        if let Some(a) = approved {
            text += &format!(
                "            approved: {} {}/{} in {:?} named {:?} (tx {})\n",
                a.verb, a.group, a.resource, a.namespace, a.name, a.tx
            );
        }
    }
    text
}

/// `kubectl sui audit keygen --out FILE`.
fn keygen(out: &std::path::Path) -> Result<(), CliError> {
    if out.exists() {
        return Err(CliError::Message(format!(
            "{} exists; an auditor key is never overwritten (move it away, or pick another --out)",
            out.display()
        )));
    }
    let key = SecretKey::generate();
    let mut text = hex::encode(key.to_bytes());
    text.push('\n');
    crate::fs::write_atomic(out, text.as_bytes(), 0o600)?;
    println!("{}", hex::encode(key.public_key().to_bytes()));
    eprintln!(
        "Wrote the auditor's secret key to {} (keep it safe: whoever holds it reads every session recorded for it).\nThe line above is its public key: the cluster's admin names it with `kubectl sui cluster auditors <KEY>`.",
        out.display()
    );
    Ok(())
}

/// An auditor's secret key from its file (hex, as `keygen` writes it).
fn read_auditor_key(path: &std::path::Path) -> Result<SecretKey, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::fs::FileError::new("reading", path, e))?;
    hex::decode(text.trim()).ok().and_then(|bytes| SecretKey::from_bytes(&bytes).ok()).ok_or_else(|| {
        CliError::Message(format!(
            "{} holds no auditor key (64 hex digits, from `kubectl sui audit keygen`)",
            path.display()
        ))
    })
}

/// The transcript: one line per message, both ways, with its time from the session's start.
fn print_recording(recording: &Recording, output: OutputFormat) -> Result<(), CliError> {
    let text = match output {
        OutputFormat::Json => serde_json::to_string_pretty(recording).map_err(CliError::Json)? + "\n",
        OutputFormat::Yaml => serde_yaml::to_string(recording).expect("recordings serialize"),
        OutputFormat::Table => {
            let start = recording.events.first().map_or(0, |e| e.at_ms);
            let mut text = format!(
                "session {} by {}: {} ({}), ended: {}\n",
                recording.request,
                recording.requester,
                recording.what,
                if recording.protocol.is_empty() { "no subprotocol" } else { &recording.protocol },
                recording.ended.as_deref().unwrap_or("still open")
            );
            for e in &recording.events {
                let offset = e.at_ms.saturating_sub(start);
                let shown = match &e.close {
                    Some((code, reason)) => format!("{code} {reason:?}"),
                    None => format!("{:?}", String::from_utf8_lossy(&e.data)),
                };
                text += &format!(
                    "+{}.{:03}s {:<6} {:<7} {}\n",
                    offset / 1000,
                    offset % 1000,
                    e.direction,
                    e.channel_name(),
                    shown
                );
            }
            text
        }
    };
    write_out(text.as_bytes())
}

/// Plays the session's output (stdout and stderr channels, or a port-forward's bytes) at the
/// recorded pace.
async fn play_recording(recording: &Recording, speed: f64, idle_limit: Duration) -> Result<(), CliError> {
    use std::io::Write;
    let mut last: Option<u64> = None;
    for e in recording.events.iter().filter(|e| e.direction == Direction::Output && e.close.is_none()) {
        if let Some(last) = last {
            let pause = Duration::from_millis(e.at_ms.saturating_sub(last)).div_f64(speed).min(idle_limit);
            tokio::time::sleep(pause).await;
        }
        last = Some(e.at_ms);
        let written = match e.channel {
            Some(2) => std::io::stderr().write_all(&e.data).and_then(|()| std::io::stderr().flush()),
            Some(1) | None => std::io::stdout().write_all(&e.data).and_then(|()| std::io::stdout().flush()),
            Some(_) => Ok(()),
        };
        written.map_err(|e| CliError::Message(format!("writing the replay: {e}")))?;
    }
    Ok(())
}
