//! The phantom-token pattern end to end: a real OpenID provider issues an
//! opaque (reference) token; the client sends it to real nginx; nginx asks the
//! edge `warden serve` (forward auth), which introspects the token at the
//! provider and mints a JWT for the zone behind; nginx hands that JWT, and not
//! the opaque token, to the upstream. A revoked or made-up opaque token never
//! reaches the upstream.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use warden_e2e::gateway::{Gateway, HOST, Seen, Tls, Upstream, https, nginx_command, nginx_conf, nginx_forward_auth};
use warden_e2e::oidc::Provider;
use warden_e2e::{Probe, Warden, free_port, free_ports, generate_key, issuer_section};

#[test]
fn an_opaque_token_outside_is_a_jwt_inside() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Provider::start(&dir.path().join("provider.log"));
    let key = dir.path().join("edge.pem");
    let (ok, out) = generate_key(&key).unwrap();
    assert!(ok, "{out}");
    let edge_port = free_port().unwrap();
    let edge = format!("http://127.0.0.1:{edge_port}");
    let set = dir.path().join("edge");
    std::fs::create_dir(&set).unwrap();
    std::fs::write(set.join("introspection.secret"), "warden-introspector-secret").unwrap();
    std::fs::write(
        set.join("edge.warden"),
        format!(
            r#"zone public {{
  issuer "{idp}" {{
    introspect url "{idp}/token/introspection" client "warden-introspector" secret file "introspection.secret" cache 1s
    audience "https://opaque.example"
  }}
}}

zone internal {{
  issuer "{edge}" {{
    jwks url "{edge}/.well-known/jwks.json"
    audience "https://internal.example"
    algorithms ES256
  }}
}}

api things in zone public {{
  auth bearer

  route GET "/things" {{
    scope "read"
    allow
    mint for zone internal {{
      claim caller = claim.client_id
    }}
  }}
}}
"#,
            idp = idp.issuer()
        ),
    )
    .unwrap();
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!("{}\n[callers]\ntrusted_proxies = [\"127.0.0.1/32\"]\n", issuer_section(&edge, &[(&key, "active")])),
    )
    .unwrap();
    let w = Warden::start_on(&set, edge_port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();

    let upstream = Upstream::start();
    let tls = Tls::new(dir.path());
    let [port] = free_ports::<1>().unwrap();
    let root = dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let servers = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name {HOST};\n    ssl_certificate {};\n    ssl_certificate_key {};\n\n    \
         location / {{\n      auth_request /_warden;\n      auth_request_set $minted $upstream_http_authorization;\n      \
         proxy_set_header Authorization $minted;\n      proxy_pass http://{};\n    }}\n\n{}  }}\n",
        tls.cert.display(),
        tls.key.display(),
        upstream.addr,
        nginx_forward_auth(w.http)
    );
    let conf = root.join("nginx.conf");
    std::fs::write(&conf, nginx_conf("tests/tests/phantom_token.rs", &root, &servers)).unwrap();
    let g = Gateway::start("nginx", nginx_command(&root, &conf), root.join("error.log"), &[port]);

    let opaque = idp.opaque_token();
    assert_ne!(opaque.split('.').count(), 3, "{opaque}");
    let r = https(&tls, port, "/things", &[("authorization", &format!("Bearer {opaque}"))]);
    assert_eq!(r.status, 200, "{}", g.log_text());
    let seen = Seen::of(&r);
    let auth = seen.all("authorization");
    assert_eq!(auth.len(), 1, "{auth:?}");
    let jwt = auth[0].strip_prefix("Bearer ").unwrap();
    assert!(!jwt.contains(&opaque), "the opaque token never reaches the upstream");
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["iss"], edge.as_str(), "{claims}");
    assert_eq!(claims["aud"], "https://internal.example");
    assert_eq!(claims["caller"], "warden-test", "copied from the introspection answer");
    assert_eq!(claims["scope"], "read");

    // Made up, and revoked (once the kept answer has run out): refused at nginx.
    let hits = upstream.hits();
    let r = https(&tls, port, "/things", &[("authorization", "Bearer made-up-reference-token")]);
    assert_eq!(r.status, 401);
    idp.revoke(&opaque);
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    let r = https(&tls, port, "/things", &[("authorization", &format!("Bearer {opaque}"))]);
    assert_eq!(r.status, 401);
    assert_eq!(upstream.hits(), hits, "refused requests never reach the upstream");
}
