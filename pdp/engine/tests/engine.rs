//! The engine's step runner on the example identity and todo policies: decision-table
//! rows for HTTP and resource checks, with a test verifier standing in for JWT checks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::decision::Decision;
use warden_engine::eval::Prepared;
use warden_engine::limits::Memory;
use warden_engine::run::{Engine, HttpRequest, ResourceRequest};
use warden_language::reason::Reason;

struct DirLoader(PathBuf);

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

#[path = "common/test_tokens.rs"]
mod test_tokens;

use test_tokens::TestTokens;

fn engine() -> Engine {
    engine_for("identity")
}

fn engine_for(set: &str) -> Engine {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies").join(set);
    let mut files = Vec::new();
    for entry in walk(&dir) {
        files.push(SourceFile::new(entry.display().to_string(), std::fs::read_to_string(&entry).unwrap()));
    }
    let (graph, _) = compile(&PolicySet { files }, &DirLoader(dir)).unwrap();
    Engine::new(Prepared::new(graph).unwrap(), Arc::new(Memory::new(10_000)), Arc::new(TestTokens))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|e| e == "warden") {
            out.push(p);
        }
    }
    out
}

fn request(method: &str, target: &str) -> HttpRequest {
    HttpRequest {
        method: method.to_owned(),
        scheme: "https".to_owned(),
        host: "id.example.com".to_owned(),
        target: target.to_owned(),
        source_ip: "203.0.113.9".parse().ok(),
        now_ms: 1_800_000_000_000,
        ..HttpRequest::default()
    }
}

fn json_body(mut req: HttpRequest, body: Value) -> HttpRequest {
    req.headers.push(("content-type".to_owned(), "application/json; charset=utf-8".to_owned()));
    req.body = Some(body.to_string().into_bytes());
    req
}

fn login() -> HttpRequest {
    json_body(request("POST", "/v1/login"), json!({"login": "ada", "password": "correct horse"}))
}

fn bearer(mut req: HttpRequest, claims: Value) -> HttpRequest {
    req.headers.push(("authorization".to_owned(), format!("Bearer test:{claims}")));
    req
}

fn outcome(d: &Decision) -> (bool, u16, Reason) {
    (d.allow, d.status, d.reason)
}

#[test]
fn lookup_rows() {
    let e = engine();
    assert_eq!(outcome(&e.check_http(&request("GET", "/v1/nothing"))), (false, 404, Reason::RouteNotFound));
    assert_eq!(outcome(&e.check_http(&request("GET", "/v1/login"))), (false, 405, Reason::MethodNotAllowed));
    assert_eq!(outcome(&e.check_http(&request("PROPFIND", "/v1/login"))), (false, 405, Reason::MethodNotAllowed));
    assert_eq!(
        outcome(&e.check_http(&request("POST", "/v1/%2e%2e/admin/v1/users/u/lock"))),
        (false, 404, Reason::RouteNotFound)
    );
    let mut other_host = login();
    other_host.host = "evil.example".to_owned();
    assert_eq!(outcome(&e.check_http(&other_host)).2, Reason::RouteNotFound);
    // The method is matched whatever its case, as before.
    assert!(e.check_http(&json_body(request("post", "/v1/login"), json!({"login": "ada", "password": "x"}))).allow);
}

