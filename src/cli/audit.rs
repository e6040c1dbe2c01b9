//! `kubectl sui audit`: the cluster's on-chain trail as a table or JSON/YAML, optionally
//! following new requests as they land; `kubectl sui audit verify` checks it against the
//! API server's own audit log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use sui_sdk_types::Address;
use tokio::sync::mpsc;

use super::chain_ops::connect;
use super::{CliError, OutputFormat, write_out};
use crate::audit::cluster_log::{self, Discrepancy};
use crate::audit::{AuditRecord, AuditTrail};
use crate::chain::follow::{Detail, follow_with};
use crate::config::{NetworkEndpoints, Paths, Settings};
use crate::credential;

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
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
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
