//! markcert-emulators: the world model and the emulated parties around the implementation under test
//! (True API CDN hosts, ЛМ ЧЗ, ТС ПИоТ, KKT with ФН-М, barcode scanner), the fault layer and the trace.
//!
//! Not built yet: the emulators arrive with their own issues. This crate only reserves the place in the
//! workspace so that the dependency graph (codes → emulators → harness) is fixed from the start.