/// 300 apis on hosts of their own and one on any host: each request reaches its
/// own host's route (whatever the case of the name, a port, a trailing dot),
/// then the any-host route, then nothing.
#[test]
fn each_host_reaches_its_own_routes_among_many() {
    let mut text = String::from("zone z {\n  require tls\n}\n\n");
    for h in 0..300 {
        text.push_str(&format!(
            "api a{h} in zone z {{\n  host \"H{h}.Example\"\n  auth none\n  route GET \"/own/{{id}}\" {{\n    allow\n  }}\n}}\n\n"
        ));
    }
    text.push_str("api anywhere in zone z {\n  auth none\n  route GET \"/shared\" {\n    allow\n  }\n}\n");
    let (graph, _) = compile(&PolicySet { files: vec![SourceFile::new("h.warden", text)] }, &DirLoader(PathBuf::new()))
        .unwrap_or_else(|d| panic!("{d:#?}"));
    let e = Engine::new(Prepared::new(graph.clone()).unwrap(), Arc::new(Memory::new(10)), Arc::new(TestTokens));
    let at = |host: &str, target: &str| {
        let mut r = request("GET", target);
        r.host = host.to_owned();
        let d = e.check_http(&r);
        (d.reason, d.rule.as_deref().unwrap_or_default().to_owned())
    };
    for h in [0, 1, 17, 150, 299] {
        for host in [format!("h{h}.example"), format!("H{h}.EXAMPLE:8443"), format!("h{h}.example.")] {
            assert_eq!(at(&host, "/own/7"), (Reason::Allowed, format!("a{h}.GET /own/{{id}}#1")), "{host}");
            assert_eq!(at(&host, "/shared"), (Reason::Allowed, "anywhere.GET /shared#1".to_owned()), "{host}");
        }
    }
    assert_eq!(at("h300.example", "/own/7").0, Reason::RouteNotFound);
    assert_eq!(at("h300.example", "/shared").0, Reason::Allowed);
    assert_eq!(at("", "/own/7").0, Reason::RouteNotFound);

    // Lookup relies on the order the compiler writes: a graph with its hosts
    // out of order (written by another tool) is refused, not searched wrongly.
    let mut swapped = graph;
    swapped.routes.hosts.swap(0, 1);
    assert_eq!(Prepared::new(swapped.clone()).err(), Some(warden_engine::eval::GraphError::HostOrder));
    swapped.routes.hosts.swap(0, 1);
    if let Some(h) = swapped.routes.hosts.first_mut() {
        h.host = h.host.as_ref().map(|n| n.to_ascii_uppercase());
    }
    assert_eq!(Prepared::new(swapped).err(), Some(warden_engine::eval::GraphError::HostOrder));
}

#[test]
fn transport_row() {
    let e = engine();
    let mut plain = login();
    plain.scheme = "http".to_owned();
    assert_eq!(outcome(&e.check_http(&plain)), (false, 403, Reason::TlsRequired));
    let admin = json_body(request("POST", "/admin/v1/users/u-2/lock"), json!({"reason": "fraud", "ticket": "SUP-1"}));
    assert_eq!(outcome(&e.check_http(&admin)), (false, 403, Reason::MtlsRequired));
}

#[test]
fn five_logins_per_minute_then_retry_after() {
    let e = engine();
    for i in 0..5 {
        let d = e.check_http(&login());
        assert!(d.allow, "login {i}: {d:?}");
        assert_eq!(d.rule.as_deref(), Some("auth.POST /v1/login#1"));
    }
    let d = e.check_http(&login());
    assert_eq!(outcome(&d), (false, 429, Reason::RateLimited));
    assert_eq!(d.header("retry-after"), Some("12"));
    assert_eq!(d.header("ratelimit-remaining"), Some("0"));
    let mut later = login();
    later.now_ms += 12_000;
    assert!(e.check_http(&later).allow);
    // Another address has its own bucket.
    let mut other = login();
    other.source_ip = "198.51.100.1".parse().ok();
    assert!(e.check_http(&other).allow);
}

/// Admits everything and records the bucket keys it is asked about.
struct Recording(std::sync::Mutex<Vec<String>>);

impl warden_engine::limits::Limiter for Recording {
    fn consume(
        &self,
        _: u64,
        key: &str,
        rate: warden_engine::limits::Rate,
        _: u64,
    ) -> Result<warden_engine::limits::Outcome, warden_engine::limits::BackendError> {
        self.0.lock().unwrap().push(key.to_owned());
        Ok(warden_engine::limits::Outcome {
            allowed: true,
            limit: rate.burst,
            remaining: rate.burst,
            reset_ms: 0,
            retry_after_ms: 0,
        })
    }

    fn keys(&self) -> usize {
        0
    }

    fn clear(&self) {}
}

