//! The servers under load, each started inside its own process by the hidden subcommand
//! `markcert-loadbench serve-target KIND` ([`serve`]): it binds 127.0.0.1 only, prints the full
//! `codes/check` URL on one stdout line once listening, and serves until its stdin closes (or it is
//! killed).
//!
//! - [`bare_hyper`]: hyper 1 http1, reads the request body and answers the fixed body — the ceiling;
//! - [`mock_server`]: a `wiremock::MockServer` with one matching mock answering the fixed body;
//! - [`emulator`]: the real True API emulator (`markcert_emulators::cdn`) over the default world;
//! - [`tspiot`]: the whole stack, loaded through the ТС ПИоТ's POS API (not in the default run; ask for
//!   it with `--targets emulator,tspiot` to see what the ТС ПИоТ adds to a direct call).
//!
//! Must not: bind anything but loopback; write anything else to stdout (the parent reads the URL from
//! its first line).

pub mod bare_hyper;
pub mod emulator;
pub mod mock_server;
pub mod tspiot;

use crate::load::error::TargetError;
use serde::Serialize;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;

/// Which server is under load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Bare hyper server answering a fixed body.
    Hyper,
    /// The True API emulator.
    Emulator,
    /// wiremock `MockServer` with one mock.
    Wiremock,
    /// The ТС ПИоТ in front of the emulator (POS API, base64 codes).
    Tspiot,
}

impl TargetKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Hyper => "hyper",
            TargetKind::Emulator => "emulator",
            TargetKind::Wiremock => "wiremock",
            TargetKind::Tspiot => "tspiot",
        }
    }

    /// Every target, in the default order of a run.
    pub fn all() -> [TargetKind; 3] {
        [TargetKind::Hyper, TargetKind::Emulator, TargetKind::Wiremock]
    }
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the emulator target is configured (ignored by the other targets).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EmulatorOptions {
    /// Events kept in the in-memory trace ring.
    pub trace_ring: usize,
    /// NDJSON file that receives every trace event, besides the ring.
    pub trace_ndjson: Option<PathBuf>,
    /// Issued checks kept in the reqId log.
    pub reqlog_capacity: usize,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions { trace_ring: 100_000, trace_ndjson: None, reqlog_capacity: 1_000_000 }
    }
}

impl EmulatorOptions {
    /// The `serve-target` arguments carrying these options to the child process.
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = vec![
            "--trace-ring".into(),
            self.trace_ring.to_string().into(),
            "--reqlog-capacity".into(),
            self.reqlog_capacity.to_string().into(),
        ];
        if let Some(p) = &self.trace_ndjson {
            args.push("--trace-ndjson".into());
            args.push(p.clone().into_os_string());
        }
        args
    }
}

/// A started target inside the current process.
pub enum RunningTarget {
    Hyper(bare_hyper::BareHyper),
    Wiremock(mock_server::OneMockServer),
    Emulator(emulator::EmulatorTarget),
    Tspiot(Box<tspiot::TsPiotTarget>),
}

impl RunningTarget {
    /// The full `codes/check` URL.
    pub fn url(&self) -> &str {
        match self {
            RunningTarget::Hyper(t) => &t.url,
            RunningTarget::Wiremock(t) => &t.url,
            RunningTarget::Emulator(t) => &t.url,
            RunningTarget::Tspiot(t) => &t.url,
        }
    }

    /// Stop serving (the emulator also flushes its trace file).
    pub async fn stop(self) -> Result<(), TargetError> {
        match self {
            RunningTarget::Hyper(t) => {
                t.stop();
                Ok(())
            }
            RunningTarget::Wiremock(t) => {
                drop(t);
                Ok(())
            }
            RunningTarget::Emulator(t) => t.stop().await,
            RunningTarget::Tspiot(t) => (*t).stop().await,
        }
    }
}

/// Start `kind` in this process, on 127.0.0.1 with an ephemeral port.
pub async fn start(kind: TargetKind, opts: &EmulatorOptions) -> Result<RunningTarget, TargetError> {
    Ok(match kind {
        TargetKind::Hyper => RunningTarget::Hyper(bare_hyper::start().await?),
        TargetKind::Wiremock => RunningTarget::Wiremock(mock_server::start().await),
        TargetKind::Emulator => RunningTarget::Emulator(emulator::start(opts).await?),
        TargetKind::Tspiot => RunningTarget::Tspiot(Box::new(tspiot::start(opts).await?)),
    })
}

/// The `serve-target` process body: start `kind`, print its URL on stdout, serve until stdin closes.
pub async fn serve(kind: TargetKind, opts: &EmulatorOptions) -> Result<(), TargetError> {
    let target = start(kind, opts).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", target.url()).map_err(TargetError::Stdout)?;
        out.flush().map_err(TargetError::Stdout)?;
    }
    // Reading stdin blocks a thread; it returns at EOF (the parent closed it or died) or on an error.
    let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()))
        .await;
    target.stop().await
}
