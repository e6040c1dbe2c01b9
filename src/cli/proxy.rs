//! `kubectl sui proxy`: the local proxy in the foreground (what the credential command
//! starts in the background), or `--stop` to stop the background one.

use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::config::{Paths, Settings};
use crate::credential;
use crate::proxy::{self, DEFAULT_MAX_BODY, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, ProxyOptions, daemon};

/// `kubectl sui proxy`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Proxy")]
pub struct ProxyArgs {
    /// Context, cluster name or cluster id [default: the current kubeconfig context].
    #[arg(long)]
    pub cluster: Option<String>,
    /// Stop the background proxy instead.
    #[arg(long)]
    pub stop: bool,
    /// Largest request body carried, in bytes [default: `proxy.max_body` in the settings, else 8 MiB].
    #[arg(long)]
    pub max_body: Option<usize>,
    /// How long to wait for the node's answer [default: `proxy.timeout_seconds`, else 60s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
    /// Requests on chain at once; more wait in the proxy [default: `proxy.max_in_flight`,
    /// else 16, a node's default `max-open-per-requester`].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_in_flight: Option<u16>,
    /// Serve Prometheus `/metrics` on this loopback address, e.g. 127.0.0.1:9464 (port 0: any
    /// free port; `kubectl sui status` shows it) [default: `proxy.metrics_addr`, else none].
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// Runs the proxy until SIGINT or SIGTERM.
pub fn run(args: ProxyArgs) -> Result<(), CliError> {
    let paths = Paths::discover()?;
    let settings = Settings::load(&paths)?;
    let current =
        credential::default_kubeconfig_path().ok().and_then(|p| credential::read_kubeconfig(&p).ok()?.current_context);
    let login = settings.login(args.cluster.as_deref(), current.as_deref())?.clone();
    if args.stop {
        let stopped = daemon::stop(&paths, &login.context);
        println!(
            "{}",
            if stopped {
                format!("stopped the proxy of {}", login.context)
            } else {
                format!("no proxy of {} was running", login.context)
            }
        );
        return Ok(());
    }
    let identity = settings.identity.clone().filter(|i| i.address == login.address).ok_or_else(|| {
        CliError::Message(format!(
            "context {} belongs to another identity; run `kubectl sui login --cluster {}`",
            login.context, login.cluster_name
        ))
    })?;
    let key = credential::load_key(&paths, identity.address, identity.store)?;
    let options = ProxyOptions {
        max_body: args.max_body.or(settings.proxy.max_body).unwrap_or(DEFAULT_MAX_BODY),
        timeout: args.timeout.or(settings.proxy.timeout_seconds.map(Duration::from_secs)).unwrap_or(DEFAULT_TIMEOUT),
        max_in_flight: args
            .max_in_flight
            .map(usize::from)
            .or(settings.proxy.max_in_flight)
            .unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        metrics_addr: args.metrics_addr.or(settings.proxy.metrics_addr),
    };
    let runtime = tokio::runtime::Runtime::new().map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let stop_rx = super::stop_on_signal()?;
        proxy::run(&paths, &login, key, options, stop_rx).await?;
        Ok(())
    })
}
