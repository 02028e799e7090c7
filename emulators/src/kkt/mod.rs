//! The emulated cash register (KKT) with its ФН-М fiscal accumulator, the ОФД and the ОИСМ behind it
//! (spec `kkt.md`): the controls, the ФН-М marking model, the emulated ОИСМ answers, the
//! ATOL-driver-compatible web API, and the grading of the documents a POS makes the KKT produce.
//! Documents themselves (model, TLV, FNS JSON, paper) live in [`crate::ffd`].

pub mod atol;
pub mod device;
pub mod fn_m;
pub mod grading;
pub mod oism;
pub mod options;
