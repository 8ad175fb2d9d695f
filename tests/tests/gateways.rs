//! Real gateways in front of `warden serve`: nginx (`auth_request`) and Caddy
//! (`forward_auth`) call `/v1/forward-auth` for every request, terminate TLS with a
//! per-run certificate and proxy allowed requests to an echoing upstream. Checks
//! what reaches the upstream (upstream headers set, spoofed ones replaced), what
//! the client gets on a deny (401 + challenge, 403, 429 + `retry-after`), that the
//! client's own `X-Forwarded-For` is not believed, that plain http is refused by the
//! zone's `require tls`, and that the gateway fails closed when Warden is down.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::idp::{TestIdp, bank_with_test_idp};
use warden_e2e::{Response, Warden, free_ports, parse_response};

/// The public host of the bank's edge APIs, as the gateways serve it.
const HOST: &str = "api.bank.example";

/// A route of our own next to the bank's: no credential, two requests per ten
/// minutes per source address (one back every five: no refill during a slow run), so
/// that the rate-limit path through each gateway is quick to hit.
const PROBE: &str = r#"// Gateway tests: a tiny per-address limit, to see a 429 cross the gateway.
limit gw_tiny = 2 per 10m by source.ip

api probe in zone edge {
  host "api.bank.example"
  prefix "/probe"
  auth none
  limit gw_tiny

  route GET "/ping" {
    allow
  }
}
"#;

/// The gateway binary, or a failure that says how to get it: these tests exist to
/// run the real thing, so a missing gateway must not pass quietly.
fn installed(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/usr/bin", "/sbin"].map(PathBuf::from));
    for dir in dirs {
        let bin = dir.join(name);
        if bin.is_file() {
            return bin;
        }
    }
    panic!(
        "`{name}` is not installed: the gateway tests run the real {name} in front of `warden serve`. \
         `.ci/run` installs it (`apt-get install -y nginx caddy` on Debian)."
    );
}

