//! End-to-end tests of `warden serve` under hostile input: a 100 MB body over
//! HTTP (announced and chunked) and over gRPC, and thousands of connections
//! opened and left idle. Each gets an error or is cut off, the server keeps
//! serving others, and its memory stays bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failure aborts the test")]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;
use warden_e2e::{Warden, parse_response, policies};
use warden_server::grpc::pb;
use warden_server::grpc::pb::decision_client::DecisionClient;

const HUNDRED_MB: usize = 100 << 20;

fn check_ok(w: &Warden) {
    let check =
        json!({"request": {"method": "GET", "scheme": "https", "host": "api.bank.example", "path": "/v1/accounts/42"}});
    let d = w.post_json("/v1/check", &check).unwrap();
    assert_eq!(d.status, 200);
    assert_eq!(d.json().unwrap()["reason"], "credentials_missing");
}

/// A small gRPC check the bank denies for want of a token.
fn small_check() -> pb::CheckRequest {
    pb::CheckRequest {
        request: Some(pb::HttpRequest {
            method: "GET".to_owned(),
            scheme: "https".to_owned(),
            host: "api.bank.example".to_owned(),
            path: "/v1/accounts/42".to_owned(),
            ..Default::default()
        }),
        source: None,
    }
}

/// Sends `head`, then streams `total` bytes of body from another thread while
/// this one reads the answer; the server may answer (and close) early.
fn send_huge(w: &Warden, head: &str, total: usize, chunked: bool) -> warden_e2e::Response {
    let mut s = TcpStream::connect(w.http).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut writer = s.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        let block = vec![b'a'; 1 << 20];
        let mut sent = 0usize;
        while sent < total {
            let ok = if chunked {
                writer.write_all(format!("{:x}\r\n", block.len()).as_bytes()).is_ok()
                    && writer.write_all(&block).is_ok()
                    && writer.write_all(b"\r\n").is_ok()
            } else {
                writer.write_all(&block).is_ok()
            };
            if !ok {
                break; // the server answered and closed: expected
            }
            sent += block.len();
        }
        sent
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the head and a JSON body have arrived (the server may keep the
    // connection open while the client is still sending).
    while !raw.windows(4).any(|w| w == b"\r\n\r\n") || !raw.ends_with(b"}") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let sent = sender.join().unwrap();
    assert!(sent <= total);
    parse_response(&raw).unwrap()
}

#[test]
fn a_hundred_megabyte_body_is_refused_and_the_server_goes_on() {
    let w = Warden::start(&policies().join("bank"), &[]).unwrap();
    let before = w.rss_kib();

    // Announced: refused from the head alone.
    let head = format!(
        "POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {HUNDRED_MB}\r\n\r\n"
    );
    let r = send_huge(&w, &head, HUNDRED_MB, false);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    check_ok(&w);

    // Chunked: refused once the cap (16 MiB by default) is passed.
    let head =
        "POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
    let r = send_huge(&w, head, HUNDRED_MB, true);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    check_ok(&w);

    // gRPC: a 100 MB message is refused (the cap is 4 MiB), never decided.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut grpc = rt.block_on(DecisionClient::connect(format!("http://{}", w.grpc))).unwrap();
    let huge = pb::CheckRequest {
        request: Some(pb::HttpRequest {
            method: "POST".to_owned(),
            path: "/v1/transfers".to_owned(),
            body: Some(vec![b'a'; HUNDRED_MB]),
            ..Default::default()
        }),
        source: None,
    };
    let err = rt.block_on(grpc.check(huge)).unwrap_err();
    assert_eq!(err.code(), tonic::Code::OutOfRange, "{err}");
    assert_eq!(rt.block_on(grpc.check(small_check())).unwrap().into_inner().reason, "credentials_missing");
    check_ok(&w);

    // Memory stays bounded: nothing near 100 MB per refused request was kept.
    let (before, after) = (before.unwrap_or(0), w.rss_kib().unwrap_or(0));
    eprintln!("resident memory: {before} KiB before, {after} KiB after");
    assert!(after < before + 96 * 1024, "memory grew from {before} KiB to {after} KiB");
}

/// The soft limit on open files of this process (the server inherits it).
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1024)
}

#[test]
fn ten_thousand_idle_connections_do_not_stop_the_service() {
    let w = Warden::start(&policies().join("bank"), &[]).unwrap();
    let before = w.rss_kib().unwrap_or(0);
    // 10,000 where the open-file limit allows (each side holds one descriptor per
    // connection); fewer, said out loud, where it does not.
    let n = 10_000.min(open_files_limit().saturating_sub(300));
    eprintln!("opening {n} idle connections");
    let mut idle = Vec::with_capacity(n);
    let started = std::time::Instant::now();
    for i in 0..n {
        // Half on each listener.
        let addr = if i % 2 == 0 { w.http } else { w.grpc };
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(s) => idle.push(s),
            Err(e) => panic!("connection {i} refused: {e}"),
        }
    }
    eprintln!("opened in {:?}", started.elapsed());
    // Others are still served, over both doors.
    check_ok(&w);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut grpc = rt.block_on(DecisionClient::connect(format!("http://{}", w.grpc))).unwrap();
    assert_eq!(rt.block_on(grpc.check(small_check())).unwrap().into_inner().reason, "credentials_missing");
    let during = w.rss_kib().unwrap_or(0);
    eprintln!("resident memory: {before} KiB before, {during} KiB with {n} idle connections");
    // A few KiB per idle connection at most.
    let bound = u64::try_from(n).unwrap() * 8;
    assert!(during < before + bound, "memory grew from {before} KiB to {during} KiB for {n} connections");
    drop(idle);
    check_ok(&w);
}

#[test]
fn connections_over_the_cap_are_closed_and_served_again_once_others_leave() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("w.toml");
    std::fs::write(&config, "[http]\nmax_connections = 50\n").unwrap();
    let w = Warden::start(&policies().join("bank"), &["--config", config.to_str().unwrap()]).unwrap();
    // The start-up probe's connection may still be closing: wait for a free slot.
    std::thread::sleep(Duration::from_millis(200));
    let idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(w.http).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // The 51st is closed at once: a request on it gets no answer.
    let r = warden_e2e::request(w.http, "GET", "/healthz", &[], None);
    assert!(r.is_err(), "served over the cap: {r:?}");
    drop(idle);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while w.get("/healthz").is_err() {
        assert!(std::time::Instant::now() < deadline, "not served again after the idle connections left");
        std::thread::sleep(Duration::from_millis(50));
    }
    check_ok(&w);
}
