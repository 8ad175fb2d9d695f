//! Minted tokens read by another language's library, end to end: a per-run
//! IdP's RS256 token reaches real nginx (`auth_request` to the edge
//! `warden serve`'s `/v1/forward-auth`); the edge allows, mints an ES256 token
//! for the `internal` zone (`mint for zone internal { … }`, signed with a key
//! made by `warden keys generate`), and nginx hands that token, in place of the
//! client's, to a Python service that verifies it with PyJWT
//! (`tests/upstream/verify_jwt.py`, Debian's python3-jwt) against the key set
//! the edge publishes. Checks the claims the service reads, that the client's
//! own token never reaches it, that a denied request never does, and that the
//! service refuses a tampered minted token and the IdP's token.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use warden_e2e::gateway::{Gateway, HOST, Tls, https, installed, nginx_command, nginx_conf, nginx_forward_auth};
use warden_e2e::idp::TestIdp;
use warden_e2e::{Probe, Response, Warden, free_ports, request, warden_bin};

/// Debian's Python, which has python3-jwt; not whatever `python3` is first
/// in `PATH` (a pyenv or a virtualenv without PyJWT).
const PYTHON: &str = "/usr/bin/python3";

/// The audience of the internal zone, the `aud` of minted tokens.
const INTERNAL_AUDIENCE: &str = "https://internal.example";

/// The lifetime the policy gives minted tokens (`lifetime 2m`), in seconds.
const LIFETIME_S: u64 = 120;

/// `/usr/bin/python3`, once it can import PyJWT and cryptography; otherwise a
/// failure that says how to get them: this test exists to run the real library.
fn python_with_pyjwt() -> &'static str {
    let out = Command::new(PYTHON).args(["-I", "-c", "import jwt, cryptography"]).output();
    let why = match out {
        Ok(o) if o.status.success() => return PYTHON,
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    panic!(
        "`{PYTHON}` cannot import PyJWT and cryptography ({}): the minted-token test verifies tokens with \
         them. `./test.sh` installs them (`apt-get install -y python3-jwt python3-cryptography` on Debian).",
        why.trim()
    );
}

