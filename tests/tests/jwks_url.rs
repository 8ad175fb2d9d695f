//! `warden serve` with a `jwks url` issuer, end to end: a tiny JWKS server on loopback
//! serves whatever key set the test holds; tokens signed by the served key are allowed,
//! a rotated-in key is picked up, a removed key is refused `key_unknown` (even for a
//! token the service had accepted and cached), and with the JWKS server gone the last
//! good keys keep working, across a policy reload too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::Warden;
use warden_e2e::idp::TestIdp;

const ISS: &str = "https://idp.example";
const AUD: &str = "https://api.example";

/// Serves the current document at any path until stopped; counts requests.
struct JwksServer {
    port: u16,
    doc: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JwksServer {
    fn start(doc: &Value) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let doc = Arc::new(Mutex::new(doc.to_string()));
        let stop = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let (d, s, h) = (doc.clone(), stop.clone(), hits.clone());
        let thread = std::thread::spawn(move || {
            // The listener is dropped when the loop ends: connections are refused.
            while !s.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                h.fetch_add(1, Ordering::SeqCst);
                let body = d.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        JwksServer { port, doc, stop, hits, thread: Some(thread) }
    }

    fn set(&self, doc: &Value) {
        *self.doc.lock().unwrap() = doc.to_string();
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The keys of several test IdPs as one set.
fn key_set(idps: &[&TestIdp]) -> Value {
    let keys: Vec<Value> = idps.iter().flat_map(|i| i.jwks()["keys"].as_array().unwrap().clone()).collect();
    json!({ "keys": keys })
}

fn policy(port: u16, comment: &str) -> String {
    format!(
        "// {comment}\nzone edge {{\n  issuer \"{ISS}\" {{\n    jwks url \"http://127.0.0.1:{port}/jwks.json\" refresh 1s\n    audience \"{AUD}\"\n    algorithms RS256\n  }}\n}}\n\napi things in zone edge {{\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/things\" {{\n    allow\n  }}\n}}\n"
    )
}

/// `(allow, reason)` of `GET /things` with `token`.
fn decide(w: &Warden, token: &str) -> (bool, String) {
    w.bearer_check("api.example", "/things", token).unwrap()
}

/// Polls `decide` until it gives `want` (at most 10 s); the last answer otherwise.
fn until(w: &Warden, token: &str, want: (bool, &str)) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = decide(w, token);
        if (got.0, got.1.as_str()) == want || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A counter's value in `/metrics`.
fn metric(w: &Warden, name: &str) -> u64 {
    let text = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn revision(w: &Warden) -> String {
    w.get("/readyz").unwrap().json().unwrap()["revision"].as_str().unwrap_or("").to_owned()
}

#[test]
fn jwks_url_keys_are_fetched_rotated_retired_and_kept_when_the_issuer_is_down() {
    let started = Instant::now();
    let k1 = TestIdp::new(ISS, AUD, "k1").unwrap();
    let k2 = TestIdp::new(ISS, AUD, "k2").unwrap();
    let mut idp = JwksServer::start(&key_set(&[&k1]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("api.warden"), policy(idp.port, "first")).unwrap();
    let w = Warden::start(dir.path(), &[]).unwrap();

    // The key set was fetched before the revision was published.
    let old = k1.mint(&json!({"sub": "alice"}));
    assert_eq!(until(&w, &old, (true, "allowed")), (true, "allowed".to_owned()));
    assert!(idp.hits.load(Ordering::SeqCst) >= 1);
    assert!(metric(&w, "warden_jwks_fetches_total") >= 1);
    // A token of a key the issuer does not publish is refused.
    let stranger = TestIdp::new(ISS, AUD, "k9").unwrap().mint(&json!({"sub": "mallory"}));
    assert_eq!(decide(&w, &stranger), (false, "key_unknown".to_owned()));

    // The issuer adds k2: a k2 token is allowed once the keys are refetched.
    idp.set(&key_set(&[&k1, &k2]));
    let new = k2.mint(&json!({"sub": "bob"}));
    assert_eq!(until(&w, &new, (true, "allowed")), (true, "allowed".to_owned()));
    assert_eq!(decide(&w, &old), (true, "allowed".to_owned()));

    // The issuer retires k1: after the refresh period, the k1 token the service
    // accepted (and cached) before is refused.
    idp.set(&key_set(&[&k2]));
    assert_eq!(until(&w, &old, (false, "key_unknown")), (false, "key_unknown".to_owned()));
    assert_eq!(decide(&w, &new), (true, "allowed".to_owned()));

    // The issuer goes away: refreshes fail (counted), the last good keys stay.
    idp.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&w, "warden_jwks_fetch_failures_total") < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(metric(&w, "warden_jwks_fetch_failures_total") >= 2);
    assert_eq!(decide(&w, &k2.mint(&json!({"sub": "carol"}))), (true, "allowed".to_owned()));
    assert_eq!(decide(&w, &old), (false, "key_unknown".to_owned()));

    // A policy reload while the issuer is down starts the new revision with the
    // last good keys (k2), not with none.
    let before = revision(&w);
    std::fs::write(dir.path().join("api.warden"), policy(idp.port, "second")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while revision(&w) == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ne!(revision(&w), before, "the edited policy was not reloaded");
    assert_eq!(decide(&w, &k2.mint(&json!({"sub": "dave"}))), (true, "allowed".to_owned()));
    assert_eq!(decide(&w, &old), (false, "key_unknown".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}
