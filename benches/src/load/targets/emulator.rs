//! The system under test: the True API emulator's hosts (`markcert_emulators::cdn::spawn`, one CDN
//! host) over the embedded default world, with every field, the trace on and no faults — the context
//! `markcert serve` builds, except that the `X-API-KEY` cut-off is moved to the end of time (the spec
//! default, 2026-10-01, would answer every call 401 from then on) and the trace ring and reqId log
//! sizes come from [`EmulatorOptions`].

use crate::load::error::TargetError;
use crate::load::targets::EmulatorOptions;
use crate::load::workload::CHECK_PATH;
use markcert_emulators::cdn::{self, AuthOptions, TrueApiContext, TrueApiServers};
use markcert_emulators::clock::WorldClock;
use markcert_emulators::reqlog::ReqLog;
use markcert_emulators::trace::{Trace, TraceConfig};
use markcert_emulators::world::default::default_world;
use std::sync::{Arc, RwLock};

/// The running emulator hosts.
pub struct EmulatorTarget {
    /// `codes/check` on the CDN host.
    pub url: String,
    servers: TrueApiServers,
    trace: Trace,
}

impl EmulatorTarget {
    /// Stop the hosts and flush the trace file, if any.
    pub async fn stop(self) -> Result<(), TargetError> {
        self.servers.shutdown().await;
        self.trace.flush()?;
        Ok(())
    }
}

/// Build the context and start the discovery host and one CDN host on 127.0.0.1.
pub async fn start(opts: &EmulatorOptions) -> Result<EmulatorTarget, TargetError> {
    let clock = WorldClock::real();
    let world = default_world(clock.now_ms())?;
    let trace = match &opts.trace_ndjson {
        None => Trace::in_memory(opts.trace_ring),
        Some(path) => Trace::new(TraceConfig { ring_capacity: opts.trace_ring, ndjson: Some(path.clone()) })?,
    };
    // Spec defaults for everything not set here (no faults, default answer options, …).
    let ctx = TrueApiContext {
        reqlog: ReqLog::new(opts.reqlog_capacity),
        auth: Arc::new(AuthOptions { xapikey_cutoff_ms: i64::MAX, ..AuthOptions::default() }),
        ..TrueApiContext::new(Arc::new(RwLock::new(world)), clock, trace.clone())
    };
    let servers = cdn::spawn(ctx, std::net::Ipv4Addr::LOCALHOST.into(), 1).await?;
    let host = servers.endpoints.hosts.first().ok_or(TargetError::NoHost)?;
    Ok(EmulatorTarget { url: format!("{host}{CHECK_PATH}"), servers, trace })
}
