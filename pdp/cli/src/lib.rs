//! `warden-cli`: the `warden` command line (`main.rs`, `cli/`, one file per
//! subcommand), replay ([`replay`]) and the aws-lc-rs keys of the policy test
//! runner ([`keys`]; the runner itself is `warden_engine::testing`), over the
//! crates of the decision point (`warden-engine`, `warden-project`,
//! `warden-server`, `warden-lsp`), which its commands use directly.

pub mod keys;
pub mod replay;
