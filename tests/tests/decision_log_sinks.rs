//! Decision logs that leave the box, with real parts: `warden serve` POSTs
//! its lines in gzip'd NDJSON batches to an HTTP receiver run by the test
//! (with the bearer token of its token file); a receiver that fails at first
//! gets every line once it answers (retried), each decision exactly once; a
//! receiver that is gone costs dropped lines, counted, never a decision. The
//! file sink rotates past `max_bytes`, and a chained log goes on across the
//! files: each verifies, and so do they all end to end. `[status]` pushes
//! what `/v1/status` says to a URL at start and every interval.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::{Warden, warden_bin};

const POLICY: &str = "zone edge {\n  require tls\n}\n\napi a in zone edge {\n  host \"api.example\"\n  auth none\n\n  route GET \"/hello/{n}\" {\n    allow when source.ip == \"198.51.100.1\"\n  }\n}\n";

fn set(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("policies");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("main.warden"), POLICY).unwrap();
    p
}

fn check(w: &Warden, n: usize) -> String {
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example",
        "path": format!("/hello/{n}"), "headers": {}}, "source": {"ip": "198.51.100.1"}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()["decision_id"].as_str().unwrap().to_owned()
}

/// A request's headers (names in lower case).
type Headers = Vec<(String, String)>;

/// What the receiver got: each request's headers and its lines.
#[derive(Default)]
struct Received {
    requests: Vec<(Headers, Vec<Value>)>,
}

/// An HTTP/1.1 receiver on a loopback port: the first `fail_first` requests
/// are answered 503, the rest 204 after reading and unpacking the batch.
fn receiver(fail_first: usize) -> (u16, Arc<Mutex<Received>>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Received::default()));
    let seen = Arc::new(AtomicUsize::new(0));
    let (g, s) = (got.clone(), seen.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end().to_owned();
                    if line.is_empty() {
                        break;
                    }
                    let (n, v) = line.split_once(':').unwrap();
                    headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
                }
                let len: usize =
                    headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0u8; len];
                reader.read_exact(&mut body).unwrap();
                let n = s.fetch_add(1, Ordering::SeqCst);
                if n < fail_first {
                    let _ = stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n");
                    continue;
                }
                let gzip = headers.iter().any(|(n, v)| n == "content-encoding" && v == "gzip");
                let text = if gzip {
                    let mut out = String::new();
                    flate2::read::GzDecoder::new(&body[..]).read_to_string(&mut out).unwrap();
                    out
                } else {
                    String::from_utf8(body).unwrap()
                };
                let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
                g.lock().unwrap().requests.push((headers, lines));
                let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n");
            }
        }
    });
    (port, got, seen)
}

fn metric(w: &Warden, name: &str) -> u64 {
    let text = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).or_else(|| l.strip_prefix(&format!("{name}_total "))))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[test]
fn batches_reach_an_http_endpoint_once_each_though_it_failed_at_first() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    let (port, got, seen) = receiver(2);
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[decision_log]\nsink = \"http\"\n\n[decision_log.http]\nurl = \"http://127.0.0.1:{port}/ingest\"\nbatch_lines = 10\nbatch_interval_ms = 200\nretries = 5\ntoken_file = {:?}\n",
            token.to_str().unwrap()
        ),
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    let ids: Vec<String> = (0..25).map(|n| check(&w, n)).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let lines: Vec<Value> = loop {
        let lines: Vec<Value> = got.lock().unwrap().requests.iter().flat_map(|(_, l)| l.clone()).collect();
        if lines.len() >= ids.len() {
            break lines;
        }
        assert!(Instant::now() < deadline, "{} of {} lines arrived", lines.len(), ids.len());
        std::thread::sleep(Duration::from_millis(50));
    };
    // Every decision exactly once, though the first two POSTs were refused.
    let mut arrived: Vec<&str> = lines.iter().map(|l| l["decision_id"].as_str().unwrap()).collect();
    arrived.sort_unstable();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(arrived, expected);
    assert!(seen.load(Ordering::SeqCst) >= 5, "the refused batches were sent again");
    let received = got.lock().unwrap();
    for (headers, _) in &received.requests {
        let h = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(
            (h("content-type"), h("content-encoding"), h("authorization")),
            (Some("application/x-ndjson"), Some("gzip"), Some("Bearer s3cret-token"))
        );
    }
    drop(received);
    assert_eq!(metric(&w, "warden_decision_log_sent_lines"), 25);
    assert_eq!(metric(&w, "warden_decision_log_failed_lines"), 0);
}

