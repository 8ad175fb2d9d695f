//! The crate graph of ARCHITECTURE.md, checked: for each crate, the crates it must
//! never depend on (directly or not), read from `cargo tree`. The engine's own
//! boundary is also checked in `pdp/engine/tests/deps.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test: a failure aborts the test")]

use std::process::Command;

/// A runtime, a transport or a server stack.
const SERVICE: &[&str] = &["tokio", "hyper", "axum", "tonic", "prost", "reqwest", "redis"];
/// The command line and the language server.
const TOOLS: &[&str] = &["clap", "lsp-server", "lsp-types"];

/// The crates in `package`'s normal dependency tree (itself included).
fn tree(package: &str) -> Vec<String> {
    tree_with(package, &[])
}

/// [`tree`], with more `cargo tree` arguments (`--target …`).
fn tree_with(package: &str, extra: &[&str]) -> Vec<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["tree", "--locked", "-p", package, "-e", "normal", "--prefix", "none"])
        .args(extra)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&out.stderr));
    let crates: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(crates.iter().any(|c| c == package), "the tree of {package} was read: {crates:?}");
    crates
}

fn never(package: &str, forbidden: &[&[&str]]) {
    let crates = tree(package);
    let found: Vec<&str> =
        forbidden.iter().flat_map(|list| list.iter().copied()).filter(|f| crates.iter().any(|c| c == f)).collect();
    assert!(found.is_empty(), "{package} depends on {found:?}");
}

#[test]
fn the_language_and_the_compiler_do_no_io_and_know_no_decision_point() {
    let pdp = ["warden-engine", "warden-project", "warden-server", "warden-proto", "warden-lsp", "notify"];
    never("warden-language", &[SERVICE, TOOLS, &pdp, &["warden-compiler"]]);
    never("warden-compiler", &[SERVICE, TOOLS, &pdp]);
}

#[test]
fn loading_a_policy_set_and_the_language_server_need_no_service_stack() {
    never("warden-project", &[SERVICE, TOOLS, &["warden-server", "warden-proto", "warden-lsp"]]);
    never("warden-lsp", &[SERVICE, &["clap", "warden-server", "warden-proto"]]);
}

#[test]
fn the_playground_is_the_language_compiler_and_engine_alone_and_pure_rust_in_the_browser() {
    never("warden-playground", &[SERVICE, TOOLS, &["warden-project", "warden-server", "warden-lsp", "notify"]]);
    // In the browser the engine checks signatures with pure-Rust crates: aws-lc does not build there.
    let wasm = tree_with("warden-playground", &["--target", "wasm32-unknown-unknown"]);
    assert!(wasm.iter().any(|c| c == "warden-engine") && wasm.iter().any(|c| c == "rsa"), "{wasm:?}");
    let native = ["aws-lc-rs", "aws-lc-sys", "tokio"];
    assert!(!wasm.iter().any(|c| native.contains(&c.as_str())), "{wasm:?}");
}

#[test]
fn the_service_has_no_command_line_or_language_server() {
    never("warden-server", &[TOOLS, &["warden-lsp", "warden-cli"]]);
    never("warden-proto", &[&["warden-engine", "warden-compiler", "warden-server"]]);
}

#[test]
fn the_sdk_client_builds_no_policy_machinery_unless_embedded() {
    let machinery = ["warden-server", "warden-project", "warden-engine", "warden-compiler", "notify", "redis"];
    never("warden-sdk", &[TOOLS, &machinery, &["warden-cli", "warden-lsp"]]);
}
