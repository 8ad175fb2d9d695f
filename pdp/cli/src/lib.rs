//! `warden-cli`: the `warden` command line (`main.rs`, `cli/`, one file per
//! subcommand) and the policy test runner ([`testing`]), over the crates of the
//! decision point (`warden-engine`, `warden-project`, `warden-server`, `warden-lsp`),
//! which its commands use directly.

pub mod testing;
