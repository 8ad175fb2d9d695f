//! Real gateways in front of `warden serve`: nginx (`auth_request`) and Caddy
//! (`forward_auth`) call `/v1/forward-auth` for every request, terminate TLS with a
//! per-run certificate and proxy allowed requests to an echoing upstream. Checks
//! what reaches the upstream (upstream headers set, spoofed ones replaced), what
//! the client gets on a deny (401 + challenge, 403, 429 + `retry-after`), that the
//! client's own `X-Forwarded-For` is not believed, that plain http is refused by the
//! zone's `require tls`, and that the gateway fails closed when Warden is down.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::gateway::{
    Gateway, HOST, Seen, Tls, Upstream, fill, http, https, installed, nginx_command, nginx_conf, nginx_forward_auth,
};
use warden_e2e::idp::{TestIdp, bank_with_test_idp};
use warden_e2e::{Response, Warden, free_ports};

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

/// The nginx `location`s of docs/guides/nginx.md that protect the API:
/// `location /` and the named `location @warden_error`; `@UPSTREAM@` is filled in.
const NGINX_API: &str = include_str!("../../docs/guides/configs/nginx-api.conf");

/// The Caddyfile of docs/guides/caddy.md; its `@NAME@` placeholders are filled in.
const CADDYFILE: &str = include_str!("../../docs/guides/configs/Caddyfile");

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

/// The nginx `location`s that protect the API (docs/guides/configs/nginx-api.conf)
/// and the forward-auth block; with `handle_429` the 500 that `auth_request` makes
/// of any status but 2xx/401/403 is turned back into Warden's 429
/// (docs/guides/nginx.md). Without it, the same `location /` less its
/// `error_page` line, and no `location @warden_error`: `auth_request` on its own.
fn nginx_locations(warden: SocketAddr, upstream: SocketAddr, handle_429: bool) -> String {
    let forward = nginx_forward_auth(warden);
    let upstream = upstream.to_string();
    let api = fill(NGINX_API, &[("UPSTREAM", upstream.as_str())]);
    let api = if handle_429 {
        api
    } else {
        let (location, _) = api
            .split_once("\n    location @warden_error {")
            .expect("docs/guides/configs/nginx-api.conf has a `location @warden_error` after `location /`");
        let bare = location.replace("      error_page 500 = @warden_error;\n", "");
        assert_ne!(bare, location, "docs/guides/configs/nginx-api.conf's `location /` has no `error_page` line");
        bare
    };
    format!("\n{api}\n{forward}")
}

#[test]
fn nginx_auth_request_in_front_of_warden() {
    let mut s = Setup::new();
    let root = s.dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let [tls_port, plain_port, bare_port] = free_ports::<3>().unwrap();
    let (cert, key) = (s.tls.cert.display(), s.tls.key.display());
    let good = nginx_locations(s.warden.http, s.upstream.addr, true);
    let bare = nginx_locations(s.warden.http, s.upstream.addr, false);
    let servers = format!(
        r#"  ssl_certificate {cert};
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
"#
    );
    let conf_file = root.join("nginx.conf");
    std::fs::write(&conf_file, nginx_conf("tests/tests/gateways.rs", &root, &servers)).unwrap();
    let cmd = nginx_command(&root, &conf_file);
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
    let (warden, upstream) = (s.warden.http.to_string(), s.upstream.addr.to_string());
    let (tls_port_text, plain_port_text) = (tls_port.to_string(), plain_port.to_string());
    let storage = root.join("storage").display().to_string();
    let (cert, key) = (s.tls.cert.display().to_string(), s.tls.key.display().to_string());
    let caddyfile = format!(
        "# Written by tests/tests/gateways.rs for one run.\n{}",
        fill(
            CADDYFILE,
            &[
                ("STORAGE", storage.as_str()),
                ("HOST", HOST),
                ("TLS_PORT", tls_port_text.as_str()),
                ("CERT", cert.as_str()),
                ("KEY", key.as_str()),
                ("BIND", "127.0.0.1"),
                ("WARDEN", warden.as_str()),
                ("UPSTREAM", upstream.as_str()),
                ("PLAIN_PORT", plain_port_text.as_str()),
            ],
        )
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
