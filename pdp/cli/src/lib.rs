//! `warden-cli`: the `warden` command line (`main.rs`, `cli/`, one file per
//! subcommand) the policy test runner ([`testing`]) and replay ([`replay`]), over the crates of the
//! decision point (`warden-engine`, `warden-project`, `warden-server`, `warden-lsp`),
//! which its commands use directly.

pub mod replay;
pub mod testing;
