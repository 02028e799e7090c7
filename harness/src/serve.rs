//! `markcert serve`: start the emulators on loopback, print their URLs and credentials, write the
//! endpoints file once every listener is ready, and run until SIGINT/SIGTERM.
//!
//! Owns only the wiring of options: the world comes from `--world` or the embedded default, the
//! emulators from `markcert_emulators::stack` (True API hosts, ЛМ ЧЗ, ТС ПИоТ and the control API, all
//! sharing one world, one clock, one fault table and one trace). The KKT adds its key later.

use markcert_emulators::cdn;
use markcert_emulators::clock::WorldClock;
use markcert_emulators::kkt::options::KktOptions;
use markcert_emulators::lm::options::LmOptions;
use markcert_emulators::stack::{KktStackOptions, Stack, StackOptions, TsPiotStackOptions};
use markcert_emulators::trace::{Trace, TraceConfig};
use markcert_emulators::tspiot::options::TsPiotOptions;
use markcert_emulators::world::{default::default_world, file, World};
use std::net::IpAddr;
use std::path::PathBuf;

pub use markcert_emulators::stack::{Endpoints, LmStart};

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
    /// Start a ТС ПИоТ.
    pub tspiot: bool,
    /// ТС ПИоТ settings (`tspiot.*`).
    pub tspiot_options: TsPiotOptions,
    /// ТС ПИоТ POS API port (the real default is 51401); ephemeral when `None`.
    pub tspiot_port: Option<u16>,
    /// ТС ПИоТ admin API port (the real default is 51077); ephemeral when `None`.
    pub tspiot_admin_port: Option<u16>,
    /// Serve the ТС ПИоТ POS API over HTTPS with a self-signed certificate (PEM written next to the
    /// endpoints file, or to the working directory).
    pub tspiot_tls: bool,
    /// Start the KKT with ФН-М (ATOL web API).
    pub kkt: bool,
    /// KKT controls (`fn.*`, `ofd.*`, `oism.*`, `kkt.*`).
    pub kkt_options: KktOptions,
    /// ATOL web API port (the driver's default is 16732); ephemeral when `None`.
    pub kkt_port: Option<u16>,
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
            tspiot: true,
            tspiot_options: TsPiotOptions::default(),
            tspiot_port: None,
            tspiot_admin_port: None,
            tspiot_tls: false,
            kkt: true,
            kkt_options: KktOptions::default(),
            kkt_port: None,
        }
    }
}

/// Errors of `markcert serve`.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The world file could not be read.
    #[error("reading {path}: {source}")]
    ReadWorld { path: PathBuf, source: std::io::Error },
    /// A settings file could not be read or is not valid.
    #[error("settings {path}: {reason}")]
    Config { path: PathBuf, reason: String },
    /// The world could not be built.
    #[error(transparent)]
    World(#[from] markcert_emulators::world::WorldError),
    /// The trace file could not be opened.
    #[error(transparent)]
    Trace(#[from] markcert_emulators::trace::TraceError),
    /// The emulators could not be started.
    #[error(transparent)]
    Stack(#[from] markcert_emulators::stack::StackError),
    /// The endpoints file could not be written.
    #[error("writing {path}: {source}")]
    WriteEndpoints { path: PathBuf, source: std::io::Error },
    /// Waiting for a signal failed.
    #[error("waiting for a signal: {0}")]
    Signal(std::io::Error),
}

/// Read settings (the `lm.*`, `tspiot.*` or KKT keys) from a TOML file.
pub fn load_options<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, ServeError> {
    let err = |reason: String| ServeError::Config { path: path.to_path_buf(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    toml::from_str(&text).map_err(|e| err(e.to_string()))
}

/// Read ЛМ ЧЗ settings (`lm.*` keys) from a TOML file.
pub fn load_lm_options(path: &std::path::Path) -> Result<LmOptions, ServeError> {
    load_options(path)
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
    let trace = Trace::new(TraceConfig { ndjson: opts.trace_file.clone(), ..TraceConfig::default() })?;
    let ca_pem = opts.tspiot_tls.then(|| {
        let dir =
            opts.endpoints_file.as_ref().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default();
        dir.join("tspiot-ca.pem")
    });
    let stack_opts = StackOptions {
        cdn_hosts: opts.cdn_hosts,
        bind: opts.bind,
        xapikey_cutoff_ms: opts.xapikey_cutoff_ms.unwrap_or(cdn::DEFAULT_XAPIKEY_CUTOFF_MS),
        lm: opts.lm.clone(),
        lm_start: opts.lm_start,
        lm_port: opts.lm_port,
        tspiot: opts.tspiot.then(|| TsPiotStackOptions {
            options: opts.tspiot_options.clone(),
            port: opts.tspiot_port,
            admin_port: opts.tspiot_admin_port,
            tls_ca_pem: ca_pem,
        }),
        kkt: opts.kkt.then(|| KktStackOptions { options: opts.kkt_options.clone(), port: opts.kkt_port }),
        ..StackOptions::default()
    };
    let stack = Stack::start(world, clock, trace.clone(), stack_opts).await?;
    if let Some(path) = &opts.endpoints_file {
        write_atomically(path, &stack.endpoints)?;
    }
    ready(&stack.endpoints);
    wait_for_signal().await?;
    stack.shutdown().await;
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
    let lm = &e.local_module;
    out.push_str(&format!("  {:<22} {}  (Basic {}:{})\n", "ЛМ ЧЗ", lm.url, lm.login, lm.password));
    if let Some(t) = &e.tspiot {
        out.push_str(&format!("  {:<22} {}\n", "ТС ПИоТ", t.url));
        out.push_str(&format!("  {:<22} {}\n", "ТС ПИоТ admin", t.admin));
        if let (Some(id), Some(token)) = (&t.client_id, &t.client_token) {
            out.push_str(&format!("  {:<22} id {id}, token {token}\n", "POS client_info"));
        }
        if let Some(pem) = &t.ca_pem {
            out.push_str(&format!("  {:<22} {}\n", "ТС ПИоТ certificate", pem.display()));
        }
    }
    if let Some(k) = &e.kkt {
        out.push_str(&format!("  {:<22} {}  (deviceID {})\n", "KKT (ATOL web API)", k.url, k.device_id));
        out.push_str(&format!("  {:<22} ФН {}, KKT {}\n", "KKT serials", k.fn_serial, k.kkt_serial));
    }
    out.push_str(&format!("  {:<22} {}\n", "Control API", e.control));
    out.push_str("\nStop with Ctrl+C (SIGINT) or SIGTERM.\n");
    out
}
