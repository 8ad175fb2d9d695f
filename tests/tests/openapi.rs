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

use warden_e2e::{Probe, Warden};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schemathesis() -> PathBuf {
    let st = root().join("target/schemathesis-venv/bin/st");
    assert!(st.exists(), "{} is missing: ./test.sh installs Schemathesis there", st.display());
    st
}

/// Runs Schemathesis against `base` (only the operations whose path matches
/// `paths`, when given); its report when it fails.
fn check(base: &str, paths: Option<&str>) {
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
    assert!(report.contains("passed"), "{report}");
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
    check(&format!("http://{}", w.http), None);
}