/// A limit's bucket key is each key value as JSON, then U+001F: `source.ip` as
/// its JSON string (an IPv4-mapped IPv6 client as its IPv4 address, another
/// IPv6 client as its /64), and a claim of any length (a long one leaves the
/// stack buffer for the heap, with the same text). Stored buckets (Redis)
/// depend on this text staying the same.
#[test]
fn limit_keys_are_the_json_of_their_values() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/identity");
    let files = walk(&dir)
        .into_iter()
        .map(|p| SourceFile::new(p.display().to_string(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    let (graph, _) = compile(&PolicySet { files }, &DirLoader(dir)).unwrap();
    let keys = Arc::new(Recording(std::sync::Mutex::new(Vec::new())));
    let e = Engine::new(Prepared::new(graph).unwrap(), keys.clone(), Arc::new(TestTokens));
    let taken = || std::mem::take(&mut *keys.0.lock().unwrap());
    for (source, key) in [
        ("203.0.113.9", "\"203.0.113.9\""),
        ("::ffff:203.0.113.9", "\"203.0.113.9\""),
        ("2001:db8:1:2:3:4:5:6", "\"2001:db8:1:2::/64\""),
    ] {
        let mut r = login();
        r.source_ip = source.parse().ok();
        assert!(e.check_http(&r).allow, "{source}");
        assert_eq!(taken(), vec![format!("{key}\u{1f}")], "{source}");
    }
    for sub in ["u-1".to_owned(), "u".repeat(300), "é".repeat(200)] {
        let me = bearer(request("GET", "/v1/me"), json!({"sub": sub, "scope": "profile:read"}));
        assert!(e.check_http(&me).allow);
        assert_eq!(taken(), vec![format!("{}\u{1f}", json!(sub))]);
    }
}

#[test]
fn body_rows() {
    let e = engine();
    let mut text = login();
    text.headers = vec![("content-type".to_owned(), "text/plain".to_owned())];
    assert_eq!(outcome(&e.check_http(&text)), (false, 415, Reason::UnsupportedMediaType));
    let big = json_body(request("POST", "/v1/login"), json!({"login": "a", "password": "x".repeat(3000)}));
    assert_eq!(outcome(&e.check_http(&big)), (false, 413, Reason::BodyTooLarge));
    let bad = json_body(request("POST", "/v1/login"), json!({"login": "ada"}));
    let d = e.check_http(&bad);
    assert_eq!(outcome(&d), (false, 400, Reason::BodyInvalid));
    assert!(d.detail.contains("`/password`"), "{}", d.detail);
    let bomb = HttpRequest { body: Some(format!("{}{}", "[".repeat(1000), "]".repeat(1000)).into_bytes()), ..login() };
    assert_eq!(outcome(&e.check_http(&bomb)).2, Reason::BodyInvalid);
    let duplicate = HttpRequest { body: Some(br#"{"login": "a", "login": "b", "password": "p"}"#.to_vec()), ..login() };
    assert_eq!(outcome(&e.check_http(&duplicate)).2, Reason::BodyInvalid);
    // A rule reads the validated body: terms not accepted, no allow rule holds.
    let reg =
        json!({"email": "ada@example.org", "username": "ada", "password": "a long passphrase", "accept_terms": false});
    assert_eq!(
        outcome(&e.check_http(&json_body(request("POST", "/v1/register"), reg))),
        (false, 403, Reason::NoAllowRule)
    );
}

#[test]
fn authentication_scope_and_upstream_headers() {
    let e = engine();
    let d = e.check_http(&request("GET", "/v1/me"));
    assert_eq!(outcome(&d), (false, 401, Reason::CredentialsMissing));
    assert_eq!(d.header("www-authenticate"), Some("Bearer realm=\"public\""));
    let mut forged = request("GET", "/v1/me");
    forged.headers.push(("authorization".to_owned(), "Bearer forged".to_owned()));
    assert_eq!(outcome(&e.check_http(&forged)), (false, 401, Reason::SignatureInvalid));
    let d = e.check_http(&bearer(request("GET", "/v1/me"), json!({"sub": "u-1", "scope": "profile:write"})));
    assert_eq!(outcome(&d), (false, 403, Reason::InsufficientScope));
    assert!(d.header("www-authenticate").unwrap().contains("scope=\"profile:read\""));
    let d = e.check_http(&bearer(request("GET", "/v1/me"), json!({"sub": "u-1", "scope": "openid profile:read"})));
    assert_eq!(outcome(&d), (true, 200, Reason::Allowed));
    assert_eq!(d.header("x-user-id"), Some("u-1"));
    assert!(!d.revision.is_empty() && !d.decision_id.is_empty());
}

fn todo_check(action: &str, subject: &str, subject_props: Value, resource: Value) -> ResourceRequest {
    ResourceRequest {
        resource_type: "todo".to_owned(),
        resource_id: "t-1".to_owned(),
        properties: resource.as_object().unwrap().clone(),
        action: action.to_owned(),
        subject: Some((subject.to_owned(), subject_props.as_object().unwrap().clone())),
        scheme: "https".to_owned(),
        peer: Some("spiffe://todo.example/ns/todo/api".to_owned()),
        now_ms: 1_800_000_000_000,
        ..ResourceRequest::default()
    }
}

#[test]
fn resource_checks_with_an_asserted_subject() {
    let e = engine_for("todo");
    let user = |tenant: &str| json!({"tenant": tenant, "roles": ["user"]});
    let item = json!({"owner": "u-1", "tenant": "acme", "shared_with": ["u-2"]});
    let d = e.check_resource(&todo_check("read", "u-1", user("acme"), item.clone()));
    assert_eq!((outcome(&d), d.rule.as_deref()), ((true, 200, Reason::Allowed), Some("todo.read#2")));
    assert!(e.check_resource(&todo_check("read", "u-2", user("acme"), item.clone())).allow);
    assert_eq!(
        outcome(&e.check_resource(&todo_check("read", "u-4", user("acme"), item.clone()))).2,
        Reason::NoAllowRule
    );
    // Another tenant's item: the resource-level deny wins over ownership.
    assert_eq!(
        outcome(&e.check_resource(&todo_check("read", "u-1", user("globex"), item.clone()))).2,
        Reason::DeniedByRule
    );
    // Admins may delete; archived items may not be edited.
    let admin = json!({"tenant": "acme", "roles": ["admin"]});
    assert!(e.check_resource(&todo_check("delete", "u-9", admin, item.clone())).allow);
    let archived = json!({"owner": "u-1", "tenant": "acme", "archived": true});
    assert_eq!(outcome(&e.check_resource(&todo_check("edit", "u-1", user("acme"), archived))).2, Reason::DeniedByRule);
    // Lookup, transport and missing subject.
    let mut unknown = todo_check("archive", "u-1", user("acme"), item.clone());
    assert_eq!(outcome(&e.check_resource(&unknown)).2, Reason::MethodNotAllowed);
    unknown.resource_type = "list".to_owned();
    assert_eq!(outcome(&e.check_resource(&unknown)).2, Reason::RouteNotFound);
    let mut stranger = todo_check("read", "u-1", user("acme"), item.clone());
    stranger.peer = Some("spiffe://todo.example/ns/other/x".to_owned());
    assert_eq!(outcome(&e.check_resource(&stranger)).2, Reason::PeerNotAllowed);
    let mut anonymous = todo_check("read", "u-1", user("acme"), item);
    anonymous.subject = None;
    assert_eq!(outcome(&e.check_resource(&anonymous)), (false, 401, Reason::CredentialsMissing));
}

/// A shared store that never answers, as Redis does when it is down.
struct Unreachable;

impl warden_engine::limits::Limiter for Unreachable {
    fn consume(
        &self,
        _limit: u64,
        _key: &str,
        _rate: warden_engine::limits::Rate,
        _now_ms: u64,
    ) -> Result<warden_engine::limits::Outcome, warden_engine::limits::BackendError> {
        Err(warden_engine::limits::BackendError)
    }
    fn keys(&self) -> usize {
        0
    }
    fn clear(&self) {}
}

#[test]
fn a_limit_the_backend_cannot_check_follows_its_on_backend_error() {
    let text = r#"limit strict  = 5 per 1m by source.ip on_backend_error deny
limit lenient = 5 per 1m by source.ip
zone open {
}
api a in zone open {
  host "id.example.com"
  auth none
  route GET "/strict" {
    limit strict
    allow
  }
  route GET "/lenient" {
    limit lenient
    allow
  }
}
"#;
    let files = vec![SourceFile::new("t.warden".to_owned(), text.to_owned())];
    let (graph, _) = compile(&PolicySet { files }, &DirLoader(PathBuf::new())).unwrap();
    let e = Engine::new(Prepared::new(graph).unwrap(), Arc::new(Unreachable), Arc::new(TestTokens));
    let d = e.check_http(&request("GET", "/strict"));
    assert_eq!(outcome(&d), (false, 429, Reason::RateLimited));
    assert_eq!(d.header("retry-after"), Some("1"));
    assert!(d.detail.contains("`strict`") && d.detail.contains("backend"), "{}", d.detail);
    // `allow` is the default: the limit is skipped, the rest of the endpoint decides.
    let d = e.check_http(&request("GET", "/lenient"));
    assert_eq!(outcome(&d), (true, 200, Reason::Allowed));
    assert_eq!(d.header("retry-after"), None);
}
