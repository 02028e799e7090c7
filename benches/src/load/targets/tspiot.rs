//! The ТС ПИоТ path: the whole emulated stack (`markcert_emulators::stack`: one True API CDN host, the
//! ЛМ ЧЗ, the ТС ПИоТ with its ФН token) over the default world, loaded through the ТС ПИоТ's POS API
//! (`POST /api/v2/codes/check`, codes as base64): every check goes POS → ТС ПИоТ → CDN host and back,
//! so comparing it with the `emulator` target gives the latency the ТС ПИоТ adds to a direct call.

use crate::load::error::TargetError;
use crate::load::targets::EmulatorOptions;
use markcert_emulators::clock::WorldClock;
use markcert_emulators::stack::{Stack, StackOptions};
use markcert_emulators::trace::Trace;
use markcert_emulators::world::default::default_world;

/// Path of the POS-facing check of the ТС ПИоТ.
pub const TSPIOT_CHECK_PATH: &str = "/api/v2/codes/check";

/// The running stack.
pub struct TsPiotTarget {
    /// `codes/check` of the ТС ПИоТ.
    pub url: String,
    stack: Stack,
}

impl TsPiotTarget {
    /// Stop every server of the stack.
    pub async fn stop(self) -> Result<(), TargetError> {
        self.stack.shutdown().await;
        Ok(())
    }
}

/// Start the stack on 127.0.0.1 (X-API-KEY cut-off at the end of time, as for the emulator target;
/// the ТС ПИоТ authenticates with its ФН token anyway).
pub async fn start(opts: &EmulatorOptions) -> Result<TsPiotTarget, TargetError> {
    let clock = WorldClock::real();
    let world = default_world(clock.now_ms())?;
    let stack_opts = StackOptions {
        cdn_hosts: 1,
        xapikey_cutoff_ms: i64::MAX,
        reqlog_capacity: opts.reqlog_capacity,
        ..StackOptions::default()
    };
    let stack = Stack::start(world, clock, Trace::in_memory(opts.trace_ring), stack_opts)
        .await
        .map_err(|e| TargetError::Stack(e.to_string()))?;
    let base = stack.endpoints.tspiot.as_ref().map(|t| t.url.clone()).ok_or(TargetError::NoHost)?;
    Ok(TsPiotTarget { url: format!("{base}{TSPIOT_CHECK_PATH}"), stack })
}
