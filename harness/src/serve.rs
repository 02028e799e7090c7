//! `markcert serve`: start the emulators on loopback, print their URLs and credentials, write the
//! endpoints file once every listener is ready, and run until SIGINT/SIGTERM.
//!
//! Owns only the wiring: the world comes from `--world` or the embedded default, the emulators from
//! `markcert-emulators`. Served so far: the True API discovery host and CDN hosts (issue 3 continues
//! with ЛМ ЧЗ and the control API, which add their keys to the same endpoints object).

use markcert_emulators::cdn::{self, AuthOptions, TrueApiContext};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::reqlog::ReqLog;
use markcert_emulators::trace::{Trace, TraceConfig};
use markcert_emulators::trueapi::TrueApiOptions;
use markcert_emulators::world::{default::default_world, file, World};
use serde::Serialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

/// Options of `markcert serve`.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// World file (TOML); the embedded default world when `None`.
    pub world: Option<PathBuf>,
    /// Where to write the endpoints JSON once every listener is ready.
    pub endpoints_file: Option<PathBuf>,
    /// Number of CDN hosts.
    pub cdn_hosts: usize,
    /// Address to bind (loopback by default).
    pub bind: IpAddr,
    /// NDJSON file receiving every trace event.
    pub trace_file: Option<PathBuf>,
    /// `auth.xapikey_cutoff` (Unix ms); the spec default 2026-10-01 00:00 MSK when `None`.
    pub xapikey_cutoff_ms: Option<i64>,
}

/// Errors of `markcert serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world file could not be read.
    #[error("reading {path}: {source}")]
    ReadWorld { path: PathBuf, source: std::io::Error },
    /// The world could not be built.
    #[error(transparent)]
    World(#[from] markcert_emulators::world::WorldError),
    /// The trace file could not be opened.
    #[error(transparent)]
    Trace(#[from] markcert_emulators::trace::TraceError),
    /// A listener could not be bound.
    #[error(transparent)]
    Bind(#[from] cdn::CdnError),
    /// The endpoints file could not be written.
    #[error("writing {path}: {source}")]
    WriteEndpoints { path: PathBuf, source: std::io::Error },
    /// Waiting for a signal failed.
    #[error("waiting for a signal: {0}")]
    Signal(std::io::Error),
}

/// The endpoints file (issue 3 §7): one object, later components add their keys.
#[derive(Clone, Debug, Serialize)]
pub struct Endpoints {
    /// True API hosts and the store's `X-API-KEY`.
    pub true_api: TrueApiEndpointsJson,
}

/// `true_api` of the endpoints file.
#[derive(Clone, Debug, Serialize)]
pub struct TrueApiEndpointsJson {
    /// Discovery host base URL.
    pub discovery: String,
    /// CDN host base URLs.
    pub hosts: Vec<String>,
    /// The store's `X-API-KEY` (the first one of the store in the world), if any.
    pub api_key: Option<String>,
}

fn load_world(opts: &ServeOptions, now_ms: i64) -> Result<World, ServeError> {
    match &opts.world {
        None => Ok(default_world(now_ms)?),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|source| ServeError::ReadWorld { path: path.clone(), source })?;
            Ok(file::load(&text, now_ms)?)
        }
    }
}

/// Run until SIGINT/SIGTERM. `ready` is called with the endpoints once every listener is up.
pub async fn serve(opts: ServeOptions, ready: impl FnOnce(&Endpoints)) -> Result<(), ServeError> {
    let clock = WorldClock::real();
    let world = load_world(&opts, clock.now_ms())?;
    let api_key = world
        .participants()
        .iter()
        .find(|p| p.inn == world.store_inn)
        .and_then(|p| p.api_keys.first())
        .map(|k| k.token.clone());
    let trace = Trace::new(TraceConfig { ndjson: opts.trace_file.clone(), ..TraceConfig::default() })?;
    let ctx = TrueApiContext {
        world: Arc::new(RwLock::new(world)),
        clock,
        trace: trace.clone(),
        reqlog: ReqLog::new(1_000_000),
        options: Arc::new(TrueApiOptions::default()),
        auth: Arc::new(AuthOptions {
            xapikey_cutoff_ms: opts.xapikey_cutoff_ms.unwrap_or(cdn::DEFAULT_XAPIKEY_CUTOFF_MS),
            ..AuthOptions::default()
        }),
        faults: markcert_emulators::faults::FaultTable::new(),
    };
    let servers = cdn::spawn(ctx, opts.bind, opts.cdn_hosts).await?;
    let endpoints = Endpoints {
        true_api: TrueApiEndpointsJson {
            discovery: servers.endpoints.discovery.clone(),
            hosts: servers.endpoints.hosts.clone(),
            api_key,
        },
    };
    if let Some(path) = &opts.endpoints_file {
        write_atomically(path, &endpoints)?;
    }
    ready(&endpoints);
    wait_for_signal().await?;
    servers.shutdown().await;
    // Errors of the final flush are reported; the trace file is then complete.
    trace.flush()?;
    Ok(())
}

/// Write the endpoints file so that a reader never sees it half-written.
fn write_atomically(path: &PathBuf, endpoints: &Endpoints) -> Result<(), ServeError> {
    let err = |source| ServeError::WriteEndpoints { path: path.clone(), source };
    let text = serde_json::to_string_pretty(endpoints).map_err(|e| err(std::io::Error::other(e)))?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

async fn wait_for_signal() -> Result<(), ServeError> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signal)?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map_err(ServeError::Signal),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map_err(ServeError::Signal)
    }
}

/// The table printed at start: component, URL, credentials.
pub fn render_table(e: &Endpoints) -> String {
    let mut out = String::from("markcert serve: emulators are listening\n\n");
    out.push_str(&format!("  {:<22} {}\n", "True API discovery", e.true_api.discovery));
    for (i, h) in e.true_api.hosts.iter().enumerate() {
        out.push_str(&format!("  {:<22} {}\n", format!("True API CDN host {}", i + 1), h));
    }
    if let Some(k) = &e.true_api.api_key {
        out.push_str(&format!("  {:<22} {}\n", "X-API-KEY", k));
    }
    out.push_str("\nStop with Ctrl+C (SIGINT) or SIGTERM.\n");
    out
}
