//! Fault kind `drip`: answer normally, but send the body slowly, a few bytes at a time.
//!
//! Owns the [`Drip`] configuration and its checks. Models a congested link: the status line arrives
//! in time, the body does not; a client that measures its budget only up to the headers is caught.
//!
//! Server contract for [`Action::Drip`]: after the delay, send the normal status and headers (with the
//! full `Content-Length`), then the body in writes of `bytes_per_chunk` bytes, flushing each and
//! sleeping `chunk_delay` before every chunk after the first. Stop if the client goes away.
//!
//! Wire shape: `fault = { kind = "drip", bytes_per_chunk = 16, chunk_delay_ms = 100 }`.

use std::num::NonZeroUsize;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::decision::Action;
use super::error::FaultError;
use super::kind::{Effect, Fault};

/// A slow body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drip {
    /// Bytes per write, at least 1.
    pub bytes_per_chunk: usize,
    /// Pause before each chunk after the first, in ms.
    pub chunk_delay_ms: u64,
}

impl Fault for Drip {
    fn validate(&self) -> Result<(), FaultError> {
        if self.bytes_per_chunk == 0 {
            return Err(FaultError::ZeroChunk);
        }
        Ok(())
    }

    fn effect(&self) -> Result<Effect, FaultError> {
        let bytes_per_chunk = NonZeroUsize::new(self.bytes_per_chunk).ok_or(FaultError::ZeroChunk)?;
        Ok(Effect::Act(Action::Drip {
            bytes_per_chunk,
            chunk_delay: Duration::from_millis(self.chunk_delay_ms),
        }))
    }

    fn label(&self) -> String {
        format!("drip {} B / {} ms", self.bytes_per_chunk, self.chunk_delay_ms)
    }
}
