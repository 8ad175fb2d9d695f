//! Bearer token verification and the token part of the attack corpus: every bad
//! token is denied with the right reason, never allowed. Keys are generated per run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::jwt::JwksVerifier;
use warden_engine::run::TokenVerifier;
use warden_language::reason::Reason;

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

/// A token with a hand-written header (any members), the standard claims, and a
/// good ES256 signature by the setup's key.
fn signed(s: &Setup, header: &Value) -> String {
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims().to_string().as_bytes()));
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &s.key, jsonwebtoken::Algorithm::ES256).unwrap();
    format!("{message}.{sig}")
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

/// Serves whatever document it holds and counts the fetches; `None` fails.
struct FakeIdp {
    doc: std::sync::Mutex<Option<String>>,
    fetches: std::sync::atomic::AtomicUsize,
}

impl warden_engine::jwt::JwksFetcher for FakeIdp {
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        assert_eq!(url, "https://idp.example/jwks.json");
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.doc.lock().unwrap().clone().map(String::into_bytes).ok_or_else(|| "connection refused".to_owned())
    }
}

fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    (EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()), jwk)
}

fn es256(key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let mut c = claims();
    c["exp"] = json!(NOW + 3600);
    jsonwebtoken::encode(&header, &c, key).unwrap()
}

#[test]
fn jwks_url_keys_are_fetched_refetched_on_unknown_kid_at_most_every_5s_and_kept_on_failure() {
    use std::sync::atomic::Ordering::SeqCst;
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks.json\" refresh 5m\n    audience \"https://api.example\"\n    algorithms ES256\n  }\n}\n\napi a in zone edge {\n  auth bearer\n  route GET \"/a\" {\n    allow\n  }\n}\n";
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    let (graph, _) = compile(&set, &Files(Vec::new())).unwrap_or_else(|d| panic!("{d:#?}"));
    let (k1, jwk1) = ec_key("k1");
    let (k2, jwk2) = ec_key("k2");
    let idp = std::sync::Arc::new(FakeIdp {
        doc: std::sync::Mutex::new(Some(json!({"keys": [jwk1.clone()]}).to_string())),
        fetches: 0.into(),
    });
    let verifier = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    let edge = graph.zones[0].issuers.clone();
    let at = |t: u64| NOW * 1000 + t;
    let check = |token: &str, t: u64| verifier.verify(token, &edge, at(t)).map(|_| ()).map_err(|(r, _)| r);

    // Before the first fetch the issuer has no keys.
    assert_eq!(verifier.key_count("https://idp.example"), 0);
    assert!(verifier.refresh_due(at(0)).is_empty());
    assert_eq!(verifier.key_count("https://idp.example"), 1);
    assert_eq!(check(&es256(&k1, "k1"), 0), Ok(()));
    assert_eq!(idp.fetches.load(SeqCst), 1);

    // The IdP rotates to k2. The first token with the new kid triggers a refetch
    // and is judged with its keys (the start-up fetch does not hold it back).
    *idp.doc.lock().unwrap() = Some(json!({"keys": [jwk1.clone(), jwk2.clone()]}).to_string());
    assert_eq!(check(&es256(&k2, "k2"), 10_000), Ok(()));
    assert_eq!(idp.fetches.load(SeqCst), 2);

    // An attacker's stream of unknown kids costs at most one fetch per 5 s.
    for t in 0..100 {
        assert_eq!(check(&es256(&k2, &format!("evil-{t}")), 11_000 + t * 50), Err(Reason::KeyUnknown));
    }
    assert_eq!(idp.fetches.load(SeqCst), 3, "one at 15 s, none at 11 to 14.95 s");

    // The IdP goes down: a refetch fails and the keys held before stay in use.
    *idp.doc.lock().unwrap() = None;
    assert_eq!(check(&es256(&k2, "k3"), 70_000), Err(Reason::KeyUnknown));
    assert_eq!(idp.fetches.load(SeqCst), 4);
    assert_eq!(check(&es256(&k1, "k1"), 71_000), Ok(()));
    assert_eq!(check(&es256(&k2, "k2"), 71_000), Ok(()));
    // Garbage from the IdP also keeps the old keys, and the periodic refresh
    // (5 min after the last success at 15 s) reports the failure by issuer.
    *idp.doc.lock().unwrap() = Some("{\"keys\": [1, 2".to_owned());
    assert!(verifier.refresh_due(at(100_000)).is_empty(), "not due yet");
    let failures = verifier.refresh_due(at(330_000));
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "https://idp.example");
    assert_eq!(verifier.key_count("https://idp.example"), 2);
    // A key set without k1 retires it at the next refresh.
    *idp.doc.lock().unwrap() = Some(json!({"keys": [jwk2]}).to_string());
    assert!(verifier.refresh_due(at(400_000)).is_empty());
    assert_eq!(check(&es256(&k1, "k1"), 400_000), Err(Reason::KeyUnknown));
    assert_eq!(check(&es256(&k2, "k2"), 400_000), Ok(()));
}

