//! The load benchmark of the True API emulator (`markcert-loadbench`): `codes/check` throughput,
//! latency and server memory of the emulator against two reference servers, a bare hyper server
//! answering a fixed body and a `wiremock` `MockServer` with one mock, measured in one run by one load
//! generator, and a soak mode that watches a server's memory under constant load.
//!
//! Split like `hatoo/oha`: [`cli`] parses the command line, [`targets`] are the servers (each run as a
//! child process of the same binary, managed by [`process`]), [`client`] generates load and measures,
//! [`result`] holds the report types (serde, the `--json` output), [`printer`] renders them as text;
//! [`bench`] and [`soak`] run the two modes. [`workload`] fixes what is sent and answered, [`procfs`]
//! reads memory and load from `/proc`.
//!
//! Must not: send traffic anywhere but loopback (every URL a target reports is checked, see
//! [`process::TargetUrl`]); run unbounded (a run's planned duration and request count are capped, see
//! [`cli`]); treat the three targets differently on the client side (same client, connections, body
//! and headers for all).

pub mod bench;
pub mod cli;
pub mod client;
pub mod error;
pub mod printer;
pub mod process;
pub mod procfs;
pub mod result;
pub mod soak;
pub mod targets;
pub mod workload;
