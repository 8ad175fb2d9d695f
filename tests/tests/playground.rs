//! The playground answers as the `warden` binary does: for every example set,
//! the revision it reports is the one `warden compile` prints, and it runs
//! the same tests with the same outcome as `warden test` (the playground's own
//! browser test is `pdp/playground/tests`, run by `./test.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use warden_e2e::warden_bin;

#[test]
fn every_example_has_the_revision_and_the_test_results_of_the_binary() {
    let sets: Value = serde_json::from_str(&warden_playground::examples()).unwrap();
    let sets = sets.as_array().unwrap();
    assert_eq!(sets.len(), 4);
    for set in sets {
        let name = set["name"].as_str().unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").join(name);
        let files = set["files"].to_string();
        let compiled = Command::new(warden_bin().unwrap()).arg("compile").arg(&dir).output().unwrap();
        assert!(compiled.status.success(), "{name}");
        let graph: Value = serde_json::from_slice(&compiled.stdout).unwrap();
        let checked: Value = serde_json::from_str(&warden_playground::check(&files)).unwrap();
        assert_eq!(checked["revision"], graph["revision"], "{name}");
        // The same tests, each with the same outcome.
        let out = Command::new(warden_bin().unwrap()).arg("test").arg(&dir).output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let run: Value = serde_json::from_str(&warden_playground::run_tests(&files)).unwrap();
        let results = run["results"].as_array().unwrap();
        let passed = results.iter().filter(|r| r["failures"].as_array().unwrap().is_empty()).count();
        assert!(
            report.contains(&format!("{passed} passed, {} failed", results.len() - passed)),
            "{name}: the playground ran {} tests, {passed} passed; warden test said:\n{report}",
            results.len()
        );
        assert!(passed > 0);
    }
}
