//! `markcert codes …`: inspect, generate and distort marking codes. Being written.