#[test]
fn an_unreachable_endpoint_drops_counted_lines_and_decisions_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    // A port nothing listens on.
    let port = warden_e2e::free_port().unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!("[decision_log]\nsink = \"http\"\n\n[decision_log.http]\nurl = \"http://127.0.0.1:{port}/ingest\"\nbatch_lines = 5\nretries = 1\n"),
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    for n in 0..10 {
        assert!(!check(&w, n).is_empty());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&w, "warden_decision_log_failed_lines") < 10 {
        assert!(Instant::now() < deadline, "the lines were not counted as dropped");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(metric(&w, "warden_decision_log_sent_lines"), 0);
}

#[test]
fn a_rotated_chained_log_verifies_file_by_file_and_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[decision_log]\nsink = \"file\"\npath = {:?}\nchain = true\nmax_bytes = 4096\nmax_files = 3\n",
            log.to_str().unwrap()
        ),
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    // Every one of the 60 checks runs; the last answer's id is kept.
    let mut last = String::new();
    for n in 0..60 {
        last = check(&w, n);
    }
    // The writer is behind the answers: wait until the last decision is written
    // (into the file, or the one just rotated out).
    let deadline = Instant::now() + Duration::from_secs(10);
    let written = || {
        ["", ".1"]
            .iter()
            .any(|s| std::fs::read_to_string(format!("{}{s}", log.display())).unwrap_or_default().contains(&last))
    };
    while !written() {
        assert!(Instant::now() < deadline, "the last decision was never written");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(w);
    let files: Vec<std::path::PathBuf> = [".3", ".2", ".1", ""]
        .iter()
        .map(|s| std::path::PathBuf::from(format!("{}{s}", log.display())))
        // The file just opened by a rotation may hold nothing yet.
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.len() > 0))
        .collect();
    assert!(files.len() >= 3, "rotated: {files:?}");
    assert!(!std::path::PathBuf::from(format!("{}.4", log.display())).exists(), "more than max_files kept");
    for f in &files[..files.len() - 1] {
        assert!(std::fs::metadata(f).unwrap().len() >= 4096, "{f:?} rotated early");
    }
    let verify = |path: &Path| {
        std::process::Command::new(warden_bin().unwrap()).args(["audit", "verify"]).arg(path).output().unwrap()
    };
    for f in &files {
        let out = verify(f);
        assert!(
            out.status.success(),
            "{f:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The files in order are one chain.
    let joined = dir.path().join("joined.jsonl");
    let text: String = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    std::fs::write(&joined, text).unwrap();
    let out = verify(&joined);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && said.contains(": intact: "), "{said}{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_status_is_pushed_to_a_url_at_start_and_every_interval() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    let (port, got, _) = receiver(0);
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, format!("[status]\nurl = \"http://127.0.0.1:{port}/status\"\ninterval_ms = 200\n"))
        .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    let revision = w.get("/v1/status").unwrap().json().unwrap()["revision"].clone();
    assert!(revision.is_string());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pushed: Vec<Value> = got.lock().unwrap().requests.iter().flat_map(|(_, l)| l.clone()).collect();
        // Several pushes, the later ones with the revision in service.
        if pushed.len() >= 3 && pushed.last().is_some_and(|s| s["revision"] == revision) {
            assert!(pushed.iter().all(|s| s["source"]["kind"] == "directory"), "{pushed:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{pushed:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
