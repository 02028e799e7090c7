//! markcert: the conformance harness library. The `markcert` binary (`src/main.rs`) only parses the
//! command line and calls into these modules.

pub mod adapter;
pub mod codes_cli;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod scenarios_cli;
pub mod serve;
