//! Traces and structured logs with real parts: `warden serve` exports its
//! spans over OTLP/gRPC to a real receiver (the collector's trace service).
//! A check sent over HTTP with a W3C `traceparent`, and one over gRPC with
//! it in the metadata, each become a request span whose parent is the
//! caller's span and a decision span under it with the route, reason,
//! decision id and revision; the decision log line carries the trace id.
//! With `[log] format = "json"`, every log line is one JSON object.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::otlp::{ReceivedSpan, Receiver};
use warden_e2e::{Warden, warden_bin};
use warden_server::grpc::pb;
use warden_server::grpc::pb::decision_client::DecisionClient;

const POLICY: &str = "zone edge {\n  require tls\n}\n\napi a in zone edge {\n  host \"api.example\"\n  auth none\n\n  route GET \"/hello\" {\n    allow when source.ip == \"198.51.100.1\"\n  }\n}\n";

fn set(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("policies");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("main.warden"), POLICY).unwrap();
    p
}

/// Waits (at most 15 s) for spans of `trace` named `name`.
fn span_of(receiver: &Receiver, trace: &str, name: &str) -> ReceivedSpan {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = receiver.spans().into_iter().find(|s| s.trace_id == trace && s.name == name) {
            return s;
        }
        assert!(Instant::now() < deadline, "no `{name}` span of trace {trace}: {:#?}", receiver.spans());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn checks_are_traced_under_the_callers_trace_over_http_and_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    let receiver = Receiver::start().unwrap();
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[traces]\nendpoint = \"http://{}\"\nservice_name = \"warden-test\"\nbatch_delay_ms = 100\n\n[decision_log]\nsink = \"file\"\npath = {:?}\n",
            receiver.addr,
            log.to_str().unwrap()
        ),
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();

    // HTTP, the caller's trace in `traceparent`.
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/hello",
        "headers": {}}, "source": {"ip": "198.51.100.1"}});
    let answer = warden_e2e::request(
        w.http,
        "POST",
        "/v1/check",
        &[("content-type", "application/json"), ("traceparent", &format!("00-{trace}-{parent}-01"))],
        Some(body.to_string().as_bytes()),
    )
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(answer["reason"], "allowed");
    let request = span_of(&receiver, trace, "POST /v1/check");
    assert_eq!((request.parent_span_id.as_str(), request.service.as_str()), (parent, "warden-test"));
    let check = span_of(&receiver, trace, "warden.check");
    assert_eq!(check.parent_span_id, request.span_id, "the decision is a child of the request");
    let attr = |k: &str| check.attributes.get(k).cloned().unwrap_or_default();
    assert_eq!(attr("warden.decision_id"), answer["decision_id"].as_str().unwrap());
    assert_eq!((attr("warden.reason").as_str(), attr("warden.allow").as_str()), ("allowed", "true"));
    assert_eq!(attr("warden.route"), answer["rule"].as_str().unwrap());
    assert_eq!(attr("warden.revision"), answer["revision"].as_str().unwrap());
    assert_eq!(attr("warden.door"), "http");

    // gRPC, the caller's trace in the metadata.
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut client = rt.block_on(DecisionClient::connect(format!("http://{}", w.grpc))).unwrap();
    let mut call = tonic::Request::new(pb::CheckRequest {
        request: Some(pb::HttpRequest {
            method: "GET".to_owned(),
            scheme: "https".to_owned(),
            host: "api.example".to_owned(),
            path: "/hello".to_owned(),
            ..Default::default()
        }),
        source: Some(pb::Source { ip: "203.0.113.5".to_owned(), ..Default::default() }),
    });
    call.metadata_mut().insert("traceparent", format!("00-{grpc_trace}-b7ad6b7169203331-01").parse().unwrap());
    let d = rt.block_on(client.check(call)).unwrap().into_inner();
    assert!(!d.allow);
    let check = span_of(&receiver, grpc_trace, "warden.check");
    assert_eq!(check.attributes.get("warden.decision_id"), Some(&d.decision_id));
    assert_eq!(check.attributes.get("warden.reason").map(String::as_str), Some("no_allow_rule"));
    assert_eq!(check.attributes.get("warden.door").map(String::as_str), Some("grpc"));
    let request = span_of(&receiver, grpc_trace, "POST /warden.v1.Decision/Check");
    assert_eq!(request.parent_span_id, "b7ad6b7169203331");

    // The decision log names each decision's trace.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines: Vec<Value> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        if lines.len() >= 2 {
            break lines;
        }
        assert!(Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let traced: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["decision_id"].as_str().unwrap_or(""), l["trace_id"].as_str().unwrap_or(""))).collect();
    assert!(traced.contains(&(answer["decision_id"].as_str().unwrap(), trace)), "{lines:?}");
    assert!(traced.contains(&(d.decision_id.as_str(), grpc_trace)), "{lines:?}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let policies = set(dir.path());
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[log]\nformat = \"json\"\nfilter = \"info\"\n").unwrap();
    let stderr = dir.path().join("stderr.log");
    let [port] = warden_e2e::free_ports::<1>().unwrap();
    let mut child = Command::new(warden_bin().unwrap())
        .args(["serve", "--policies", policies.to_str().unwrap(), "--config", config.to_str().unwrap()])
        .args(["--http", &format!("127.0.0.1:{port}"), "--grpc", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !warden_e2e::request(addr, "GET", "/readyz", &[], None).is_ok_and(|r| r.status == 200) {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = std::fs::read_to_string(&stderr).unwrap();
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(
        lines.iter().any(|l| l["level"] == "INFO" && l["message"].as_str().is_some_and(|m| m.starts_with("serving `"))),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.starts_with("HTTP on http://127.0.0.1:"))),
        "{text}"
    );
    assert!(lines.iter().all(|l| l["timestamp"].is_string()), "{text}");
}
