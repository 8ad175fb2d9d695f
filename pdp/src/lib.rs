//! The Warden policy decision point: the engine that evaluates compiled policy graphs
//! (to come), and the transports in front of it. The `warden` binary lives in `main.rs`.
