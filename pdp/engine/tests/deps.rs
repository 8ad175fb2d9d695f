//! The engine's boundary, checked: nothing in its dependency tree does I/O or
//! runs an async runtime, so embedding it (the SDK's embedded mode, a browser
//! playground) never builds a server stack.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test: a failure aborts the test")]

use std::process::Command;

/// Crates the engine must never depend on, directly or not.
const FORBIDDEN: &[&str] =
    &["tokio", "hyper", "axum", "tonic", "prost", "reqwest", "notify", "clap", "lsp-server", "lsp-types", "redis"];

#[test]
fn the_engine_depends_on_no_runtime_transport_or_cli_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["tree", "--locked", "-p", "warden-engine", "-e", "normal", "--prefix", "none"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let crates: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"warden-compiler"), "the tree was read: {crates:?}");
    let found: Vec<&&str> = FORBIDDEN.iter().filter(|f| crates.contains(f)).collect();
    assert!(found.is_empty(), "warden-engine depends on {found:?}");
}
