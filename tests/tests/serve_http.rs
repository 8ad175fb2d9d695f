//! `warden serve` end to end over HTTP: a real process on loopback, asked through
//! `/v1/check`, forward auth and batch; answers equal to `warden eval`'s for the same
//! request; hot reload under continuous load; config errors; graceful stop.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::{Warden, policies, request, warden_bin};

fn no_token_check() -> Value {
    json!({"request": {"method": "GET", "scheme": "https", "host": "api.bank.example", "path": "/v1/accounts/42"},
           "source": {"ip": "198.51.100.7"}})
}

#[test]
fn bank_over_http_matches_warden_eval() {
    let mut w = Warden::start(&policies().join("bank"), &[]).unwrap();
    let ready = w.get("/readyz").unwrap();
    assert_eq!(ready.status, 200);
    let revision = ready.json().unwrap()["revision"].as_str().unwrap().to_owned();
    assert_eq!(revision.len(), 64);

    // /v1/check: a request without a token is a 401 with an RFC 6750 challenge.
    let d = w.post_json("/v1/check", &no_token_check()).unwrap().json().unwrap();
    assert_eq!((d["allow"].as_bool(), d["status"].as_u64()), (Some(false), Some(401)));
    assert_eq!(d["reason"], "credentials_missing");
    assert_eq!(d["revision"], revision.as_str());
    assert_eq!(d["headers"]["www-authenticate"], "Bearer realm=\"edge\"");

    // The same request through `warden eval` decides the same.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("check.json");
    std::fs::write(&file, no_token_check().to_string()).unwrap();
    let out = Command::new(warden_bin().unwrap()).arg("eval").arg(policies().join("bank")).arg(&file).output().unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in ["allow", "status", "reason", "rule", "revision", "headers"] {
        assert_eq!(cli[field], d[field], "{field}");
    }

    // Forward auth: the same decision, as a status and headers for the gateway.
    let fa = request(
        w.http,
        "GET",
        "/v1/forward-auth",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/v1/accounts/42"),
            ("x-forwarded-host", "api.bank.example"),
            ("x-forwarded-proto", "https"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(fa.status, 401);
    assert_eq!(fa.header("www-authenticate"), Some("Bearer realm=\"edge\""));
    assert_eq!(fa.json().unwrap()["reason"], "credentials_missing");
    // A forward-auth call that does not say what was asked is a 400, not an allow.
    let bare = request(w.http, "GET", "/v1/forward-auth", &[], None).unwrap();
    assert_eq!(bare.status, 400);
    assert!(bare.json().unwrap()["error"].as_str().unwrap().contains("X-Forwarded-Method"));

    // Batch: answers in order, either kind of check.
    let batch = json!([no_token_check(),
        {"request": {"method": "GET", "scheme": "https", "host": "api.bank.example", "path": "/nowhere"}},
        {"resource": {"type": "nothing"}, "action": "read"}]);
    let answers = w.post_json("/v1/check/batch", &batch).unwrap().json().unwrap();
    let reasons: Vec<&str> = answers.as_array().unwrap().iter().map(|a| a["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["credentials_missing", "route_not_found", "route_not_found"]);

    // Malformed checks: 400 with a JSON error naming the problem.
    for (path, body) in [
        ("/v1/check", json!({"request": {"method": "GET"}})),
        ("/v1/check", json!({"bogus": true})),
        ("/v1/check/resource", json!({"action": "read"})),
        ("/v1/check/batch", json!({"not": "a list"})),
    ] {
        let r = w.post_json(path, &body).unwrap();
        assert_eq!(r.status, 400, "{path} {body}");
        assert!(r.json().unwrap()["error"].as_str().is_some_and(|e| e.contains("malformed")), "{path}");
    }
    let garbage =
        request(w.http, "POST", "/v1/check", &[("content-type", "application/json")], Some(b"\x00\xff{{{")).unwrap();
    assert_eq!(garbage.status, 400);

    // Operations: policy status and metrics reflect what happened.
    let p = w.get("/v1/policy").unwrap().json().unwrap();
    assert_eq!(p["revision"], revision.as_str());
    assert!(p["files"].as_array().unwrap().iter().any(|f| f.as_str().unwrap().ends_with("accounts.warden")));
    assert!(p["last_reload_error"].is_null());
    let m = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    assert!(m.contains("warden_decisions_total{result=\"deny\",reason=\"credentials_missing\"} 3"), "{m}");
    assert!(m.contains("warden_reloads_total{result=\"ok\"} 1"), "{m}");
    assert!(m.contains(&format!("warden_policy_revision{{revision=\"{revision}\"}} 1")), "{m}");

    // SIGTERM: a clean exit.
    assert_eq!(w.stop(), Some(0));
}

/// `POST path` with `body` sent as it is (not re-encoded).
fn post_raw(w: &Warden, path: &str, body: &str) -> warden_e2e::Response {
    request(w.http, "POST", path, &[("content-type", "application/json")], Some(body.as_bytes())).unwrap()
}

#[test]
fn an_array_in_place_of_a_json_object_is_a_400_not_a_decision() {
    let w = Warden::start(&policies().join("bank"), &[]).unwrap();
    let me = r#"{"method":"GET","scheme":"https","host":"id.example.com","path":"/v1/me"}"#;
    // Serde would read a struct from an array of its fields in order: every
    // object of the documented formats refuses one, as any malformed check.
    for (path, body, needle) in [
        ("/v1/check", format!(r#"{{"request":{me},"source":[null,null]}}"#), "`source` must be a JSON object"),
        ("/v1/check", r#"[{"method":"GET","scheme":"https","path":"/x"}]"#.to_owned(), "must be a JSON object"),
        ("/v1/check", r#" [{"method":"GET","scheme":"https","path":"/x"}, null]"#.to_owned(), "must be a JSON object"),
        ("/v1/check", r#"{"request":["GET","https","h","/x"]}"#.to_owned(), "`request` must be a JSON object"),
        (
            "/v1/check/resource",
            r#"{"resource":{"type":"note","id":"n7"},"action":"read","source":[null,null]}"#.to_owned(),
            "`source` must be a JSON object",
        ),
        ("/v1/check/resource", r#"[{"type":"note","id":"n7"},"read"]"#.to_owned(), "must be a JSON object"),
        ("/v1/check/resource", r#"{"resource":["note","n7"],"action":"read"}"#.to_owned(), "`resource` must be"),
        (
            "/v1/check/resource",
            r#"{"resource":{"type":"note"},"action":"read","subject":["ada",{}]}"#.to_owned(),
            "`subject` must be a JSON object",
        ),
        ("/v1/check/batch", format!(r#"[{{"request":{me},"source":[null,null]}}]"#), "check 0: malformed check"),
        ("/v1/check/batch", format!(r#"[{{"request":{me}}},[{me}]]"#), "check 1: the check is not a JSON object"),
        (
            "/access/v1/evaluation",
            r#"[{"type":"user","id":"ada"},{"name":"read"},{"type":"doc","id":"1"}]"#.to_owned(),
            "must be a JSON object",
        ),
        (
            "/access/v1/evaluation",
            r#"{"subject":{"type":"user","id":"ada"},"action":["read"],"resource":{"type":"doc","id":"1"}}"#.to_owned(),
            "`action` must be a JSON object",
        ),
        (
            "/access/v1/evaluations",
            r#"{"subject":["user","ada"],"action":{"name":"read"},"resource":{"type":"doc","id":"1"}}"#.to_owned(),
            "`subject` must be a JSON object",
        ),
        (
            "/access/v1/evaluations",
            r#"{"subject":{"type":"user","id":"ada"},"action":{"name":"read"},"evaluations":[["doc","1"]]}"#.to_owned(),
            "each of `evaluations` must be a JSON object",
        ),
    ] {
        let r = post_raw(&w, path, &body);
        assert_eq!(r.status, 400, "{path} {body}");
        let e = r.json().unwrap();
        assert!(e["error"].as_str().is_some_and(|e| e.contains(needle)), "{path} {body}: {e}");
        assert!(e.get("allow").is_none() && e.get("decision").is_none(), "{e}");
    }
    // The object forms are judged as before.
    for (path, body) in [
        ("/v1/check", format!(r#"{{"request":{me},"source":{{}}}}"#)),
        ("/v1/check", format!(r#"{{"request":{me},"source":null}}"#)),
        ("/v1/check", format!(r#" {{"request":{me}}}"#)),
        ("/v1/check/resource", r#"{"resource":{"type":"note","id":"n7"},"action":"read","source":{}}"#.to_owned()),
        (
            "/v1/check/resource",
            r#"{"resource":{"type":"note","id":"n7"},"action":"read","subject":{"id":"a"}}"#.to_owned(),
        ),
    ] {
        let r = post_raw(&w, path, &body);
        assert_eq!(r.status, 200, "{path} {body}");
        assert!(r.json().unwrap()["allow"].is_boolean(), "{path} {body}");
    }
    let batch = post_raw(&w, "/v1/check/batch", &format!(r#"[{{"request":{me},"source":{{}}}}]"#));
    assert_eq!(batch.status, 200);
    assert_eq!(batch.json().unwrap().as_array().map(Vec::len), Some(1));
    let authzen = post_raw(
        &w,
        "/access/v1/evaluations",
        r#"{"subject":{"type":"user","id":"ada"},"action":{"name":"read"},"evaluations":[{"resource":{"type":"doc","id":"1"}}]}"#,
    );
    assert_eq!(authzen.status, 200);
    assert!(authzen.json().unwrap()["evaluations"][0]["decision"].is_boolean());
}

const ZONE: &str = "zone z {\n  require tls\n}\n\n";

fn variant(route: &str) -> String {
    format!("{ZONE}api a in zone z {{\n  host \"h\"\n  auth none\n  route GET \"{route}\" {{\n    allow\n  }}\n}}\n")
}

/// Replaces the file the way deploy tools do (write aside, rename over).
fn put(dir: &Path, text: &str) {
    let tmp = dir.join(".policy.tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join("policy.warden")).unwrap();
}

fn wait_for_revision(w: &Warden, not: Option<&str>) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = w.get("/v1/policy").unwrap().json().unwrap();
        if let Some(r) = p["revision"].as_str()
            && Some(r) != not
        {
            return r.to_owned();
        }
        assert!(Instant::now() < deadline, "no new revision: {p}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hot_reload_under_load_fails_no_request_and_answers_match_their_revision() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), &variant("/a"));
    let w = Warden::start(dir.path(), &[]).unwrap();
    let rev_a = wait_for_revision(&w, None);
    put(dir.path(), &variant("/b"));
    let rev_b = wait_for_revision(&w, Some(&rev_a));

    // A broken version keeps B in service and reports why.
    put(dir.path(), "api broken {\n");
    let deadline = Instant::now() + Duration::from_secs(20);
    let p = loop {
        let p = w.get("/v1/policy").unwrap().json().unwrap();
        if !p["last_reload_error"].is_null() {
            break p;
        }
        assert!(Instant::now() < deadline, "the failed reload was not reported");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(p["revision"], rev_b.as_str());
    assert!(p["last_reload_error"].as_str().unwrap().contains("policy.warden:"), "{p}");
    // The same as data, located as `warden check --format json` locates it.
    let d = &p["last_reload_diagnostics"][0];
    assert!(d["file"].as_str().unwrap().ends_with("policy.warden"), "{p}");
    assert_eq!(
        (&d["line"], &d["column"], &d["code"], &d["severity"]),
        (&json!(1), &json!(12), &json!("E0126"), &json!("error")),
        "{p}"
    );
    assert_eq!(d["message"], "unclosed `{`", "{p}");

    // Load: clients ask continuously while the file is rewritten 50 times.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let addr = w.http;
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, failures, answered) = (stop.clone(), failures.clone(), answered.clone());
            let (rev_a, rev_b) = (rev_a.clone(), rev_b.clone());
            std::thread::spawn(move || {
                let check =
                    json!({"request": {"method": "GET", "scheme": "https", "host": "h", "path": "/a"}}).to_string();
                while !stop.load(Ordering::Relaxed) {
                    let r = request(
                        addr,
                        "POST",
                        "/v1/check",
                        &[("content-type", "application/json")],
                        Some(check.as_bytes()),
                    );
                    let Ok(r) =
                        r.and_then(|r| if r.status == 200 { r.json() } else { Err(format!("status {}", r.status)) })
                    else {
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    // /a exists in A only: every answer agrees with the revision it names.
                    let consistent = match r["revision"].as_str() {
                        Some(rev) if rev == rev_a => r["allow"] == true,
                        Some(rev) if rev == rev_b => r["reason"] == "route_not_found",
                        _ => false,
                    };
                    if !consistent {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..50 {
        match i % 4 {
            0 => put(dir.path(), &variant("/a")),
            2 => put(dir.path(), &variant("/b")),
            _ => put(dir.path(), "api broken {\n  route\n"),
        }
        std::thread::sleep(Duration::from_millis(60));
    }
    // End on A, and wait until it is in service.
    put(dir.path(), &variant("/a"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while w.get("/v1/policy").unwrap().json().unwrap()["revision"] != rev_a.as_str() {
        assert!(Instant::now() < deadline, "A never came back");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(failures.load(Ordering::Relaxed), 0, "failed or inconsistent answers");
    assert!(answered.load(Ordering::Relaxed) > 100, "only {} answers", answered.load(Ordering::Relaxed));
    let m = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    assert!(m.contains("warden_reloads_total{result=\"failed\"}"), "{m}");
}

#[test]
fn sighup_forces_a_reload_and_config_errors_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), &variant("/a"));
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[reload]\nwatch = false\n").unwrap();
    let w = Warden::start(dir.path(), &["--config", config.to_str().unwrap()]).unwrap();
    let rev_a = wait_for_revision(&w, None);
    // Not watched: a change alone is not picked up...
    put(dir.path(), &variant("/b"));
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(w.get("/v1/policy").unwrap().json().unwrap()["revision"], rev_a.as_str());
    // ...until SIGHUP.
    assert!(w.signal("HUP"));
    let rev_b = wait_for_revision(&w, Some(&rev_a));
    assert_ne!(rev_a, rev_b);

    std::fs::write(&config, "[http]\naddr = \"127.0.0.1:0\"\nprot = 1\n").unwrap();
    let out =
        Command::new(warden_bin().unwrap()).args(["serve", "--config", config.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warden.toml:3:1:") && err.contains("unknown field `prot`"), "{err}");
}

#[test]
fn the_decision_log_has_one_line_per_decision_and_never_the_token_or_body() {
    let dir = tempfile::tempdir().unwrap();
    let bank = dir.path().join("bank");
    let idp = warden_e2e::idp::bank_with_test_idp(&bank).unwrap();
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, format!("[decision_log]\nsink = \"file\"\npath = {:?}\n", log.to_str().unwrap())).unwrap();
    let w = Warden::start(&bank, &["--config", config.to_str().unwrap()]).unwrap();
    let secret_token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2VjcmV0LXNpZ25hdHVyZQ";
    let check = json!({"request": {"method": "POST", "scheme": "https", "host": "api.bank.example", "path": "/v1/transfers?token=q",
        "headers": {"authorization": format!("Bearer {secret_token}"), "content-type": "application/json"},
        "body": "{\"password\": \"hunter2-body-secret\"}"}, "source": {"ip": "198.51.100.7"}});
    let d = w.post_json("/v1/check", &check).unwrap().json().unwrap();
    assert_eq!(d["allow"], false);
    // An allowed transfer with a real token: the log names the subject and the
    // client, never the token or the body.
    let good = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "payments:write", "client_id": "app-7"}));
    let body = json!({"from_account": "42", "amount": 12.5, "currency": "EUR",
        "payee": {"name": "Ada Secretpayee", "iban": "DE89370400440532013000"}})
    .to_string();
    let allowed = json!({"request": {"method": "POST", "scheme": "https", "host": "api.bank.example",
        "path": "/v1/transfers", "headers": {"authorization": format!("Bearer {good}"),
        "content-type": "application/json"}, "body": body}, "source": {"ip": "198.51.100.7"}});
    let a = w.post_json("/v1/check", &allowed).unwrap().json().unwrap();
    assert_eq!(a["allow"], true, "{a}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.ends_with('\n') && text.lines().count() >= 2 {
            break text;
        }
        assert!(Instant::now() < deadline, "nothing logged");
        std::thread::sleep(Duration::from_millis(50));
    };
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let line: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["decision_id"], d["decision_id"]);
    assert_eq!(line["revision"], d["revision"]);
    assert_eq!(line["reason"], d["reason"]);
    assert_eq!(line["path"], "/v1/transfers", "no query in the log");
    assert_eq!(line["source_ip"], "198.51.100.7");
    assert_eq!(line["door"], "http");
    assert!(line.get("sub").is_none(), "no subject without authentication: {line}");
    let line: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(line["decision_id"], a["decision_id"]);
    assert_eq!(line["allow"], true);
    assert_eq!(line["sub"], "u-42");
    assert_eq!(line["client_id"], "app-7");
    let signature = good.rsplit('.').next().unwrap();
    for secret in [secret_token, "c2VjcmV0LXNpZ25hdHVyZQ", "hunter2", "token=q", &good, signature, "Secretpayee"] {
        assert!(!text.contains(secret), "`{secret}` leaked into the log: {text}");
    }
}

#[test]
fn slow_and_idle_clients_are_cut_off_while_others_are_served() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[http]\nheader_timeout_ms = 500\nrequest_timeout_ms = 1000\n").unwrap();
    let w = Warden::start(&policies().join("bank"), &["--config", config.to_str().unwrap()]).unwrap();
    // 200 connections that never finish their request head, and 50 that send nothing.
    let mut slow = Vec::new();
    for i in 0..250 {
        let mut s = std::net::TcpStream::connect(w.http).unwrap();
        if i < 200 {
            s.write_all(b"POST /v1/check HTTP/1.1\r\nhost: x\r\n").unwrap();
        }
        slow.push(s);
    }
    // One that sends its head and then trickles its body gets a 408.
    let mut trickle = std::net::TcpStream::connect(w.http).unwrap();
    trickle
        .write_all(
            b"POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
        )
        .unwrap();
    // Others are served meanwhile.
    let d = w.post_json("/v1/check", &no_token_check()).unwrap();
    assert_eq!(d.status, 200);
    // Every stalled connection is closed by the server within a few seconds.
    let start = Instant::now();
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        // EOF (or a reset, or a 408) rather than a read timeout.
        match s.read_to_end(&mut buf) {
            Ok(_) => {}
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "a stalled connection stayed open"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    trickle.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = [0u8; 12];
    trickle.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 408");
    assert_eq!(w.post_json("/v1/check", &no_token_check()).unwrap().status, 200);
}
