//! The ATOL-driver-compatible web API of the emulated KKT (`kkt.md` §10): the JSON of every task and
//! result ([`wire`]), the driver errors ([`error`]), the request queue with per-device serial execution
//! ([`queue`]) and the HTTP server ([`server`]).
//!
//! This layer is independent of the device: it parses, queues, runs each task through a
//! [`TaskRunner`] and reports. What a task does to the KKT and its ФН-М is the runner's business.

pub mod error;
pub mod queue;
pub mod server;
pub mod wire;

pub use error::{AtolError, DriverError, DriverErrorName};
pub use queue::TaskRunner;
pub use server::{spawn, AtolHandle, AtolServeError, AtolServerOptions};
pub use wire::Task;
