//! Bearer token verification and the token part of the attack corpus: every bad
//! token is denied with the right reason, never allowed. Keys are generated per run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_language::reason::Reason;
use warden_pdp::engine::jwt::JwksVerifier;
use warden_pdp::engine::run::TokenVerifier;

const NOW: u64 = 1_800_000_000;

struct Files(Vec<(String, Vec<u8>)>);

impl Loader for Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.iter().find(|(p, _)| p == path).map(|(_, b)| b.clone()).ok_or_else(|| "no such file".to_owned())
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Setup {
    verifier: JwksVerifier,
    key: EncodingKey,
    public_point: Vec<u8>,
    edge: Vec<u32>,
}

/// Two zones trusting the same IdP with different audiences; one P-256 key, kid `k1`.
fn setup() -> Setup {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])}]});
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://api.example\"\n    algorithms ES256\n  }\n}\n\nzone internal {\n  issuer \"https://idp.example\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://internal.example\"\n    algorithms ES256\n  }\n  require tls\n}\n\napi a in zone edge {\n  auth bearer\n  route GET \"/a\" {\n    allow\n  }\n}\n\napi b in zone internal {\n  auth bearer\n  route GET \"/b\" {\n    allow\n  }\n}\n";
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    let files = Files(vec![("idp.jwks.json".to_owned(), jwks.to_string().into_bytes())]);
    let (graph, _) = compile(&set, &files).unwrap_or_else(|d| panic!("{d:#?}"));
    let verifier = JwksVerifier::new(&graph, &|_| None);
    let key = EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref());
    Setup { verifier, key, public_point: point, edge: graph.zones[0].issuers.clone() }
}

fn claims() -> Value {
    json!({"iss": "https://idp.example", "aud": "https://api.example", "sub": "u-1", "iat": NOW, "exp": NOW + 300})
}

fn sign(s: &Setup, claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &s.key).unwrap()
}

fn reason(s: &Setup, token: &str) -> Result<(), Reason> {
    s.verifier.verify(token, &s.edge, NOW * 1000).map(|_| ()).map_err(|(r, _)| r)
}

/// A token with a hand-written header and payload and the given signature part.
fn raw(header: &Value, payload: &str, signature: &str) -> String {
    format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(payload.as_bytes()), signature)
}

#[test]
fn a_good_token_verifies_with_its_claims() {
    let s = setup();
    let v = s.verifier.verify(&sign(&s, &claims(), Some("k1")), &s.edge, NOW * 1000).unwrap();
    assert_eq!(v.claims["sub"], "u-1");
    assert_eq!(v.issuer, s.edge[0]);
    // Only one key: a token without `kid` still finds it.
    assert_eq!(reason(&s, &sign(&s, &claims(), None)), Ok(()));
    // An audience list works when one entry matches.
    let mut c = claims();
    c["aud"] = json!(["https://other.example", "https://api.example"]);
    assert_eq!(reason(&s, &sign(&s, &c, Some("k1"))), Ok(()));
}

#[test]
fn attack_corpus_tokens_are_denied_with_the_right_reason() {
    let s = setup();
    let good = sign(&s, &claims(), Some("k1"));
    let (h, rest) = good.split_once('.').unwrap();
    let (p, sig) = rest.split_once('.').unwrap();
    let payload = String::from_utf8(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();

    // alg: none, unsigned.
    assert_eq!(reason(&s, &raw(&json!({"alg": "none", "kid": "k1"}), &payload, "")), Err(Reason::AlgorithmNotAllowed));
    // Algorithm confusion: HS256 keyed with the issuer's public key.
    let hs = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &claims(),
        &EncodingKey::from_secret(&s.public_point),
    )
    .unwrap();
    assert_eq!(reason(&s, &hs), Err(Reason::AlgorithmNotAllowed));
    // A valid token of another zone's audience.
    let mut other = claims();
    other["aud"] = json!("https://internal.example");
    assert_eq!(reason(&s, &sign(&s, &other, Some("k1"))), Err(Reason::AudienceMismatch));
    // Expired (beyond the 30 s leeway) and not yet valid.
    let mut expired = claims();
    expired["exp"] = json!(NOW - 31);
    assert_eq!(reason(&s, &sign(&s, &expired, Some("k1"))), Err(Reason::TokenExpired));
    let mut within_leeway = claims();
    within_leeway["exp"] = json!(NOW - 29);
    assert_eq!(reason(&s, &sign(&s, &within_leeway, Some("k1"))), Ok(()));
    let mut early = claims();
    early["nbf"] = json!(NOW + 3600);
    assert_eq!(reason(&s, &sign(&s, &early, Some("k1"))), Err(Reason::TokenNotYetValid));
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(reason(&s, &sign(&s, &no_exp, Some("k1"))), Err(Reason::TokenMalformed));
    // Unknown kid pointing at an attacker's key set: the header is never followed.
    let attacker = json!({"alg": "ES256", "kid": "evil", "jku": "https://attacker.example/jwks.json"});
    assert_eq!(reason(&s, &raw(&attacker, &payload, sig)), Err(Reason::KeyUnknown));
    let embedded = json!({"alg": "ES256", "kid": "k1", "jwk": {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}});
    assert_eq!(reason(&s, &raw(&embedded, &payload, sig)), Err(Reason::SignatureInvalid));
    // Signature stripped, payload tampered.
    assert_eq!(reason(&s, &format!("{h}.{p}.")), Err(Reason::SignatureInvalid));
    let tampered = payload.replace("u-1", "admin");
    assert_eq!(reason(&s, &format!("{h}.{}.{sig}", b64(tampered.as_bytes()))), Err(Reason::SignatureInvalid));
    // Larger than 8 KiB.
    let mut huge = claims();
    huge["pad"] = json!("x".repeat(9000));
    assert_eq!(reason(&s, &sign(&s, &huge, Some("k1"))), Err(Reason::TokenMalformed));
    // Duplicate keys in the payload (parsers disagree on which wins).
    let dup = payload.replacen("\"sub\":\"u-1\"", "\"sub\":\"u-1\",\"sub\":\"admin\"", 1);
    assert_eq!(reason(&s, &format!("{h}.{}.{sig}", b64(dup.as_bytes()))), Err(Reason::TokenMalformed));
    // Another issuer, and garbage.
    let mut foreign = claims();
    foreign["iss"] = json!("https://evil.example");
    assert_eq!(reason(&s, &sign(&s, &foreign, Some("k1"))), Err(Reason::IssuerUntrusted));
    for junk in ["", "a.b", "a.b.c.d", "!!!.???.***", "eyJ.eyJ.sig"] {
        assert_eq!(reason(&s, junk), Err(Reason::TokenMalformed), "{junk:?}");
    }
}

#[test]
fn the_right_zone_is_asked() {
    // The same token is refused by the internal zone's issuer (its own audience).
    let s = setup();
    let token = sign(&s, &claims(), Some("k1"));
    let internal = vec![s.edge[0] + 1];
    assert_eq!(
        s.verifier.verify(&token, &internal, NOW * 1000).map(|_| ()).map_err(|(r, _)| r),
        Err(Reason::AudienceMismatch)
    );
}
