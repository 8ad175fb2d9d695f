//! Sender-constrained tokens (RFC 8705 §3) in the engine: a token with
//! `cnf.x5t#S256` passes only with that certificate's thumbprint; a `cnf` the
//! engine cannot check (a DPoP `jkt`, the wrong shape) is refused, never
//! ignored; `require bound` refuses unbound tokens.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use serde_json::{Value, json};
use warden_engine::run::{Engine, HttpRequest};
use warden_language::reason::Reason;

#[path = "common/test_tokens.rs"]
mod test_tokens;

const POLICY: &str = r#"zone strict {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks"
    audience "https://api.example"
  }
  require bound
}

zone lax {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks"
    audience "https://lax.example"
  }
}

api strict in zone strict {
  host "strict.example"
  auth bearer
  route GET "/x" {
    allow
  }
}

api lax in zone lax {
  host "lax.example"
  auth bearer
  route GET "/x" {
    allow
  }
}
"#;

const MINE: &str = "c6x9lby-9WMH7aoQPE3aJ2Z9HQja5EJJhz8wDXioo68";
const OTHER: &str = "RLNdH-g68OBv4mZU_HWyU0otDqzP798uOo6_u9_OSYU";

fn engine() -> Engine {
    test_tokens::engine_of(POLICY)
}

fn reason(e: &Engine, host: &str, claims: &Value, certificate: Option<&str>) -> Reason {
    let req = HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: host.to_owned(),
        target: "/x".to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer test:{claims}"))],
        certificate: certificate.map(str::to_owned),
        now_ms: 1_800_000_000_000,
        ..HttpRequest::default()
    };
    let d = e.check_http(&req);
    if d.reason == Reason::TokenNotBound {
        assert_eq!(d.status, 401);
        assert!(d.header("www-authenticate").is_some_and(|h| h.contains("token_not_bound")), "{d:?}");
    }
    d.reason
}

#[test]
fn a_bound_token_passes_only_with_its_certificate() {
    let e = engine();
    let bound = json!({"sub": "u", "cnf": {"x5t#S256": MINE}});
    for host in ["strict.example", "lax.example"] {
        assert_eq!(reason(&e, host, &bound, Some(MINE)), Reason::Allowed, "{host}");
        assert_eq!(reason(&e, host, &bound, Some(OTHER)), Reason::TokenNotBound, "{host}");
        assert_eq!(reason(&e, host, &bound, None), Reason::TokenNotBound, "{host}");
    }
}

#[test]
fn require_bound_refuses_unbound_tokens_and_nothing_unreadable_passes() {
    let e = engine();
    let plain = json!({"sub": "u"});
    assert_eq!(reason(&e, "strict.example", &plain, Some(MINE)), Reason::TokenNotBound);
    assert_eq!(reason(&e, "lax.example", &plain, None), Reason::Allowed);
    // Bindings the engine cannot check are refused wherever they are.
    for cnf in [
        json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        json!({"x5t#S256": 42}),
        json!({"x5t": MINE}),
        json!("x5t#S256"),
        json!([MINE]),
    ] {
        let claims = json!({"sub": "u", "cnf": cnf});
        assert_eq!(reason(&e, "lax.example", &claims, Some(MINE)), Reason::TokenNotBound, "{claims}");
        assert_eq!(reason(&e, "strict.example", &claims, Some(MINE)), Reason::TokenNotBound, "{claims}");
    }
}
