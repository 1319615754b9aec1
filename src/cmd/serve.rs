//! `frugal serve`: the gateway in the foreground, until Ctrl-C (in-flight requests finish
//! and settle first, for a minute at most; a second Ctrl-C stops at once).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on (default `[gateway] host`, else 127.0.0.1); anything but
    /// loopback exposes your budget to the network.
    #[arg(long)]
    host: Option<String>,
    /// The port (default `[gateway] port`, else 4141).
    #[arg(long)]
    port: Option<u16>,
    /// The largest request body accepted, in MiB.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    body_limit_mb: u32,
}

pub fn run(g: &super::Globals, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let assistant = Arc::new(g.open()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("frugal-serve")
        .build()
        .context("cannot start the server's runtime")?;
    runtime.block_on(async move {
        let section = assistant.config().gateway.clone();
        let host = args.host.unwrap_or_else(|| section.host().to_string());
        let addr = frugal_core::config::GatewaySection::address(&host, args.port.unwrap_or(section.port()));
        let listener =
            tokio::net::TcpListener::bind(&addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        // Also opens the ledger now, so rows a killed gateway left pending are settled at start.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        let apps = assistant.spend().apps(frugal_core::ledger::Month::containing(now)).map(|a| a.len()).unwrap_or(0);
        eprintln!(
            "frugal: serving on http://{addr}/v1 (OpenAI chat completions and models, Anthropic messages); {}; Ctrl-C stops",
            if apps == 0 { "no apps yet: add one with `frugal apps add NAME`".to_string() } else { format!("{apps} app(s)") }
        );
        // Ctrl-C, or SIGTERM from a service manager or `kill`: either way the requests in
        // flight finish and settle, rather than being left for the next start to charge.
        let (asked, asked_rx) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async {
            stop_signal().await;
            eprintln!("frugal: stopping; requests in flight finish first (Ctrl-C again stops now)");
            let _ = asked.send(());
        };
        let served = frugal_gateway::serve(listener, assistant, (args.body_limit_mb as usize) << 20, shutdown);
        // A client that keeps its connection open without reading, or a long local answer,
        // would hold a graceful stop for ever: after a minute, or a second signal, it stops.
        let impatient = async {
            if asked_rx.await.is_err() {
                return std::future::pending::<()>().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(GRACE) => {}
                _ = stop_signal() => {}
            }
        };
        tokio::select! {
            served = served => served.context("the server stopped")?,
            _ = impatient => {
                let left = frugal_core::unsettled();
                eprintln!(
                    "frugal: stopped with {left} answer(s) unfinished; each is charged at most what it reserved"
                );
                return Ok(ExitCode::FAILURE);
            }
        }
        // The meters run on this runtime: a client that left mid-answer may still have its
        // row to settle. Dropping the runtime now would leave it for the next start to charge
        // at its worst case.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while frugal_core::unsettled() > 0 && std::time::Instant::now() < until {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a stop waits for the answers in flight.
const GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Ctrl-C, or SIGTERM (a service manager, `kill`).
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
