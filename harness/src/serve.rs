//! `markcert serve`: start the emulators on loopback, print their URLs and credentials, write the
//! endpoints file once every listener is ready, and run until SIGINT/SIGTERM.
//!
//! Owns only the wiring: the world comes from `--world` or the embedded default, the emulators from
//! `markcert-emulators`. Served: the True API discovery host and CDN hosts, the ЛМ ЧЗ, and the control
//! API; all share one world, one clock, one fault table and one trace. Later components (ТС ПИоТ, KKT)
//! add their keys to the same endpoints object.

use markcert_emulators::cdn::{self, AuthOptions, TrueApiContext};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::control::{self, ControlContext};
use markcert_emulators::faults::FaultTable;
use markcert_emulators::lm::model::{InitRequest, LocalModule};
use markcert_emulators::lm::options::LmOptions;
use markcert_emulators::lm::server::{self as lm_server, LmContext};
use markcert_emulators::reqlog::ReqLog;
use markcert_emulators::trace::{Trace, TraceConfig};
use markcert_emulators::trueapi::TrueApiOptions;
use markcert_emulators::world::{default::default_world, file, World};
use serde::Serialize;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// How the ЛМ ЧЗ starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LmStart {
    /// Already initialised and synced at start, as in a store that has been running (default).
    #[default]
    Ready,
    /// Fresh from installation: `not_configured` until someone calls `/init`.
    NotConfigured,
}

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
    /// ЛМ ЧЗ settings (`lm.*`).
    pub lm: LmOptions,
    /// ЛМ ЧЗ state at start.
    pub lm_start: LmStart,
    /// ЛМ ЧЗ port (the real module's default is 5995); ephemeral when `None`.
    pub lm_port: Option<u16>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            world: None,
            endpoints_file: None,
            cdn_hosts: 3,
            bind: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            trace_file: None,
            xapikey_cutoff_ms: None,
            lm: LmOptions::default(),
            lm_start: LmStart::default(),
            lm_port: None,
        }
    }
}

/// Errors of `markcert serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world file could not be read.
    #[error("reading {path}: {source}")]
    ReadWorld { path: PathBuf, source: std::io::Error },
    /// The ЛМ ЧЗ settings file could not be read or is not valid.
    #[error("ЛМ ЧЗ settings {path}: {reason}")]
    LmConfig { path: PathBuf, reason: String },
    /// The world could not be built.
    #[error(transparent)]
    World(#[from] markcert_emulators::world::WorldError),
    /// The trace file could not be opened.
    #[error(transparent)]
    Trace(#[from] markcert_emulators::trace::TraceError),
    /// A True API listener could not be bound.
    #[error(transparent)]
    Bind(#[from] cdn::CdnError),
    /// The ЛМ ЧЗ listener could not be bound.
    #[error(transparent)]
    BindLm(#[from] lm_server::LmServeError),
    /// The control API listener could not be bound.
    #[error(transparent)]
    BindControl(#[from] control::ControlError),
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
    /// The ЛМ ЧЗ and its Basic-auth credentials.
    pub local_module: LocalModuleEndpointJson,
    /// Base URL of the control API.
    pub control: String,
}

/// `local_module` of the endpoints file.
#[derive(Clone, Debug, Serialize)]
pub struct LocalModuleEndpointJson {
    /// Base URL.
    pub url: String,
    /// Basic-auth login.
    pub login: String,
    /// Basic-auth password.
    pub password: String,
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

/// Read ЛМ ЧЗ settings (`lm.*` keys) from a TOML file.
pub fn load_lm_options(path: &std::path::Path) -> Result<LmOptions, ServeError> {
    let err = |reason: String| ServeError::LmConfig { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
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
    let world = Arc::new(RwLock::new(world));
    let faults = FaultTable::new();
    let reqlog = ReqLog::new(1_000_000);
    let ctx = TrueApiContext {
        world: world.clone(),
        clock: clock.clone(),
        trace: trace.clone(),
        reqlog: reqlog.clone(),
        options: Arc::new(TrueApiOptions::default()),
        auth: Arc::new(AuthOptions {
            xapikey_cutoff_ms: opts.xapikey_cutoff_ms.unwrap_or(cdn::DEFAULT_XAPIKEY_CUTOFF_MS),
            ..AuthOptions::default()
        }),
        faults: faults.clone(),
        fn_auth: Default::default(),
    };
    let module = Arc::new(Mutex::new(local_module(&opts, &world, &clock)));
    let servers = cdn::spawn(ctx, opts.bind, opts.cdn_hosts).await?;
    let lm = lm_server::spawn(
        LmContext {
            world: world.clone(),
            clock: clock.clone(),
            trace: trace.clone(),
            faults: faults.clone(),
            module: module.clone(),
        },
        SocketAddr::new(opts.bind, opts.lm_port.unwrap_or(0)),
    )
    .await?;
    let control = control::spawn(
        ControlContext { world, clock, trace: trace.clone(), faults, reqlog, lm: Some(module) },
        opts.bind,
    )
    .await?;
    let endpoints = Endpoints {
        true_api: TrueApiEndpointsJson {
            discovery: servers.endpoints.discovery.clone(),
            hosts: servers.endpoints.hosts.clone(),
            api_key,
        },
        local_module: LocalModuleEndpointJson {
            url: lm.url.clone(),
            login: opts.lm.login.clone(),
            password: opts.lm.password.clone(),
        },
        control: control.url.clone(),
    };
    if let Some(path) = &opts.endpoints_file {
        write_atomically(path, &endpoints)?;
    }
    ready(&endpoints);
    wait_for_signal().await?;
    control.shutdown().await;
    lm.shutdown().await;
    servers.shutdown().await;
    // Errors of the final flush are reported; the trace file is then complete.
    trace.flush()?;
    Ok(())
}

/// The ЛМ ЧЗ as `opts.lm_start` says: ready means initialised one init duration ago, so that the
/// first snapshot of the world is taken now and `lastSync` is now.
fn local_module(opts: &ServeOptions, world: &RwLock<World>, clock: &WorldClock) -> LocalModule {
    let mut module = LocalModule::new(opts.lm.clone());
    if opts.lm_start == LmStart::Ready {
        let now = clock.now_ms();
        let world = world.read().unwrap_or_else(|p| p.into_inner());
        let started = now.saturating_sub(opts.lm.init_duration_ms());
        let req = InitRequest { token: "markcert-serve".into(), clear_sold: None, enable_grey_list: None };
        // `init` refuses only an empty token.
        let _ = module.init(&world, started, req);
        module.advance(&world, now);
    }
    module
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
    let lm = &e.local_module;
    out.push_str(&format!("  {:<22} {}  (Basic {}:{})\n", "ЛМ ЧЗ", lm.url, lm.login, lm.password));
    out.push_str(&format!("  {:<22} {}\n", "Control API", e.control));
    out.push_str("\nStop with Ctrl+C (SIGINT) or SIGTERM.\n");
    out
}
