//! markcert-emulators: the world model and the emulated parties around the implementation under test
//! (True API CDN hosts, ЛМ ЧЗ, ТС ПИоТ, KKT with ФН-М, barcode scanner), the fault layer and the trace.
//!
//! Data flows one way: the [`world`] is the single source of truth; emulators answer from it; every
//! call goes into the [`trace`]; [`faults`] decide how a call is disturbed. Built so far: the world
//! model, the world clock, the trace, the fault model and the True API per-code answer logic; the HTTP
//! servers, ЛМ ЧЗ, the control API and `markcert serve` come next (issue 3).

pub mod cdn;
pub mod clock;
pub mod control;
pub mod decision;
pub mod faults;
pub mod ffd;
pub mod fnauth;
mod http;
pub mod kkt;
pub mod lm;
pub mod reqlog;
pub mod signin;
pub mod stack;
pub mod trace;
pub mod trueapi;
pub mod tspiot;
pub mod world;
