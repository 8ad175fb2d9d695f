//! Shadow mode with real parts: a real `warden serve` judges every check with
//! a candidate set beside the live one. Under load from four clients, with a
//! candidate that disagrees on a known half of the requests (a quarter it
//! would deny, a quarter it would allow), every answer stays the live set's,
//! and the metrics, `/v1/policy` and the decision log count exactly those
//! disagreements. Promoting the candidate (its files into the live set, hot
//! reloaded) ends them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::Warden;

fn check(w: &Warden, path: &str, token: Option<&str>) -> Value {
    check_from(w, path, token, "198.51.100.7")
}

/// A check from `ip` (each client of the load has addresses of its own, so the
/// per-address limit stays out of the way).
fn check_from(w: &Warden, path: &str, token: Option<&str>, ip: &str) -> Value {
    let mut headers = json!({});
    if let Some(t) = token {
        headers["authorization"] = json!(format!("Bearer {t}"));
    }
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.bank.example", "path": path,
        "headers": headers}, "source": {"ip": ip}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

/// `/v1/policy`'s shadow counts once `total` checks were judged again.
fn shadow_after(w: &Warden, total: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let policy = w.get("/v1/policy").unwrap().json().unwrap();
        let s = &policy["shadow"];
        let seen: u64 = ["agreed", "disagreed", "skipped", "dropped"].iter().map(|k| s[k].as_u64().unwrap()).sum();
        if seen >= total {
            return policy;
        }
        assert!(Instant::now() < deadline, "the shadow judged {seen} of {total}: {policy}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no `{line_start}` in the metrics:\n{text}"))
}

#[test]
fn the_shadow_candidate_counts_its_disagreements_and_changes_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("bank");
    let idp = warden_e2e::idp::bank_with_test_idp(&live).unwrap();
    let candidate = dir.path().join("candidate");
    warden_e2e::copy_dir(&live, &candidate).unwrap();
    edit(&candidate.join("accounts.warden"), "    scope \"accounts:read\"\n", "");
    edit(
        &candidate.join("transfers.warden"),
        "    allow when has(claim.customer_id)\n",
        "    allow when has(claim.customer_id)\n    deny when claim.customer_id == \"42\"\n",
    );
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[decision_log]\nsink = \"file\"\npath = {:?}\n\n[shadow]\npolicies = {:?}\n",
            log.to_str().unwrap(),
            candidate.to_str().unwrap()
        ),
    )
    .unwrap();
    let w = Warden::start(&live, &["--config", config.to_str().unwrap()]).unwrap();
    let policy = w.get("/v1/policy").unwrap().json().unwrap();
    assert!(policy["shadow"]["revision"].is_string(), "the candidate is loaded: {policy}");
    assert_ne!(policy["shadow"]["revision"], policy["revision"]);

    // Each token names its own client: `per_client` counts them apart.
    let t42 = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "payments:read", "client_id": "app-42"}));
    let t7 = idp.mint(&json!({"sub": "u-7", "customer_id": "7", "scope": "payments:read", "client_id": "app-7"}));
    let no_scope = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "profile", "client_id": "app-x"}));
    let per_client = 100;
    std::thread::scope(|s| {
        for client in 0..4 {
            let (t42, t7, no_scope) = (&t42, &t7, &no_scope);
            let w = &w;
            s.spawn(move || {
                for i in 0..per_client {
                    let (path, token, live_reason) = match i % 4 {
                        0 => ("/v1/transfers/t-1", Some(t42.as_str()), "allowed"),
                        1 => ("/v1/transfers/t-2", Some(t7.as_str()), "allowed"),
                        2 => ("/v1/accounts/42", Some(no_scope.as_str()), "insufficient_scope"),
                        _ => ("/v1/transfers/t-3", None, "credentials_missing"),
                    };
                    // The live set answers, whatever the candidate thinks.
                    let ip = format!("198.18.{client}.{i}");
                    assert_eq!(check_from(w, path, token, &ip)["reason"], live_reason);
                }
            });
        }
    });
    let total = 4 * per_client;
    let policy = shadow_after(&w, total);
    let shadow = &policy["shadow"];
    assert_eq!(
        (
            shadow["agreed"].as_u64(),
            shadow["disagreed"].as_u64(),
            shadow["skipped"].as_u64(),
            shadow["dropped"].as_u64()
        ),
        (Some(total / 2), Some(total / 2), Some(0), Some(0)),
        "{policy}"
    );
    let metrics = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    let quarter = total / 4;
    assert_eq!(
        metric(
            &metrics,
            "warden_shadow_disagreements_total{endpoint=\"transfers.GET /v1/transfers/{transfer_id}\",direction=\"allow_to_deny\"}"
        ),
        quarter
    );
    assert_eq!(
        metric(
            &metrics,
            "warden_shadow_disagreements_total{endpoint=\"accounts.GET /v1/accounts/{account_id}\",direction=\"deny_to_allow\"}"
        ),
        quarter
    );
    assert_eq!(metric(&metrics, "warden_shadow_checks_total{outcome=\"agree\"}"), total / 2);
    // Each disagreement is a decision log line of its own, next to the live decision's.
    let deadline = Instant::now() + Duration::from_secs(10);
    let shadow_lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l.get("shadow").is_some())
            .collect();
        if lines.len() as u64 >= total / 2 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(shadow_lines.len() as u64, total / 2);
    let denied: Vec<&Value> = shadow_lines.iter().filter(|l| l["shadow"]["direction"] == "allow_to_deny").collect();
    assert_eq!(denied.len() as u64, quarter);
    assert_eq!(
        (denied[0]["live"]["reason"].as_str(), denied[0]["shadow"]["reason"].as_str()),
        (Some("allowed"), Some("denied_by_rule"))
    );

    // Promote: the candidate's files become the live set's (hot reloaded). The
    // revision is the content's digest, so both now have the same one, and
    // they no longer disagree.
    for file in ["accounts.warden", "transfers.warden"] {
        std::fs::copy(candidate.join(file), live.join(file)).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let policy = w.get("/v1/policy").unwrap().json().unwrap();
        if policy["revision"] == policy["shadow"]["revision"] {
            break;
        }
        assert!(Instant::now() < deadline, "not promoted: {policy}");
        std::thread::sleep(Duration::from_millis(100));
    }
    for _ in 0..10 {
        assert_eq!(check(&w, "/v1/transfers/t-1", Some(&t42))["reason"], "denied_by_rule");
        assert_eq!(check(&w, "/v1/accounts/42", Some(&no_scope))["reason"], "allowed");
    }
    let policy = shadow_after(&w, total + 20);
    assert_eq!(policy["shadow"]["disagreed"].as_u64(), Some(total / 2), "{policy}");
}
