//! The tamper-evident decision log with real parts: a real `warden serve`
//! (restarted once) writes a chained log with checkpoints signed by its
//! `[issuer]` key; `warden audit verify` finds it intact with the service's
//! published key set, and names the line where a copy was edited, had a line
//! removed or two lines swapped. A copy edited and re-chained by hand (what
//! someone without the key can do) still fails at the next checkpoint, or,
//! with the checkpoints after the edit dropped, where one is overdue; a key
//! set that is not the service's verifies no checkpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::{Warden, warden_bin};

fn verify(log: &Path, jwks: &Path) -> Output {
    Command::new(warden_bin().unwrap()).args(["audit", "verify"]).arg(log).arg("--jwks").arg(jwks).output().unwrap()
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn hex_sha256(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Waits until `log` has `n` decision lines (lines with a `decision_id`).
fn wait_for(log: &Path, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.ends_with('\n') && text.lines().filter(|l| l.contains("\"decision_id\"")).count() >= n {
            return;
        }
        assert!(Instant::now() < deadline, "the log has not {n} decisions:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn checks(w: &Warden, n: usize) {
    for i in 0..n {
        let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.bank.example",
            "path": format!("/v1/transfers/t-{i}"), "headers": {}}, "source": {"ip": "198.51.100.7"}});
        let d = w.post_json("/v1/check", &body).unwrap().json().unwrap();
        assert_eq!(d["reason"], "credentials_missing", "{d}");
    }
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_chained_log_is_verified_and_every_kind_of_tampering_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("issuer.pem");
    assert!(warden_e2e::generate_key(&key).unwrap().0);
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[decision_log]\nsink = \"file\"\npath = {:?}\nchain = true\ncheckpoint_every = 5\n\n{}",
            log.to_str().unwrap(),
            warden_e2e::issuer_section("http://127.0.0.1:1", &[(&key, "active")])
        ),
    )
    .unwrap();
    let policies = warden_e2e::policies().join("bank");
    let mut w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, w.get("/.well-known/jwks.json").unwrap().body).unwrap();
    checks(&w, 12);
    wait_for(&log, 12);
    // A restart goes on with the same chain.
    assert_eq!(w.stop(), Some(0));
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    checks(&w, 6);
    wait_for(&log, 18);
    drop(w);

    let out = verify(&log, &jwks);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(": intact: ") && text.contains("2 service starts"), "{text}");
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(str::to_owned).collect();
    let parsed: Vec<Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    let checkpoints = parsed.iter().filter(|l| l["event"] == "checkpoint").count();
    assert!(checkpoints >= 3, "one every 5 entries: {checkpoints}");
    assert!(text.contains(&format!("{checkpoints} checkpoints verified")), "{text}");
    // The line to tamper with: a decision with checkpoints after it.
    let target = parsed.iter().position(|l| l.get("decision_id").is_some()).unwrap() + 1;
    let copy = dir.path().join("copy.jsonl");
    let line_no = target + 1; // 1-based

    // Edited: the next line's `prev` no longer matches.
    let mut edited = lines.clone();
    edited[target] = edited[target].replace("\"allow\":false", "\"allow\":true");
    assert_ne!(edited[target], lines[target]);
    write_lines(&copy, &edited);
    let out = verify(&copy, &jwks);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains(&format!("line {}: `prev` is not the hash of the line before", line_no + 1)),
        "{}",
        said(&out)
    );

    // Removed.
    let mut removed = lines.clone();
    removed.remove(target);
    write_lines(&copy, &removed);
    let out = verify(&copy, &jwks);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        said(&out).contains(&format!("line {line_no}: seq")) && said(&out).contains("1 entry was removed before it"),
        "{}",
        said(&out)
    );

    // Swapped with the next line.
    let mut swapped = lines.clone();
    swapped.swap(target, target + 1);
    write_lines(&copy, &swapped);
    let out = verify(&copy, &jwks);
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("removed before it") || said(&out).contains("reordered"), "{}", said(&out));

    // Edited and re-chained by hand: every `prev` recomputed after the edit.
    // The chain holds, the next checkpoint does not.
    let mut forged = edited.clone();
    for i in target + 1..forged.len() {
        let mut entry: Value = serde_json::from_str(&forged[i]).unwrap();
        let prev = hex_sha256(&forged[i - 1]);
        entry["prev"] = json!(prev);
        // Kept in the service's layout: `seq` and `prev` first.
        let rest = serde_json::to_string(&entry).unwrap();
        let mut map: serde_json::Map<String, Value> = serde_json::from_str(&rest).unwrap();
        let seq = map.remove("seq").unwrap();
        map.remove("prev");
        let body = Value::Object(map).to_string();
        forged[i] = format!("{{\"seq\":{seq},\"prev\":\"{prev}\",{}", &body[1..]);
    }
    write_lines(&copy, &forged);
    let out = verify(&copy, &jwks);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("the checkpoint signs seq"), "{}", said(&out));
    assert!(!said(&out).contains("`prev` is not the hash"), "the forged chain itself holds: {}", said(&out));

    // Edited, every checkpoint after the edit dropped, and the rest renumbered
    // and re-chained: the chain holds, and a checkpoint is overdue.
    let mut rechained: Vec<String> = edited[..target + 1].to_vec();
    let mut seq = parsed[target]["seq"].as_u64().unwrap();
    for line in &edited[target + 1..] {
        let mut map: serde_json::Map<String, Value> = serde_json::from_str(line).unwrap();
        if map.get("event").and_then(Value::as_str) == Some("checkpoint") {
            continue;
        }
        seq += 1;
        map.remove("seq");
        map.remove("prev");
        let body = Value::Object(map).to_string();
        let prev = hex_sha256(rechained.last().unwrap());
        rechained.push(format!("{{\"seq\":{seq},\"prev\":\"{prev}\",{}", &body[1..]));
    }
    write_lines(&copy, &rechained);
    let out = verify(&copy, &jwks);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("no checkpoint in the 5 lines before it"), "{}", said(&out));
    assert!(!said(&out).contains("`prev` is not the hash") && !said(&out).contains("follows seq"), "{}", said(&out));

    // Another key set: no checkpoint verifies.
    let other_key = dir.path().join("other.pem");
    assert!(warden_e2e::generate_key(&other_key).unwrap().0);
    let mut jwk: Value = serde_json::from_slice(&std::fs::read(&jwks).unwrap()).unwrap();
    // The same `kid` with another key's public part: a swapped key set.
    let other_config = dir.path().join("other.toml");
    std::fs::write(&other_config, warden_e2e::issuer_section("http://127.0.0.1:1", &[(&other_key, "active")])).unwrap();
    let other = Warden::start(&policies, &["--config", other_config.to_str().unwrap()]).unwrap();
    let other_jwks: Value = other.get("/.well-known/jwks.json").unwrap().json().unwrap();
    let kid = jwk["keys"][0]["kid"].clone();
    jwk["keys"][0] = other_jwks["keys"][0].clone();
    jwk["keys"][0]["kid"] = kid;
    let swapped_jwks = dir.path().join("swapped.json");
    std::fs::write(&swapped_jwks, jwk.to_string()).unwrap();
    let out = verify(&log, &swapped_jwks);
    assert_eq!(out.status.code(), Some(1));
    assert!(said(&out).contains("the checkpoint does not verify: the signature is not key"), "{}", said(&out));
}
