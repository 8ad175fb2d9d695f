//! The Warden policy decision point: the engine that evaluates compiled policy graphs,
//! and (to come) the transports in front of it. The `warden` binary lives in `main.rs`.

pub mod api;
pub mod engine;
pub mod files;
pub mod serve;
pub mod testing;
