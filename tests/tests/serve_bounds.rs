//! End-to-end tests of `warden serve`'s bounds in time and memory: idle
//! connections are closed whatever the protocol (HTTP/2 PINGs do not keep one
//! alive), a slow decision runs off the async workers (so `/healthz` answers
//! while it runs, and the request timeout answers on time), and one large check
//! costs about its own size in memory, not a multiple of it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failure aborts the test")]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_e2e::{Warden, request};

/// A route whose rule runs 300 regexes over a header: slow on a large header
/// once the bounds are raised (the worst a check can make the engine do). Each
/// regex is within the compiler's size limit and has no literal to search for;
/// none matches, so all run.
fn policy() -> String {
    let mut rules = Vec::new();
    for k in 3..13 {
        for m in 1..31 {
            rules.push(format!(r#"matches(header["x-words"], "(?:\\w\\s?){{{k}}}[^a-z ]{{{m}}}")"#));
        }
    }
    format!(
        r#"zone open {{
}}

api public in zone open {{
  host "pub.example"
  auth none

  route GET "/words" {{
    allow when {}
  }}

  route POST "/notes" {{
    body any max 16MiB
    allow
  }}
}}
"#,
        rules.join(" or\n      ")
    )
}

fn set(dir: &Path) -> PathBuf {
    let p = dir.join("set");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("set.warden"), policy()).unwrap();
    p
}

fn config(dir: &Path, text: &str) -> String {
    let p = dir.join("warden.toml");
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// Reads until the server closes the connection; `Err` when it has not within `wait`.
fn closed_within(mut s: TcpStream, wait: Duration) -> Result<(), String> {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("still open after {wait:?}: {e}")),
        }
    }
}

#[test]
fn idle_connections_are_closed_whatever_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "[http]\nidle_timeout_ms = 300\n\n[grpc]\nidle_timeout_ms = 300\n");
    let w = Warden::start(&set(dir.path()), &["--config", &cfg]).unwrap();
    // HTTP/2 with prior knowledge (h2c, as gRPC clients speak): the preface and
    // an empty SETTINGS frame, then nothing. The server's PINGs are answered by
    // nobody here, but an idle client that answered them would be closed alike.
    let mut h2 = TcpStream::connect(w.grpc).unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
    h2.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap();
    closed_within(h2, Duration::from_secs(10)).unwrap();
    // HTTP/1.1 keep-alive: one request answered, then idle.
    let mut h1 = TcpStream::connect(w.http).unwrap();
    h1.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    h1.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    closed_within(h1, Duration::from_secs(10)).unwrap();
}

fn words_check(words: usize) -> Vec<u8> {
    // Words and nothing else: every regex runs over the whole header, most of
    // a second for all of them over a megabyte in a debug build.
    let header = "ab ".repeat(words);
    json!({"request": {"method": "GET", "scheme": "https", "host": "pub.example", "path": "/words",
        "headers": {"x-words": header}}})
    .to_string()
    .into_bytes()
}

/// Bounds raised far past the defaults, so that one check can be slow.
const RAISED: &str = "[check_limits]\nmax_header_bytes = 1000000\nmax_headers_bytes = 1000000\n";

#[test]
fn health_answers_while_slow_checks_run() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), RAISED);
    let w = Warden::start(&set(dir.path()), &["--config", &cfg]).unwrap();
    let http = w.http;
    let body = Arc::new(words_check(330_000));
    // Twice as many slow checks as the machine has workers.
    let done = Arc::new(AtomicUsize::new(0));
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let (body, done) = (body.clone(), done.clone());
            std::thread::spawn(move || {
                let r = request(http, "POST", "/v1/check", &[("content-type", "application/json")], Some(&body));
                done.fetch_add(1, Ordering::SeqCst);
                r.map(|r| r.status)
            })
        })
        .collect();
    // Let them arrive and start deciding.
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let health = request(http, "GET", "/healthz", &[], None).unwrap();
    let took = start.elapsed();
    let finished = done.load(Ordering::SeqCst);
    assert_eq!(health.status, 200);
    assert_eq!(finished, 0, "`/healthz` waited for the slow checks ({took:?})");
    eprintln!("/healthz answered in {took:?} while 4 slow checks ran");
    for t in slow {
        assert_eq!(t.join().unwrap().unwrap(), 200);
    }
}

#[test]
fn the_request_timeout_cuts_a_slow_decision_off() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &format!("[http]\nrequest_timeout_ms = 200\n\n{RAISED}"));
    let w = Warden::start(&set(dir.path()), &["--config", &cfg]).unwrap();
    let r = request(w.http, "POST", "/v1/check", &[("content-type", "application/json")], Some(&words_check(330_000)))
        .unwrap();
    assert_eq!(r.status, 408, "{:?}", r.json());
    assert!(r.json().unwrap()["error"].as_str().unwrap().contains("request_timeout_ms"));
    // The service is still whole.
    assert_eq!(w.get("/healthz").unwrap().status, 200);
}

#[test]
fn a_large_check_costs_about_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let w = Warden::start(&set(dir.path()), &[]).unwrap();
    let before = peak_kib(w.pid());
    // About 14 MiB of check (under the 16 MiB default) for 9 MiB of body text,
    // which JSON escapes (so it cannot be borrowed from the request).
    let text = "\"q\" ".repeat((14 << 20) / 6);
    let check = json!({"request": {"method": "POST", "scheme": "https", "host": "pub.example", "path": "/notes",
        "headers": {"content-type": "text/plain"}, "body": text}})
    .to_string();
    let r =
        request(w.http, "POST", "/v1/check", &[("content-type", "application/json")], Some(check.as_bytes())).unwrap();
    assert_eq!(r.json().unwrap()["reason"], "allowed");
    let grown_mib = (peak_kib(w.pid()) - before) / 1024;
    let size_mib = check.len() as u64 >> 20;
    eprintln!("a {size_mib} MiB check raised the peak resident memory by {grown_mib} MiB");
    // The request's bytes, the body text once, and the engine's own copy at most.
    assert!(grown_mib <= 3 * size_mib + 8, "{grown_mib} MiB for a {size_mib} MiB check");
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
