//! DPoP (RFC 9449) in the engine: a token bound to a key (`cnf.jkt`) passes
//! only with the `DPoP` scheme and a proof by that key for this method, URI
//! and token, fresh and used once; every other proof is refused with its own
//! reason and the `DPoP` challenge.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::Digest as _;
use warden_engine::decision::Decision;
use warden_engine::limits::Memory;
use warden_engine::run::{Engine, HttpRequest};
use warden_language::reason::Reason;

#[path = "common/test_tokens.rs"]
mod test_tokens;

const POLICY: &str = r#"zone edge {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks"
    audience "https://api.example"
  }
}

api a in zone edge {
  host "api.example"
  auth bearer
  route GET "/orders/{id}" {
    allow
  }
}
"#;

const NOW_S: u64 = 1_800_000_000;

fn engine() -> Engine {
    test_tokens::engine_of(POLICY)
}

/// A client's DPoP key.
struct Key(EcdsaKeyPair);

impl Key {
    fn new() -> Key {
        let doc = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        Key(doc)
    }

    fn jwk(&self) -> Map<String, Value> {
        let point = self.0.public_key().as_ref();
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let Value::Object(m) = json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
        else {
            panic!("an object")
        };
        m
    }

    fn jkt(&self) -> String {
        warden_engine::dpop::thumbprint(&self.jwk()).unwrap()
    }

    /// A proof with `header` and `claims` as given, signed by this key.
    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.0.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()})
    }
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

fn claims(jti: &str, token: &str) -> Value {
    json!({"jti": jti, "htm": "GET", "htu": "https://api.example/orders/1", "iat": NOW_S, "ath": ath(token)})
}

fn ask(e: &Engine, scheme: &str, token: &str, proof: Option<&str>) -> Decision {
    let mut headers = vec![("authorization".to_owned(), format!("{scheme} {token}"))];
    if let Some(p) = proof {
        headers.push(("dpop".to_owned(), p.to_owned()));
    }
    e.check_http(&HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: "api.example".to_owned(),
        target: "/orders/1?x=1".to_owned(),
        headers,
        now_ms: NOW_S * 1_000 + 500,
        ..HttpRequest::default()
    })
}

#[test]
fn a_proof_by_the_tokens_key_for_this_request_passes_once() {
    let e = engine();
    let key = Key::new();
    let token = format!("test:{}", json!({"sub": "u", "cnf": {"jkt": key.jkt()}}));
    let proof = key.sign(&key.header(), &claims("p-1", &token));
    let d = ask(&e, "DPoP", &token, Some(&proof));
    assert_eq!(d.reason, Reason::Allowed, "{d:?}");
    // The same proof again: a replay.
    let d = ask(&e, "DPoP", &token, Some(&proof));
    assert_eq!((d.reason, d.status), (Reason::DpopProofInvalid, 401), "{d:?}");
    let challenge = d.header("www-authenticate").unwrap();
    assert!(challenge.starts_with("DPoP ") && challenge.contains("error=\"invalid_dpop_proof\""), "{challenge}");
    assert!(challenge.contains("algs=\"ES256"), "{challenge}");
    // A new proof passes.
    assert_eq!(ask(&e, "DPoP", &token, Some(&key.sign(&key.header(), &claims("p-2", &token)))).reason, Reason::Allowed);
}

#[test]
fn every_other_proof_is_refused_with_its_reason() {
    let e = engine();
    let key = Key::new();
    let other = Key::new();
    let token = format!("test:{}", json!({"sub": "u", "cnf": {"jkt": key.jkt()}}));
    let good = claims("x", &token);
    let with = |field: &str, value: Value| {
        let mut c = good.clone();
        c[field] = value;
        c
    };
    let mut private = key.header();
    private["jwk"]["d"] = json!("AAAA");
    let invalid: Vec<(&str, String)> = vec![
        ("no proof", String::new()),
        ("another method", key.sign(&key.header(), &with("htm", json!("POST")))),
        ("another URI", key.sign(&key.header(), &with("htu", json!("https://api.example/orders/2")))),
        ("another host", key.sign(&key.header(), &with("htu", json!("https://evil.example/orders/1")))),
        ("another token", key.sign(&key.header(), &with("ath", json!(ath("test:{}"))))),
        ("too old", key.sign(&key.header(), &with("iat", json!(NOW_S - 120)))),
        ("from the future", key.sign(&key.header(), &with("iat", json!(NOW_S + 120)))),
        ("no jti", key.sign(&key.header(), &with("jti", json!("")))),
        ("wrong typ", key.sign(&json!({"typ": "JWT", "alg": "ES256", "jwk": key.jwk()}), &good)),
        ("HMAC", key.sign(&json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": key.jwk()}), &good)),
        ("alg none", key.sign(&json!({"typ": "dpop+jwt", "alg": "none", "jwk": key.jwk()}), &good)),
        ("no jwk", key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &good)),
        ("a private key in the jwk", key.sign(&private, &good)),
        ("signed by another key than its jwk", other.sign(&key.header(), &good)),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (what, proof) in &invalid {
        let proof = Some(proof.as_str()).filter(|p| !p.is_empty());
        let d = ask(&e, "DPoP", &token, proof);
        assert_eq!(d.reason, Reason::DpopProofInvalid, "{what}: {d:?}");
    }
    // The proof is valid, but by another key than the token is bound to.
    let d = ask(&e, "DPoP", &token, Some(&other.sign(&other.header(), &claims("y", &token))));
    assert_eq!(d.reason, Reason::TokenNotBound, "{d:?}");
    // A DPoP-bound token with the Bearer scheme, and a plain token with the DPoP scheme.
    let d = ask(&e, "Bearer", &token, Some(&key.sign(&key.header(), &claims("z", &token))));
    assert_eq!(d.reason, Reason::TokenNotBound, "{d:?}");
    let plain = format!("test:{}", json!({"sub": "u"}));
    let d = ask(&e, "DPoP", &plain, Some(&key.sign(&key.header(), &claims("w", &plain))));
    assert_eq!(d.reason, Reason::TokenNotBound, "{d:?}");
    assert_eq!(ask(&e, "Bearer", &plain, None).reason, Reason::Allowed);
}

/// A flood of distinct proofs: the replay store (the limiter's in-process
/// store) stays within its bound, and every fresh proof is still judged.
#[test]
fn the_replay_store_stays_within_its_bound_under_a_flood_of_proofs() {
    let store = Arc::new(Memory::new(256));
    let e = test_tokens::engine_with(POLICY, store.clone());
    let key = Key::new();
    let token = format!("test:{}", json!({"sub": "u", "cnf": {"jkt": key.jkt()}}));
    let proofs: Vec<String> = (0..2_000).map(|i| key.sign(&key.header(), &claims(&format!("f-{i}"), &token))).collect();
    for proof in &proofs {
        assert_eq!(ask(&e, "DPoP", &token, Some(proof)).reason, Reason::Allowed);
    }
    use warden_engine::limits::Limiter as _;
    assert!(store.keys() <= 256, "{} keys", store.keys());
    // The latest proofs are still remembered: a replay of the last one is refused.
    assert_eq!(ask(&e, "DPoP", &token, proofs.last().map(String::as_str)).reason, Reason::DpopProofInvalid);
}
