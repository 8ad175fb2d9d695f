//! Opaque tokens (RFC 7662) in the engine: a token that is not a JWT is asked
//! of the zone's introspecting issuer, and the answer is checked like a JWT's
//! claims (active, issuer, audience, expiry) before its members become the
//! claims the rules read; an issuer that cannot be asked denies with 503.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Map, Value, json};
use warden_engine::decision::Decision;
use warden_engine::introspect::Introspector;
use warden_engine::run::{Engine, HttpRequest};
use warden_language::reason::Reason;

#[path = "common/test_tokens.rs"]
mod test_tokens;

const POLICY: &str = r#"zone edge {
  issuer "https://idp.example" {
    introspect url "https://idp.example/introspect" client "warden" secret env "WARDEN_INTROSPECTION_SECRET"
    audience "https://api.example"
  }
}

api a in zone edge {
  host "api.example"
  auth bearer
  route GET "/accounts/{id}" {
    scope "accounts:read"
    allow when claim.customer_id == path.id
  }
}
"#;

const NOW_S: u64 = 1_800_000_000;

/// Answers by token, as an authorization server would; counts the questions.
struct Answers(AtomicUsize);

impl Introspector for Answers {
    fn introspect(&self, issuer: u32, token: &str, _now_ms: u64) -> Result<Arc<Map<String, Value>>, String> {
        assert_eq!(issuer, 0);
        self.0.fetch_add(1, Ordering::Relaxed);
        let good = json!({"active": true, "iss": "https://idp.example", "aud": "https://api.example", "sub": "u-1",
            "customer_id": "42", "scope": "accounts:read", "exp": NOW_S + 60});
        let answer = match token {
            "good" => good,
            "inactive" => json!({"active": false}),
            "foreign" => {
                json!({"active": true, "iss": "https://other.example", "aud": "https://api.example", "exp": NOW_S + 60})
            }
            "elsewhere" => json!({"active": true, "aud": ["https://other.example"], "exp": NOW_S + 60}),
            "expired" => json!({"active": true, "aud": "https://api.example", "exp": NOW_S - 120}),
            "no-exp" => json!({"active": true, "aud": "https://api.example"}),
            "narrow" => json!({"active": true, "aud": "https://api.example", "exp": NOW_S + 60, "scope": "profile",
                "customer_id": "42"}),
            _ => return Err("the issuer did not answer in time".to_owned()),
        };
        let Value::Object(map) = answer else { panic!("an object") };
        Ok(Arc::new(map))
    }
}

fn engine(answers: Option<Arc<Answers>>) -> Engine {
    let e = test_tokens::engine_of(POLICY);
    match answers {
        Some(a) => e.with_introspector(a),
        None => e,
    }
}

fn ask(e: &Engine, token: &str, path: &str) -> Decision {
    e.check_http(&HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: "api.example".to_owned(),
        target: path.to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer {token}"))],
        now_ms: NOW_S * 1_000,
        ..HttpRequest::default()
    })
}

#[test]
fn an_active_opaque_token_is_judged_by_the_answers_claims() {
    let answers = Arc::new(Answers(AtomicUsize::new(0)));
    let e = engine(Some(answers.clone()));
    assert_eq!(ask(&e, "good", "/accounts/42").reason, Reason::Allowed);
    // The answer's claims are the token's: another customer's account is not allowed.
    assert_eq!(ask(&e, "good", "/accounts/43").reason, Reason::NoAllowRule);
    // Its scope is the token's scope.
    assert_eq!(ask(&e, "narrow", "/accounts/42").reason, Reason::InsufficientScope);
    assert_eq!(answers.0.load(Ordering::Relaxed), 3);
}

#[test]
fn every_other_answer_is_refused_with_its_reason() {
    let e = engine(Some(Arc::new(Answers(AtomicUsize::new(0)))));
    for (token, reason, status) in [
        ("inactive", Reason::TokenInactive, 401),
        ("foreign", Reason::IssuerUntrusted, 401),
        ("elsewhere", Reason::AudienceMismatch, 401),
        ("expired", Reason::TokenExpired, 401),
        ("no-exp", Reason::TokenMalformed, 401),
        ("down", Reason::IntrospectionUnavailable, 503),
    ] {
        let d = ask(&e, token, "/accounts/42");
        assert_eq!((d.reason, d.status), (reason, status), "{token}: {d:?}");
    }
    // A service that cannot introspect refuses opaque tokens: 503, never an allow.
    let d = ask(&engine(None), "good", "/accounts/42");
    assert_eq!((d.reason, d.status), (Reason::IntrospectionUnavailable, 503));
}
