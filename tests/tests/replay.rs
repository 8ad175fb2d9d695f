//! Replay with real parts: a real `warden serve` writes its decision log with
//! captured inputs (`[decision_log] capture = "request"`) under traffic with
//! real tokens; `warden replay` judges those decisions again against a changed
//! copy of the set and reports exactly the decisions the change turns, grouped
//! by endpoint and direction. The log never holds a token.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::{Warden, warden_bin};

fn check(w: &Warden, path: &str, token: Option<&str>) -> Value {
    let mut headers = json!({});
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.bank.example", "path": path,
        "headers": headers}, "source": {"ip": "198.51.100.7"}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()
}

fn replay(log: &Path, set: &Path, extra: &[&str]) -> Output {
    Command::new(warden_bin().unwrap()).args(["replay", "--log"]).arg(log).arg(set).args(extra).output().unwrap()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// Waits until `log` has `lines` complete lines.
fn log_lines(log: &Path, lines: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.ends_with('\n') && text.lines().count() >= lines {
            return text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        }
        assert!(Instant::now() < deadline, "the log has {} lines, not {lines}", text.lines().count());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn replay_reports_exactly_the_decisions_a_change_turns() {
    let dir = tempfile::tempdir().unwrap();
    let bank = dir.path().join("bank");
    let idp = warden_e2e::idp::bank_with_test_idp(&bank).unwrap();
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!("[decision_log]\nsink = \"file\"\npath = {:?}\ncapture = \"request\"\n", log.to_str().unwrap()),
    )
    .unwrap();
    let w = Warden::start(&bank, &["--config", config.to_str().unwrap()]).unwrap();

    let reader = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "accounts:read payments:read"}));
    let no_scope = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "profile"}));
    let rounds = 4;
    for _ in 0..rounds {
        assert_eq!(check(&w, "/v1/accounts/42", Some(&reader))["reason"], "allowed");
        assert_eq!(check(&w, "/v1/accounts/43", Some(&reader))["reason"], "no_allow_rule");
        assert_eq!(check(&w, "/v1/accounts/42", Some(&no_scope))["reason"], "insufficient_scope");
        assert_eq!(check(&w, "/v1/transfers/t-1", Some(&reader))["reason"], "allowed");
        assert_eq!(check(&w, "/v1/transfers/t-1", None)["reason"], "credentials_missing");
    }
    let lines = log_lines(&log, rounds * 5);
    // Every line carries its input, with the claims and never the token.
    let text = std::fs::read_to_string(&log).unwrap();
    for token in [&reader, &no_scope] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(signature), "a token is in the log");
    }
    let first = &lines[0]["input"];
    assert_eq!(
        (first["credential"].as_str(), first["claims"]["customer_id"].as_str()),
        (Some("bearer"), Some("42")),
        "{first}"
    );
    assert!(first["headers"].as_array().unwrap().iter().all(|h| h[0] != "authorization"), "{first}");

    // The same set: nothing changes.
    let same = replay(&log, &bank, &["--fail-on", "any"]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&same.stdout),
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(String::from_utf8_lossy(&same.stdout).starts_with(&format!(
        "{n} lines, {n} with a captured input, {n} replayed: 0 allow → deny, 0 deny → allow",
        n = rounds * 5
    )));

    // The change: the account route no longer asks for a scope (the scopeless
    // token gets in), and a deny closes transfers to customer 42.
    let changed = dir.path().join("changed");
    warden_e2e::copy_dir(&bank, &changed).unwrap();
    edit(&changed.join("accounts.warden"), "    scope \"accounts:read\"\n", "");
    edit(
        &changed.join("transfers.warden"),
        "    allow when has(claim.customer_id)\n",
        "    allow when has(claim.customer_id)\n    deny when claim.customer_id == \"42\"\n",
    );
    let out = replay(&log, &changed, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["replayed"].as_u64(), summary["captured"].as_u64()),
        (Some(rounds as u64 * 5), Some(rounds as u64 * 5))
    );
    let groups = summary["groups"].as_array().unwrap();
    let found: Vec<(&str, &str, u64)> = groups
        .iter()
        .map(|g| (g["endpoint"].as_str().unwrap(), g["direction"].as_str().unwrap(), g["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("transfers.GET /v1/transfers/{transfer_id}", "allow_to_deny", rounds as u64),
            ("accounts.GET /v1/accounts/{account_id}", "deny_to_allow", rounds as u64),
        ],
        "{summary}"
    );
    let example = &groups[0]["examples"][0];
    assert_eq!(
        (example["before"]["reason"].as_str(), example["after"]["reason"].as_str()),
        (Some("allowed"), Some("denied_by_rule"))
    );
    assert_eq!(example["what"], "GET api.bank.example/v1/transfers/t-1");
    // CI can fail on either direction.
    assert_eq!(replay(&log, &changed, &["--fail-on", "deny-to-allow"]).status.code(), Some(2));
    assert_eq!(replay(&log, &changed, &["--fail-on", "allow-to-deny"]).status.code(), Some(2));

    // A log without captured inputs: said, not guessed.
    let plain = dir.path().join("plain.jsonl");
    let stripped: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l.as_object_mut().unwrap().remove("input");
            l.to_string()
        })
        .collect();
    std::fs::write(&plain, stripped.join("\n") + "\n").unwrap();
    let none = replay(&plain, &changed, &[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&none.stderr).contains("no captured input"),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
}
