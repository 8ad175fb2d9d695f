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
            // Expired exactly when the leeway (30 s by default) runs out, as a JWT is.
            "at-leeway" => json!({"active": true, "aud": "https://api.example", "exp": NOW_S - 30}),
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
        ("at-leeway", Reason::TokenExpired, 401),
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

/// A zone whose first issuer introspects every token it issued (`always`),
/// beside a second issuer whose JWTs are verified locally.
const ALWAYS: &str = r#"zone edge {
  issuer "https://idp.example" {
    introspect url "https://idp.example/introspect" client "warden" secret env "WARDEN_INTROSPECTION_SECRET" always
    audience "https://api.example"
  }
  issuer "https://other.example" {
    jwks url "https://other.example/jwks"
    audience "https://api.example"
  }
}

api a in zone edge {
  host "api.example"
  auth bearer
  route GET "/accounts/{id}" {
    allow when claim.customer_id == path.id
  }
}
"#;

/// A JWT-shaped token with these claims (its signature is whatever the
/// verifier below says).
fn jwt(claims: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig", b64(&json!({"alg": "ES256"})), b64(claims))
}

fn payload(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let part = token.split('.').nth(1)?;
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Takes every JWT-shaped token as signed by the issuer its `iss` names.
struct LocalJwts(AtomicUsize);

impl warden_engine::run::TokenVerifier for LocalJwts {
    fn verify(
        &self,
        token: &str,
        issuers: &[u32],
        _now_ms: u64,
    ) -> Result<warden_engine::run::VerifiedToken, (Reason, String)> {
        self.0.fetch_add(1, Ordering::Relaxed);
        let claims = payload(token).ok_or((Reason::TokenMalformed, "not a JWT".to_owned()))?;
        let issuer = match claims.get("iss").and_then(Value::as_str) {
            Some("https://idp.example") => 0,
            _ => 1,
        };
        assert!(issuers.contains(&issuer));
        Ok(warden_engine::run::VerifiedToken { claims: claims.into(), issuer })
    }
}

/// The authorization server: a token is active unless its `jti` is
/// `revoked`, and its answer names customer 42 whatever the JWT says.
struct Revocations(AtomicUsize);

impl Introspector for Revocations {
    fn introspect(&self, issuer: u32, token: &str, _now_ms: u64) -> Result<Arc<Map<String, Value>>, String> {
        assert_eq!(issuer, 0);
        self.0.fetch_add(1, Ordering::Relaxed);
        let claims = payload(token).ok_or("not a JWT")?;
        let active = claims.get("jti") != Some(&json!("revoked"));
        let answer = json!({"active": active, "aud": "https://api.example", "exp": NOW_S + 60, "customer_id": "42"});
        let Value::Object(map) = answer else { panic!("an object") };
        Ok(Arc::new(map))
    }
}

fn always_engine(policy: &str) -> (Engine, Arc<LocalJwts>, Arc<Revocations>) {
    let set = warden_compiler::PolicySet {
        files: vec![warden_compiler::SourceFile::new("test.warden".to_owned(), policy.to_owned())],
    };
    let (graph, _) = warden_compiler::compile(&set, &test_tokens::NoFiles).unwrap();
    let prepared = warden_engine::eval::Prepared::new(graph).unwrap();
    let (local, asked) = (Arc::new(LocalJwts(AtomicUsize::new(0))), Arc::new(Revocations(AtomicUsize::new(0))));
    let limiter = Arc::new(warden_engine::limits::Memory::new(100));
    let engine = Engine::new(prepared, limiter, local.clone()).with_introspector(asked.clone());
    (engine, local, asked)
}

#[test]
fn with_always_the_issuers_jwts_are_asked_about_and_a_revoked_one_is_refused() {
    let (e, local, asked) = always_engine(ALWAYS);
    let claims = |iss: &str, jti: &str| json!({"iss": iss, "jti": jti, "aud": "https://api.example", "exp": NOW_S + 60, "customer_id": "7"});
    // The issuer's JWT is asked about, and the answer's claims are the ones judged.
    let d = ask(&e, &jwt(&claims("https://idp.example", "a")), "/accounts/42");
    assert_eq!(d.reason, Reason::Allowed, "{d:?}");
    assert_eq!((asked.0.load(Ordering::Relaxed), local.0.load(Ordering::Relaxed)), (1, 0));
    // Revoked at the issuer: refused, though its signature would verify.
    let d = ask(&e, &jwt(&claims("https://idp.example", "revoked")), "/accounts/7");
    assert_eq!((d.reason, d.status), (Reason::TokenInactive, 401));
    // A JWT naming no issuer is asked about too: the issuer decides.
    let mut anonymous = claims("", "revoked");
    anonymous.as_object_mut().unwrap().remove("iss");
    assert_eq!(ask(&e, &jwt(&anonymous), "/accounts/7").reason, Reason::TokenInactive);
    assert_eq!(asked.0.load(Ordering::Relaxed), 3);
    // The other issuer's JWT is verified with its keys, and not sent to the first.
    let d = ask(&e, &jwt(&claims("https://other.example", "revoked")), "/accounts/7");
    assert_eq!(d.reason, Reason::Allowed, "{d:?}");
    assert_eq!((asked.0.load(Ordering::Relaxed), local.0.load(Ordering::Relaxed)), (3, 1));

    // Without `always`, the introspecting issuer's JWTs are verified locally.
    let (e, local, asked) = always_engine(&ALWAYS.replace(" always\n", "\n"));
    let d = ask(&e, &jwt(&claims("https://idp.example", "revoked")), "/accounts/7");
    assert_eq!(d.reason, Reason::Allowed, "{d:?}");
    assert_eq!((asked.0.load(Ordering::Relaxed), local.0.load(Ordering::Relaxed)), (0, 1));
}