/// A fetcher like the service's: the outcome of a refetch for an unknown `kid`
/// reaches the verifier from another thread (joined before `fetch_then` returns,
/// so that no test races the wait's bound); it keeps the last good document per
/// URL, and counts fetches.
struct SlowIdp {
    doc: std::sync::Mutex<Option<String>>,
    cache: std::sync::Mutex<Option<(Vec<u8>, u64)>>,
    fetches: std::sync::atomic::AtomicUsize,
    at_ms: std::sync::atomic::AtomicU64,
}

impl SlowIdp {
    fn new(doc: Option<String>) -> std::sync::Arc<SlowIdp> {
        std::sync::Arc::new(SlowIdp {
            doc: std::sync::Mutex::new(doc),
            cache: std::sync::Mutex::new(None),
            fetches: 0.into(),
            at_ms: 0.into(),
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl warden_engine::jwt::JwksFetcher for SlowIdp {
    fn fetch(&self, _: &str) -> Result<Vec<u8>, String> {
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let doc = self.doc.lock().unwrap().clone().map(String::into_bytes).ok_or("connection refused")?;
        let at = self.at_ms.load(std::sync::atomic::Ordering::SeqCst);
        *self.cache.lock().unwrap() = Some((doc.clone(), at));
        Ok(doc)
    }

    fn fetch_then(&self, url: &str, done: warden_engine::jwt::FetchDone) {
        let got = self.fetch(url);
        std::thread::spawn(move || done(got)).join().unwrap();
    }

    fn cached(&self, _: &str) -> Option<(Vec<u8>, u64)> {
        self.cache.lock().unwrap().clone()
    }
}

fn url_graph(refresh: &str) -> warden_compiler::graph::Graph {
    let text = format!(
        "zone edge {{\n  issuer \"https://idp.example\" {{\n    jwks url \"https://idp.example/jwks.json\" refresh {refresh}\n    audience \"https://api.example\"\n    algorithms ES256\n  }}\n}}\n\napi a in zone edge {{\n  auth bearer\n  route GET \"/a\" {{\n    allow\n  }}\n}}\n"
    );
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    compile(&set, &Files(Vec::new())).unwrap_or_else(|d| panic!("{d:#?}")).0
}

#[test]
fn an_unknown_kid_is_judged_with_the_keys_a_refetch_brings_from_another_thread() {
    let graph = url_graph("5m");
    let (k1, jwk1) = ec_key("k1");
    let (k2, jwk2) = ec_key("k2");
    let idp = SlowIdp::new(Some(json!({"keys": [jwk1.clone()]}).to_string()));
    let verifier = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    let edge = graph.zones[0].issuers.clone();
    let at = |t: u64| NOW * 1000 + t;
    let check = |token: &str, t: u64| verifier.verify(token, &edge, at(t)).map(|_| ()).map_err(|(r, _)| r);
    assert!(verifier.refresh_due(at(0)).is_empty());
    assert_eq!((idp.fetches(), check(&es256(&k1, "k1"), 0)), (1, Ok(())));

    // Rotation: the first k2 token starts a refetch and is judged with its keys.
    *idp.doc.lock().unwrap() = Some(json!({"keys": [jwk1, jwk2]}).to_string());
    let generation = verifier.generation();
    assert_eq!(check(&es256(&k2, "k2"), 40_000), Ok(()));
    assert_eq!((idp.fetches(), verifier.generation()), (2, generation + 1));
    // The refresh period restarts from that fetch: nothing is due at 5 min.
    assert!(verifier.refresh_due(at(300_000)).is_empty());
    assert_eq!(idp.fetches(), 2);
    // Made-up kids: refused, one refetch per 5 s at most.
    for t in 0..50 {
        assert_eq!(check(&es256(&k2, &format!("evil-{t}")), 41_000 + t), Err(Reason::KeyUnknown));
    }
    assert_eq!(idp.fetches(), 2);
    assert_eq!(check(&es256(&k2, "evil-late"), 45_000), Err(Reason::KeyUnknown));
    assert_eq!(idp.fetches(), 3);
}

#[test]
fn a_token_with_a_crit_header_is_malformed() {
    // RFC 7515 §4.1.11: `crit` names extensions the recipient must understand;
    // Warden understands none. The signature is good: only `crit` is wrong.
    let s = setup();
    for crit in [json!(["b64"]), json!(["exp"]), json!(["https://example.com/ext"])] {
        let mut header = json!({"alg": "ES256", "kid": "k1", "crit": crit});
        header[crit[0].as_str().unwrap()] = json!(false);
        let got = s.verifier.verify(&signed(&s, &header), &s.edge, NOW * 1000).map(|_| ());
        assert_eq!(
            got,
            Err((
                Reason::TokenMalformed,
                "the token header marks extensions critical (`crit`), and Warden understands none".to_owned()
            )),
            "{crit}"
        );
    }
    for crit in [json!([]), json!("b64"), json!([1]), json!(["b64", 2]), json!(null), json!({})] {
        let header = json!({"alg": "ES256", "kid": "k1", "crit": crit});
        let got = s.verifier.verify(&signed(&s, &header), &s.edge, NOW * 1000).map(|_| ());
        assert_eq!(
            got,
            Err((
                Reason::TokenMalformed,
                "the token header's `crit` is not a non-empty list of extension names".to_owned()
            )),
            "{crit}"
        );
    }
    // The same header without `crit` verifies.
    assert_eq!(reason(&s, &signed(&s, &json!({"alg": "ES256", "kid": "k1"}))), Ok(()));
}

#[test]
fn a_short_refresh_period_is_honoured_and_failures_are_retried_no_faster() {
    let graph = url_graph("1s");
    let (k1, jwk1) = ec_key("k1");
    let (k2, jwk2) = ec_key("k2");
    let idp = SlowIdp::new(Some(json!({"keys": [jwk1]}).to_string()));
    let verifier = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    let edge = graph.zones[0].issuers.clone();
    let at = |t: u64| NOW * 1000 + t;
    let check = |token: &str, t: u64| verifier.verify(token, &edge, at(t)).map(|_| ()).map_err(|(r, _)| r);
    assert!(verifier.refresh_due(at(0)).is_empty());
    assert!(verifier.refresh_due(at(500)).is_empty());
    assert_eq!(idp.fetches(), 1);
    // The issuer replaces k1 by k2: the refresh one period later retires k1.
    *idp.doc.lock().unwrap() = Some(json!({"keys": [jwk2]}).to_string());
    let generation = verifier.generation();
    assert!(verifier.refresh_due(at(1_000)).is_empty());
    assert_eq!(idp.fetches(), 2);
    assert_eq!(verifier.generation(), generation + 1);
    assert_eq!(check(&es256(&k1, "k1"), 1_100), Err(Reason::KeyUnknown));
    assert_eq!(check(&es256(&k2, "k2"), 1_100), Ok(()));
    // The same document again is fresh, not new: the generation stays.
    assert!(verifier.refresh_due(at(2_000)).is_empty());
    assert_eq!((idp.fetches(), verifier.generation()), (3, generation + 1));
    // Down: each period one attempt fails; the keys stay.
    *idp.doc.lock().unwrap() = None;
    assert_eq!(verifier.refresh_due(at(3_000)).len(), 1);
    assert!(verifier.refresh_due(at(3_500)).is_empty(), "a failure is retried after the period, not at once");
    assert_eq!(verifier.refresh_due(at(4_000)).len(), 1);
    assert_eq!(idp.fetches(), 5);
    assert_eq!(check(&es256(&k2, "k2"), 4_100), Ok(()));
}

#[test]
fn a_new_verifier_starts_with_the_fetchers_last_good_document() {
    let graph = url_graph("5m");
    let (k1, jwk1) = ec_key("k1");
    let idp = SlowIdp::new(Some(json!({"keys": [jwk1]}).to_string()));
    idp.at_ms.store(NOW * 1000, std::sync::atomic::Ordering::SeqCst);
    let edge = graph.zones[0].issuers.clone();
    let at = |t: u64| NOW * 1000 + t;
    let first = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    assert!(first.refresh_due(at(0)).is_empty());
    assert_eq!(idp.fetches(), 1);

    // A reload a minute later: the cached document is fresh, nothing is fetched.
    let second = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    assert_eq!(second.key_count("https://idp.example"), 1);
    assert!(second.refresh_due(at(60_000)).is_empty());
    assert_eq!(idp.fetches(), 1);
    assert!(second.verify(&es256(&k1, "k1"), &edge, at(60_000)).is_ok());

    // A reload after the refresh period with the issuer down: the fetch fails and
    // the new verifier keeps the last good keys.
    *idp.doc.lock().unwrap() = None;
    let third = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    let failures = third.refresh_due(at(400_000));
    assert_eq!((failures.len(), idp.fetches()), (1, 2));
    assert!(third.verify(&es256(&k1, "k1"), &edge, at(400_000)).is_ok());
}

#[test]
fn a_jwk_that_names_its_algorithm_is_not_used_for_another() {
    // The JWK says ES256; the issuer allows ES256 and ES384. A token claiming ES384
    // with that kid must not be verified with the ES256 key.
    let (_, jwk) = ec_key("k1");
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://api.example\"\n    algorithms ES256, ES384\n  }\n}\n\napi a in zone edge {\n  auth bearer\n  route GET \"/a\" {\n    allow\n  }\n}\n";
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    let files = Files(vec![("idp.jwks.json".to_owned(), json!({"keys": [jwk]}).to_string().into_bytes())]);
    let (graph, _) = compile(&set, &files).unwrap_or_else(|d| panic!("{d:#?}"));
    let verifier = JwksVerifier::new(&graph, &|_| None);
    let token = raw(&json!({"alg": "ES384", "kid": "k1"}), &claims().to_string(), "AAAA");
    let got = verifier.verify(&token, &graph.zones[0].issuers, NOW * 1000).map(|_| ()).map_err(|(r, _)| r);
    assert_eq!(got, Err(Reason::KeyUnknown));
}

#[test]
fn encryption_keys_never_verify_tokens() {
    // The right key pair, but published for encryption (`use: enc`, or an
    // encryption `alg`): no token verifies with it.
    for marking in [json!({"use": "enc"}), json!({"alg": "ECDH-ES"})] {
        let (key, mut jwk) = ec_key("k1");
        jwk.as_object_mut().unwrap().remove("alg");
        for (k, v) in marking.as_object().unwrap() {
            jwk[k] = v.clone();
        }
        let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://api.example\"\n    algorithms ES256\n  }\n}\n\napi a in zone edge {\n  auth bearer\n  route GET \"/a\" {\n    allow\n  }\n}\n";
        let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
        let files = Files(vec![("idp.jwks.json".to_owned(), json!({"keys": [jwk]}).to_string().into_bytes())]);
        let (graph, _) = compile(&set, &files).unwrap_or_else(|d| panic!("{d:#?}"));
        let verifier = JwksVerifier::new(&graph, &|_| None);
        let got =
            verifier.verify(&es256(&key, "k1"), &graph.zones[0].issuers, NOW * 1000).map(|_| ()).map_err(|(r, _)| r);
        assert_eq!(got, Err(Reason::KeyUnknown), "{marking}");
    }
}
