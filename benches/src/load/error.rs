//! Errors of the load benchmark library: starting and talking to target processes, building the
//! workload, writing reports. Counted request failures are not errors here: they are results
//! ([`crate::load::client::ErrorCounts`]).

use crate::load::targets::TargetKind;
use std::path::PathBuf;

/// Why a benchmark could not run (as opposed to a run that counted failed requests).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The target's child process could not be started.
    #[error("starting the {target} target process {exe}: {source}")]
    Spawn {
        target: TargetKind,
        exe: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The child process did not print its URL.
    #[error("the {target} target did not report its URL: {reason}")]
    NoUrl { target: TargetKind, reason: String },
    /// The child process printed a URL the benchmark refuses (not http, not loopback, no port).
    #[error("the {target} target reported {url:?}: {reason}")]
    BadUrl { target: TargetKind, url: String, reason: String },
    /// The load phase did not end within its hard limit (a target stopped answering).
    #[error("the load phase against {target} did not end within {limit_s} s")]
    PhaseTimeout { target: TargetKind, limit_s: u64 },
    /// A load task failed (panicked or was cancelled).
    #[error("a load task against {target} failed: {reason}")]
    Task { target: TargetKind, reason: String },
    /// The default world (source of the request codes) could not be built.
    #[error("building the default world: {0}")]
    World(#[from] markcert_emulators::world::WorldError),
    /// The default world has no in-circulation code to send.
    #[error("the default world has no in-circulation code")]
    NoCodes,
}

/// Why a target server could not start or stop inside its process.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// Binding or reading the listener address failed.
    #[error("binding 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The emulator hosts could not start.
    #[error(transparent)]
    Cdn(#[from] markcert_emulators::cdn::CdnError),
    /// The emulator world could not be built.
    #[error(transparent)]
    World(#[from] markcert_emulators::world::WorldError),
    /// The emulator trace file could not be opened or flushed.
    #[error(transparent)]
    Trace(#[from] markcert_emulators::trace::TraceError),
    /// The emulated stack (ТС ПИоТ target) could not start.
    #[error("starting the emulated stack: {0}")]
    Stack(String),
    /// The emulator reported no CDN host.
    #[error("the emulator started no CDN host")]
    NoHost,
    /// Writing the URL line to stdout failed.
    #[error("writing the URL to stdout: {0}")]
    Stdout(#[source] std::io::Error),
}
