//! The HTTP API's OpenAPI 3.1 document (`docs/reference/openapi.json`) is
//! what `warden serve` serves at `/openapi.json`, and it is true of the running
//! server: Schemathesis (from PyPI, installed by `./test.sh` in
//! `target/schemathesis-venv`) sends every documented request shape, with
//! generated values, and checks each answer against the document (status,
//! schema, headers) and that there is no 5xx. Bounded: a fixed seed, a
//! bounded number of examples per operation, one worker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::process::Command;

use warden_e2e::{Probe, Warden, free_ports, generate_key, issuer_section};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schemathesis() -> PathBuf {
    let st = root().join("target/schemathesis-venv/bin/st");
    assert!(st.exists(), "{} is missing: ./test.sh installs Schemathesis there", st.display());
    st
}

/// Runs Schemathesis against `base` (only the operations whose path matches
/// `paths`, when given), which must test `operations` of them; its report
/// when it fails.
fn check(base: &str, paths: Option<&str>, operations: usize) {
    let mut cmd = Command::new(schemathesis());
    cmd.current_dir(root())
        .args(["--config-file", "docs/reference/schemathesis.toml", "run", "docs/reference/openapi.json"])
        .args(["--url", base, "--checks", "all", "--max-examples", "50", "--workers", "1", "--seed", "3"])
        // No example database left in the repository.
        .args(["--request-timeout", "10", "--generation-database", "none"])
        .env("NO_COLOR", "1");
    if let Some(paths) = paths {
        cmd.args(["--include-path-regex", paths]);
    }
    let out = cmd.output().unwrap();
    let report = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Schemathesis found the document and the server disagree:\n{report}");
    // It really ran the operations (a filter matching nothing also succeeds).
    let tested: usize = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of tested operations:\n{report}"));
    assert_eq!(tested, operations, "{report}");
    // Every generated case passed: `N generated, N passed` (warnings, such as
    // operations that answered 404 to made-up ids, are not failures).
    let cases = report
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)
        .unwrap_or_else(|| panic!("no test case count:\n{report}"));
    let counts: Vec<&str> = cases.split(',').map(str::trim).collect();
    let generated = counts.first().and_then(|c| c.strip_suffix(" generated")).unwrap_or("");
    assert!(generated.parse::<usize>().is_ok_and(|n| n > 0), "{cases}");
    assert_eq!(counts, [format!("{generated} generated"), format!("{generated} passed")], "{report}");
}

#[test]
fn the_document_is_served_and_schemathesis_finds_the_server_true_to_it() {
    let policies = root().join("policies/identity");
    let w = Warden::start_with(&policies, &[], Probe::Http).unwrap();
    let served = w.get("/openapi.json").unwrap();
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/reference/openapi.json")).unwrap()).unwrap();
    assert_eq!(served.json().unwrap(), committed);
    assert_eq!(committed["openapi"], "3.1.0");
    check(&format!("http://{}", w.http), None, operations(&committed));
}

/// How many operations (path and method) the document describes.
fn operations(document: &serde_json::Value) -> usize {
    document["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum()
}

#[test]
fn with_an_issuer_and_a_diagnostics_listener_both_listeners_are_true_to_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.pem");
    assert!(generate_key(&key).unwrap().0);
    let [diagnostics] = free_ports::<1>().unwrap();
    let config = dir.path().join("warden.toml");
    // The token endpoint, the key set and discovery exist only with `[issuer]`.
    std::fs::write(
        &config,
        format!(
            "{}\n[diagnostics]\naddr = \"127.0.0.1:{diagnostics}\"\n",
            issuer_section("https://warden.example", &[(&key, "active")])
        ),
    )
    .unwrap();
    let policies = root().join("policies/identity");
    let w = Warden::start_with(&policies, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();
    assert_eq!(w.get("/.well-known/jwks.json").unwrap().status, 200);
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("docs/reference/openapi.json")).unwrap()).unwrap();
    check(&format!("http://{}", w.http), None, operations(&document));
    // The diagnostics listener serves only what probes and scrapers read.
    check(&format!("http://127.0.0.1:{diagnostics}"), Some("^/(healthz|readyz|metrics|v1/status|v1/policy)$"), 5);
}