fn now_s() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The edge's policy set: its users' zone (the IdP's key set in a file), the
/// `internal` zone behind it that trusts the edge alone, and a route that
/// mints for it.
fn edge_set(dir: &Path, idp: &TestIdp, edge_url: &str) -> PathBuf {
    let set = dir.join("edge-policies");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(set.join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    let policy = format!(
        r#"// The edge Warden of tests/tests/mint_nginx.rs, written for one run.

/// Users' apps, with tokens from the per-run IdP.
zone edge {{
  issuer "{idp_iss}" {{
    jwks file "idp.jwks.json"
    audience "{idp_aud}"
    algorithms RS256
  }}
  require tls
}}

/// The services behind the edge: they trust this Warden alone.
zone internal {{
  issuer "{edge_url}" {{
    jwks url "{edge_url}/.well-known/jwks.json"
    audience "{INTERNAL_AUDIENCE}"
    algorithms ES256
  }}
}}

/// Orders, proxied by nginx to a service that reads the minted token.
api orders in zone edge {{
  host "{HOST}"
  auth bearer

  /// One of the caller's orders.
  route GET "/orders/{{order_id}}" {{
    scope "orders:read"
    allow
    mint for zone internal {{
      claim customer = claim.customer_id
      claim order = path.order_id
      lifetime 2m
    }}
  }}
}}
"#,
        idp_iss = idp.issuer,
        idp_aud = idp.audience,
    );
    std::fs::write(set.join("edge.warden"), policy).unwrap();
    set
}

/// `[issuer]` on the edge's own HTTP address, with the key in `key`.
fn edge_config(dir: &Path, edge_url: &str, key: &Path) -> PathBuf {
    let path = dir.join("edge.toml");
    std::fs::write(&path, warden_e2e::issuer_section(edge_url, &[(key, "active")])).unwrap();
    path
}

/// The Python service (`tests/upstream/verify_jwt.py`) on a loopback port:
/// it stops when its stdin closes, and is killed if it has not after 5 s.
struct PyUpstream {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: PathBuf,
}

impl PyUpstream {
    fn start(python: &str, port: u16, edge_url: &str, log: PathBuf) -> PyUpstream {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("upstream/verify_jwt.py");
        let out = std::fs::File::create(&log).unwrap();
        let mut child = Command::new(python)
            .arg("-I")
            .arg(&script)
            .arg(port.to_string())
            .arg(format!("{edge_url}/.well-known/jwks.json"))
            .arg(edge_url)
            .arg(INTERNAL_AUDIENCE)
            .stdin(Stdio::piped())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {python} {}: {e}", script.display()));
        let stdin = child.stdin.take();
        let mut up = PyUpstream { child, stdin, port, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while request(up.addr(), "GET", "/_hits", &[], None).is_err() {
            if let Ok(Some(status)) = up.child.try_wait() {
                panic!("verify_jwt.py exited at start ({status}):\n{}", up.log_text());
            }
            assert!(Instant::now() < deadline, "verify_jwt.py does not answer after 15 s:\n{}", up.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        up
    }

    fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Requests it has judged so far.
    fn hits(&self) -> u64 {
        let r = request(self.addr(), "GET", "/_hits", &[], None).unwrap();
        r.json().unwrap()["hits"].as_u64().unwrap()
    }

    /// `GET /orders/o-7` straight to the service, with `authorization` if any.
    fn get(&self, authorization: Option<&str>) -> Response {
        let headers: Vec<(&str, &str)> = authorization.map(|a| ("authorization", a)).into_iter().collect();
        request(self.addr(), "GET", "/orders/o-7", &headers, None).unwrap()
    }
}

impl Drop for PyUpstream {
    fn drop(&mut self) {
        // Closing stdin is how it is asked to stop.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(self.child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx in front of the edge: https on `port`, every request asked of
/// Warden's forward auth, and the minted token (the `authorization` header of
/// Warden's answer) sent to the service in place of the client's.
fn edge_nginx_conf(root: &Path, tls: &Tls, port: u16, warden: std::net::SocketAddr, upstream: u16) -> String {
    let (cert, key) = (tls.cert.display(), tls.key.display());
    let forward = nginx_forward_auth(warden);
    let servers = format!(
        r#"  server {{
    listen 127.0.0.1:{port} ssl;
    server_name {HOST};
    ssl_certificate {cert};
    ssl_certificate_key {key};

    location / {{
      auth_request /_warden;
      auth_request_set $minted $upstream_http_authorization;
      # Replaces the client's Authorization; empty (nothing minted) removes it.
      proxy_set_header Authorization $minted;
      proxy_pass http://127.0.0.1:{upstream};
    }}

{forward}  }}
"#
    );
    nginx_conf("tests/tests/mint_nginx.rs", root, &servers)
}

/// `token` with its payload's `customer` changed and the signature kept.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["customer"] = json!("c-43");
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

#[test]
fn nginx_hands_the_minted_token_to_a_service_that_verifies_it_with_pyjwt() {
    // Both are needed: fail now, naming what to install.
    installed("nginx");
    let python = python_with_pyjwt();
    let dir = tempfile::tempdir().unwrap();
    let [edge_port, nginx_port, upstream_port] = free_ports::<3>().unwrap();
    let edge_url = format!("http://127.0.0.1:{edge_port}");

    // The edge's signing key, made as an operator makes it.
    let key = dir.path().join("edge-signing.pem");
    let (ok, out) = warden_e2e::generate_key(&key).unwrap();
    assert!(ok, "{out}");

    let idp = TestIdp::new("https://idp.example", "https://api.example", "idp-1").unwrap();
    let set = edge_set(dir.path(), &idp, &edge_url);
    // The policy is one `warden check` accepts.
    let out = Command::new(warden_bin().unwrap()).arg("check").arg(&set).output().unwrap();
    assert!(out.status.success(), "warden check:\n{}", String::from_utf8_lossy(&out.stderr));

    let config = edge_config(dir.path(), &edge_url, &key);
    let edge = Warden::start_on(&set, edge_port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();
    let jwks = edge.get("/.well-known/jwks.json").unwrap().json().unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    let upstream = PyUpstream::start(python, upstream_port, &edge_url, dir.path().join("verify_jwt.log"));
    let tls = Tls::new(dir.path());
    let root = dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let conf_file = root.join("nginx.conf");
    std::fs::write(&conf_file, edge_nginx_conf(&root, &tls, nginx_port, edge.http, upstream_port)).unwrap();
    let g = Gateway::start("nginx", nginx_command(&root, &conf_file), root.join("error.log"), &[nginx_port]);
    let ctx = |what: &str| {
        format!("{what}\n--- nginx log ---\n{}\n--- verify_jwt.py log ---\n{}", g.log_text(), upstream.log_text())
    };

    let token = |customer: &str, scope: &str| {
        let t = idp.mint(&json!({"sub": format!("customer-{customer}"), "customer_id": customer,
            "client_id": "mobile-app", "scope": scope, "email": "someone@example.com"}));
        format!("Bearer {t}")
    };
    let alice = token("c-42", "orders:read profile");

    // Allowed: the service verified a token that the edge issued for the
    // internal zone, and read exactly the claims the policy mints.
    let before = now_s();
    let r = https(&tls, nginx_port, "/orders/o-7", &[("authorization", &alice)]);
    assert_eq!(r.status, 200, "{}", ctx(&String::from_utf8_lossy(&r.body)));
    assert_eq!(upstream.hits(), 1);
    let seen = r.json().unwrap();
    assert_eq!(seen["authorization_headers"], 1, "{seen}");
    assert_eq!(seen["header"], json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}), "{seen}");
    let claims = &seen["claims"];
    // The edge is the issuer: the client's own (IdP) token did not get through.
    assert_eq!(claims["iss"], json!(edge_url), "{seen}");
    assert_eq!(claims["aud"], INTERNAL_AUDIENCE, "{seen}");
    assert_eq!(claims["sub"], "customer-c-42", "{seen}");
    assert_eq!(claims["client_id"], "mobile-app", "{seen}");
    assert_eq!(claims["customer"], "c-42", "{seen}");
    assert_eq!(claims["order"], "o-7", "{seen}");
    // Narrowed to the route's scope: `profile` stays behind.
    assert_eq!(claims["scope"], "orders:read", "{seen}");
    let (iat, exp) = (claims["iat"].as_u64().unwrap(), claims["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, LIFETIME_S, "{seen}");
    assert!((before..=now_s()).contains(&iat), "iat {iat} is not now ({before}): {seen}");
    let jti = claims["jti"].as_str().unwrap().to_owned();
    assert!(!jti.is_empty());
    // Nothing else: not the IdP's other claims (`email`, `nbf`), no `act`
    // (no peer called over mTLS).
    let mut names: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["aud", "client_id", "customer", "exp", "iat", "iss", "jti", "order", "scope", "sub"], "{seen}");

    // The same caller again: the kept token (same `jti`) for the first half of
    // its lifetime. Another caller gets their own.
    let r = https(&tls, nginx_port, "/orders/o-7", &[("authorization", &alice)]);
    assert_eq!(r.status, 200, "{}", ctx("again"));
    assert_eq!(r.json().unwrap()["claims"]["jti"], json!(jti));
    let bob = token("c-77", "orders:read");
    let r = https(&tls, nginx_port, "/orders/o-8", &[("authorization", &bob)]);
    assert_eq!(r.status, 200, "{}", ctx("bob"));
    let bobs = r.json().unwrap();
    assert_eq!((&bobs["claims"]["sub"], &bobs["claims"]["customer"]), (&json!("customer-c-77"), &json!("c-77")));
    assert_ne!(bobs["claims"]["jti"], json!(jti));
    assert_eq!(upstream.hits(), 3);

    // Denied by the edge: nginx answers, the service is never asked.
    let r = https(&tls, nginx_port, "/orders/o-7", &[]);
    assert_eq!(r.status, 401, "{}", ctx("no token"));
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"edge\""));
    let r = https(&tls, nginx_port, "/orders/o-7", &[("authorization", &token("c-42", "profile"))]);
    assert_eq!(r.status, 403, "{}", ctx("no orders:read"));
    let r = https(&tls, nginx_port, "/orders/o-7", &[("authorization", "Bearer not-a-token")]);
    assert_eq!(r.status, 401, "{}", ctx("garbage token"));
    assert_eq!(upstream.hits(), 3, "{}", ctx("a denied request reached the service"));

    // Straight to the service: the token the edge minted (the same, kept one,
    // asked of `/v1/check`) verifies; changed by one claim it does not; the
    // IdP's token (a key the edge does not publish) and no token are refused.
    let check = json!({"request": {"method": "GET", "scheme": "https", "host": HOST, "path": "/orders/o-7",
        "headers": {"authorization": alice}}});
    let d = edge.post_json("/v1/check", &check).unwrap().json().unwrap();
    assert_eq!(d["allow"], true, "{d}");
    let minted = d["headers"]["authorization"].as_str().unwrap().to_owned();
    let r = upstream.get(Some(&minted));
    assert_eq!(r.status, 200, "{}", ctx("the minted token, straight"));
    assert_eq!(r.json().unwrap()["claims"]["jti"], json!(jti));
    let bare = minted.strip_prefix("Bearer ").unwrap();
    let r = upstream.get(Some(&format!("Bearer {}", tampered(bare))));
    assert_eq!(r.status, 401, "{}", ctx("tampered"));
    assert_eq!(r.json().unwrap()["error"], "InvalidSignatureError");
    let r = upstream.get(Some(&alice));
    assert_eq!(r.status, 401, "{}", ctx("the IdP's token, straight"));
    assert_eq!(r.json().unwrap()["error"], "PyJWKClientError", "{}", String::from_utf8_lossy(&r.body));
    let r = upstream.get(None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json().unwrap()["error"], "TokenError");
}