/// A gateway process in a process group of its own (nginx forks workers), ended
/// with the whole group when dropped, also when a test fails.
struct Gateway {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Gateway {
    /// Starts `cmd` (output to `log`) and waits until every one of `ports` accepts a
    /// connection (at most 15 s).
    fn start(name: &'static str, mut cmd: Command, log: PathBuf, ports: &[u16]) -> Gateway {
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let mut g = Gateway { name, child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        for &port in ports {
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if let Ok(Some(status)) = g.child.try_wait() {
                    panic!("{name} exited at start ({status}):\n{}", g.log_text());
                }
                assert!(Instant::now() < deadline, "{name} does not listen on {addr} after 15 s:\n{}", g.log_text());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        g
    }

    /// What the gateway wrote (its error log or its output).
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([format!("-{signal}"), "--".to_owned(), format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.signal_group("TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Whatever is left of the group (a worker that outlived its master, or a
        // gateway that ignored TERM) goes now.
        self.signal_group("KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The application behind the gateway: answers every request with 200 and the
/// request head it received as the body, and counts the requests.
struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = echo(stream, &h);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Upstream { addr, hits, stop, thread: Some(thread) }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one request on `s`: reads the head (and a `content-length` body), counts
/// it, answers 200 with the head as the body and closes.
fn echo(mut s: TcpStream, hits: &AtomicUsize) -> std::io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf)?;
        if n == 0 || raw.len() > 64 * 1024 {
            return Ok(());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = raw.len() - end - 4;
    while have < length {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        have += n;
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        head.len()
    );
    s.write_all(answer.as_bytes())
}

/// What the upstream saw: its request line and headers (names lower-cased), from
/// the body of its answer.
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn of(r: &Response) -> Seen {
        let text = String::from_utf8_lossy(&r.body).into_owned();
        let mut lines = text.split("\r\n");
        let request_line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Seen { request_line, headers }
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// A per-run self-signed certificate for `api.bank.example` and a TLS client that
/// trusts only it.
struct Tls {
    cert: PathBuf,
    key: PathBuf,
    client: Arc<rustls::ClientConfig>,
}

impl Tls {
    fn new(dir: &Path) -> Tls {
        let ck = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ck.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls { cert, key, client: Arc::new(client) }
    }
}

/// One `GET` with `Connection: close` and `Host: api.bank.example:PORT` over an open
/// stream (plain or TLS); the whole answer. A TLS peer closing without
/// `close_notify` after answering is not an error.
fn get_on(mut s: impl std::io::Read + std::io::Write, port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut head = format!("GET {path} HTTP/1.1\r\nhost: {HOST}:{port}\r\nconnection: close\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.flush().unwrap();
    let mut raw = Vec::new();
    match s.read_to_end(&mut raw) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => panic!("GET {path} on port {port}: {e}"),
    }
    parse_response(&raw).unwrap()
}

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// `GET path` over https to the gateway on `port` (SNI and `Host` `api.bank.example`).
fn https(tls: &Tls, port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    let name = rustls::pki_types::ServerName::try_from(HOST).unwrap();
    let conn = rustls::ClientConnection::new(tls.client.clone(), name).unwrap();
    get_on(rustls::StreamOwned::new(conn, tcp(port)), port, path, headers)
}

/// `GET path` over plain http to the gateway on `port`.
fn http(port: u16, path: &str, headers: &[(&str, &str)]) -> Response {
    get_on(tcp(port), port, path, headers)
}

/// Warden on the bank policy (with a per-run IdP key and the probe route), the
/// gateway's loopback address as its trusted proxy, decisions logged to a file;
/// and the echoing upstream.
struct Setup {
    dir: tempfile::TempDir,
    idp: TestIdp,
    warden: Warden,
    upstream: Upstream,
    tls: Tls,
    decisions: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let policies = dir.path().join("policies");
        let idp = bank_with_test_idp(&policies).unwrap();
        std::fs::write(policies.join("probe.warden"), PROBE).unwrap();
        let decisions = dir.path().join("decisions.jsonl");
        let config = dir.path().join("warden.toml");
        std::fs::write(
            &config,
            format!(
                "[forward_auth]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n[decision_log]\nsink = \"file\"\npath = {:?}\n",
                decisions.to_str().unwrap()
            ),
        )
        .unwrap();
        let warden = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
        let tls = Tls::new(dir.path());
        Setup { dir, idp, warden, upstream: Upstream::start(), tls, decisions }
    }

    fn customer_token(&self, customer: &str, scope: &str) -> String {
        let t = self.idp.mint(&json!({"sub": format!("customer-{customer}"), "customer_id": customer,
            "scope": scope, "client_id": "app"}));
        format!("Bearer {t}")
    }

    /// The decision log's lines, once it holds at least `n` (at most 10 s).
    fn decisions(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&self.decisions).unwrap_or_default();
            let lines: Vec<Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
            if lines.len() >= n {
                return lines;
            }
            assert!(Instant::now() < deadline, "the decision log has {} lines, not {n}:\n{text}", lines.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What both gateways must do the same way; `g` names the gateway in messages.
/// `tls_port` is the gateway's https listener, `plain_port` its http one.
fn common_checks(s: &Setup, g: &Gateway, tls_port: u16, plain_port: u16) {
    let name = g.name;
    let ctx = |what: &str| format!("{name}: {what}\n--- gateway log ---\n{}", g.log_text());
    let hits = s.upstream.hits();

    // No token: 401 with the RFC 6750 challenge, and the upstream never sees it.
    let r = https(&s.tls, tls_port, "/v1/accounts/42", &[]);
    assert_eq!(r.status, 401, "{}", ctx("no token"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"edge\""), "{}", ctx("challenge"));
    assert_eq!(s.upstream.hits(), hits, "{}", ctx("a 401 reached the upstream"));

    // The customer reads their own account: allowed, proxied with the token; a
    // client-sent `x-customer-id` does not get through on a route that sets none.
    let own = s.customer_token("42", "accounts:read");
    let r = https(&s.tls, tls_port, "/v1/accounts/42", &[("authorization", &own), ("x-customer-id", "99")]);
    assert_eq!(r.status, 200, "{}", ctx("own account"));
    assert_eq!(s.upstream.hits(), hits + 1, "{}", ctx("own account must reach the upstream once"));
    let seen = Seen::of(&r);
    assert!(seen.request_line.starts_with("GET /v1/accounts/42 HTTP/1."), "{}", seen.request_line);
    assert_eq!(seen.all("authorization"), [own.as_str()]);
    let spoof = seen.all("x-customer-id");
    match name {
        // `proxy_set_header` with an empty value (no upstream header in the auth
        // answer) removes the header.
        "nginx" => assert!(spoof.is_empty(), "{spoof:?}"),
        // Caddy 2.6 sets a copied header that the auth answer lacks to the
        // unreplaced placeholder; the client's value is gone either way (the
        // Caddyfile also deletes it before asking Warden, for later Caddy versions
        // that leave the client's value alone when the auth answer has none).
        _ => assert!(
            spoof.is_empty() || spoof == ["{http.reverse_proxy.header.X-Customer-Id}"],
            "the client's x-customer-id reached the upstream: {spoof:?}"
        ),
    }

    // A transfer's status: allowed, and the upstream gets `x-customer-id` from the
    // verified token, once, whatever the client sent.
    let payments = s.customer_token("42", "payments:read");
    let r = https(&s.tls, tls_port, "/v1/transfers/t-1", &[("authorization", &payments), ("x-customer-id", "99")]);
    assert_eq!(r.status, 200, "{}", ctx("transfer status"));
    assert_eq!(s.upstream.hits(), hits + 2);
    assert_eq!(Seen::of(&r).all("x-customer-id"), ["42"], "{}", ctx("upstream header"));

    // Wrong scope, and another customer's account: 403, never proxied.
    let r = https(&s.tls, tls_port, "/v1/accounts/42", &[("authorization", &payments)]);
    assert_eq!(r.status, 403, "{}", ctx("wrong scope"));
    let r2 = https(&s.tls, tls_port, "/v1/accounts/43", &[("authorization", &own)]);
    assert_eq!(r2.status, 403, "{}", ctx("another customer's account"));
    assert_eq!(s.upstream.hits(), hits + 2, "{}", ctx("a 403 reached the upstream"));
    match name {
        // nginx passes the auth server's headers through only on a 401.
        "nginx" => assert_eq!(r.header("www-authenticate"), None),
        // Caddy answers with Warden's own response.
        _ => {
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"edge\", error=\"insufficient_scope\", scope=\"accounts:read\"")
            );
            assert_eq!(r.json().unwrap()["reason"], "insufficient_scope");
            assert_eq!(r2.json().unwrap()["reason"], "no_allow_rule");
        }
    }

    // A client that sends its own forwarding headers to make Warden judge another
    // request (account 42) than the one proxied (43): the gateway overwrites one
    // spelling, the client's other spelling disagrees, Warden refuses (400).
    let r = https(
        &s.tls,
        tls_port,
        "/v1/accounts/43",
        &[
            ("authorization", &own),
            ("x-forwarded-uri", "/v1/accounts/42"),
            ("x-original-uri", "/v1/accounts/42"),
            ("x-forwarded-method", "GET"),
        ],
    );
    assert!(r.status >= 400, "{}", ctx("a spoofed forwarding header was believed"));
    assert_eq!(s.upstream.hits(), hits + 2, "{}", ctx("a spoofed request reached the upstream"));

    // The same valid request over plain http: the gateway says so honestly
    // (`X-Forwarded-Proto` is the scheme the client used) and the zone's
    // `require tls` refuses it.
    let r = http(plain_port, "/v1/accounts/42", &[("authorization", &own)]);
    assert_eq!(r.status, 403, "{}", ctx("plain http"));
    assert_eq!(s.upstream.hits(), hits + 2, "{}", ctx("plain http reached the upstream"));

    // Every decision came through forward auth, for `api.bank.example`, with the
    // client's address as the source: never an address the client made up.
    let r = https(&s.tls, tls_port, "/probe/ping", &[("x-forwarded-for", "203.0.113.9")]);
    assert_eq!(r.status, 200, "{}", ctx("probe"));
    assert_eq!(s.upstream.hits(), hits + 3);
    let lines = s.decisions(7);
    assert_eq!(lines.len(), 7, "{lines:?}");
    let reasons: Vec<&str> = lines.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        ["credentials_missing", "allowed", "allowed", "insufficient_scope", "no_allow_rule", "tls_required", "allowed"]
    );
    for l in &lines {
        assert_eq!(l["door"], "forward_auth", "{l}");
        assert!(l["host"].as_str().unwrap().starts_with(HOST), "{l}");
        assert_eq!(l["source_ip"], "127.0.0.1", "{name}: the source must be the client's address: {l}");
    }
}

/// Two more probes from one address, each with a different made-up
/// `X-Forwarded-For`: the second is allowed, the third is over the limit. Returns
/// the 429 as the client saw it.
fn exhaust_probe_limit(s: &Setup, g: &Gateway, tls_port: u16) -> Response {
    let hits = s.upstream.hits();
    let r = https(&s.tls, tls_port, "/probe/ping", &[("x-forwarded-for", "203.0.113.10")]);
    assert_eq!(r.status, 200, "{}: second probe\n{}", g.name, g.log_text());
    let r = https(&s.tls, tls_port, "/probe/ping", &[("x-forwarded-for", "203.0.113.11")]);
    assert_eq!(r.status, 429, "{}: third probe from one address\n{}", g.name, g.log_text());
    assert_eq!(s.upstream.hits(), hits + 1, "{}: a 429 reached the upstream", g.name);
    let retry: u64 = r.header("retry-after").expect("retry-after").parse().unwrap();
    assert!((1..=300).contains(&retry), "retry-after {retry}");
    assert_eq!(r.header("ratelimit-limit"), Some("2"));
    assert_eq!(r.header("ratelimit-remaining"), Some("0"));
    r
}

/// After the other checks: Warden stops, and the gateway fails closed.
fn warden_down(s: &mut Setup, g: &Gateway, tls_port: u16, status: u16) {
    let hits = s.upstream.hits();
    assert_eq!(s.warden.stop(), Some(0));
    let own = s.customer_token("42", "accounts:read");
    let r = https(&s.tls, tls_port, "/v1/accounts/42", &[("authorization", &own)]);
    assert_eq!(r.status, status, "{}: Warden down\n{}", g.name, g.log_text());
    assert_eq!(s.upstream.hits(), hits, "{}: a request reached the upstream while Warden was down", g.name);
}

/// The nginx `location`s that protect the API; with `handle_429` the 500 that
/// `auth_request` makes of any status but 2xx/401/403 is turned back into
/// Warden's 429 (docs/serve.md, "Behind nginx and Caddy").
fn nginx_locations(warden: SocketAddr, upstream: SocketAddr, handle_429: bool) -> String {
    let error_page = if handle_429 { "      error_page 500 = @warden_error;\n" } else { "" };
    let named = if handle_429 {
        r#"
    location @warden_error {
      default_type application/json;
      add_header Retry-After $warden_retry_after always;
      add_header RateLimit-Limit $warden_ratelimit_limit always;
      add_header RateLimit-Remaining $warden_ratelimit_remaining always;
      add_header RateLimit-Reset $warden_ratelimit_reset always;
      if ($warden_status = 429) {
        return 429 '{"allow":false,"status":429,"reason":"rate_limited"}\n';
      }
      return 500;
    }
"#
    } else {
        ""
    };
    format!(
        r#"
    location / {{
      auth_request /_warden;
      auth_request_set $warden_status $upstream_status;
      auth_request_set $warden_customer_id $upstream_http_x_customer_id;
      auth_request_set $warden_retry_after $upstream_http_retry_after;
      auth_request_set $warden_ratelimit_limit $upstream_http_ratelimit_limit;
      auth_request_set $warden_ratelimit_remaining $upstream_http_ratelimit_remaining;
      auth_request_set $warden_ratelimit_reset $upstream_http_ratelimit_reset;
{error_page}      proxy_set_header X-Customer-Id $warden_customer_id;
      proxy_pass http://{upstream};
    }}
{named}
    location = /_warden {{
      internal;
      proxy_pass http://{warden}/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_connect_timeout 2s;
      proxy_read_timeout 5s;
    }}
"#
    )
}

#[test]
fn nginx_auth_request_in_front_of_warden() {
    let nginx = installed("nginx");
    let mut s = Setup::new();
    let root = s.dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let [tls_port, plain_port, bare_port] = free_ports::<3>().unwrap();
    let d = root.display();
    let (cert, key) = (s.tls.cert.display(), s.tls.key.display());
    let good = nginx_locations(s.warden.http, s.upstream.addr, true);
    let bare = nginx_locations(s.warden.http, s.upstream.addr, false);
    let conf = format!(
        r#"# Written by tests/tests/gateways.rs for one run.
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 64; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/client_body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  ssl_certificate {cert};
  ssl_certificate_key {key};

  # The API as documented: https, and plain http (which Warden refuses).
  server {{
    listen 127.0.0.1:{tls_port} ssl;
    listen 127.0.0.1:{plain_port};
    server_name {HOST};
{good}
  }}

  # The same without the 429 handling: what `auth_request` does on its own.
  server {{
    listen 127.0.0.1:{bare_port} ssl;
    server_name {HOST};
{bare}
  }}
}}
"#
    );
    let conf_file = root.join("nginx.conf");
    std::fs::write(&conf_file, conf).unwrap();
    let mut cmd = Command::new(nginx);
    cmd.arg("-e")
        .arg(root.join("error.log"))
        .arg("-p")
        .arg(&root)
        .arg("-c")
        .arg(&conf_file)
        .args(["-g", "daemon off;"]);
    let g = Gateway::start("nginx", cmd, root.join("error.log"), &[tls_port, plain_port, bare_port]);

    common_checks(&s, &g, tls_port, plain_port);

    // 429 through the documented config: the status, `retry-after` and the
    // `ratelimit-*` headers reach the client; the upstream is not asked.
    let r = exhaust_probe_limit(&s, &g, tls_port);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json().unwrap()["reason"], "rate_limited");

    // Without it, nginx turns Warden's 429 into a 500 and logs why.
    let hits = s.upstream.hits();
    let r = https(&s.tls, bare_port, "/probe/ping", &[]);
    assert_eq!(r.status, 500, "plain auth_request on a 429\n{}", g.log_text());
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(s.upstream.hits(), hits);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !g.log_text().contains("auth request unexpected status: 429") {
        assert!(Instant::now() < deadline, "no `unexpected status: 429` in the error log:\n{}", g.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }

    // Warden down: the auth subrequest fails (502) and nginx answers 500, which the
    // documented config keeps a 500: fail closed.
    warden_down(&mut s, &g, tls_port, 500);
}

#[test]
fn caddy_forward_auth_in_front_of_warden() {
    let caddy = installed("caddy");
    let mut s = Setup::new();
    let root = s.dir.path().join("caddy");
    std::fs::create_dir_all(&root).unwrap();
    let [tls_port, plain_port] = free_ports::<2>().unwrap();
    let (warden, upstream) = (s.warden.http, s.upstream.addr);
    let site = format!(
        r#"	bind 127.0.0.1
	route {{
		request_header -X-Customer-Id
		forward_auth {warden} {{
			uri /v1/forward-auth
			copy_headers X-Customer-Id
		}}
		reverse_proxy {upstream}
	}}"#
    );
    let caddyfile = format!(
        r#"# Written by tests/tests/gateways.rs for one run.
{{
	admin off
	auto_https off
	storage file_system {storage}
	servers {{
		protocols h1 h2
	}}
}}

https://{HOST}:{tls_port} {{
	tls {cert} {key}
{site}
}}

http://{HOST}:{plain_port} {{
{site}
}}
"#,
        storage = root.join("storage").display(),
        cert = s.tls.cert.display(),
        key = s.tls.key.display(),
    );
    let file = root.join("Caddyfile");
    std::fs::write(&file, caddyfile).unwrap();
    let mut cmd = Command::new(caddy);
    cmd.arg("run")
        .arg("--config")
        .arg(&file)
        .args(["--adapter", "caddyfile"])
        .current_dir(&root)
        .env("HOME", &root)
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_DATA_HOME", root.join("data"));
    let g = Gateway::start("caddy", cmd, root.join("caddy.log"), &[tls_port, plain_port]);

    common_checks(&s, &g, tls_port, plain_port);

    // Caddy hands any non-2xx answer of the auth server to the client as it is:
    // 429 with `retry-after`, `ratelimit-*` and Warden's JSON body.
    let r = exhaust_probe_limit(&s, &g, tls_port);
    let body = r.json().unwrap();
    assert_eq!((body["status"].as_u64(), body["reason"].as_str()), (Some(429), Some("rate_limited")));
    assert!(r.header("x-warden-decision-id").is_some_and(|id| Some(id) == body["decision_id"].as_str()));

    // Warden down: Caddy cannot reach the auth server and answers 502.
    warden_down(&mut s, &g, tls_port, 502);
}
