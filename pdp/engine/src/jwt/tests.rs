//! Tests of bearer JWT verification and of `jwks url` key sets: rotation, unknown `kid` refetches, coalescing.

use std::sync::atomic::{AtomicBool, AtomicUsize};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use warden_compiler::{Loader, PolicySet, SourceFile, compile};

use super::*;

const ISS: &str = "https://idp.example";
/// Unix ms of the tests' clock at their start.
const T0: u64 = 1_800_000_000_000;

struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("no such file".to_owned())
    }
}

/// One `jwks url` issuer (refresh 5m) trusted by zone `edge`.
fn graph() -> Graph {
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks.json\" refresh 5m\n    audience \"https://api.example\"\n    algorithms ES256\n  }\n}\n\napi a in zone edge {\n  auth bearer\n  route GET \"/a\" {\n    allow\n  }\n}\n";
    let set = PolicySet { files: vec![SourceFile::new("t.warden", text)] };
    compile(&set, &NoFiles).unwrap_or_else(|d| panic!("{d:#?}")).0
}

fn b64e(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A P-256 signing key and its public JWK under `kid`.
fn key(kid: &str) -> (EncodingKey, Value) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
        "x": b64e(&point[1..33]), "y": b64e(&point[33..65])});
    (EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()), jwk)
}

fn token(key: &EncodingKey, kid: &str) -> String {
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let claims = json!({"iss": ISS, "aud": "https://api.example", "exp": T0 / 1000 + 3600});
    jsonwebtoken::encode(&header, &claims, key).unwrap()
}

fn set(jwks: &[&Value]) -> String {
    json!({ "keys": jwks }).to_string()
}

/// A fake IdP that counts fetches. While `hold` is set, a refetch for an
/// unknown `kid` is parked until the test calls [`Idp::release`] (or
/// [`Idp::lose`]); otherwise it answers at once. `None` as the document fails.
#[derive(Default)]
struct Idp {
    doc: Mutex<Option<String>>,
    fetches: AtomicUsize,
    hold: AtomicBool,
    parked: Mutex<Vec<FetchDone>>,
}

impl Idp {
    fn new(doc: String) -> Arc<Idp> {
        Arc::new(Idp { doc: Mutex::new(Some(doc)), ..Idp::default() })
    }

    fn serve(&self, doc: Option<String>) {
        *self.doc.lock().unwrap() = doc;
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Answers the parked refetches with the current document.
    fn release(&self) {
        let parked: Vec<FetchDone> = self.parked.lock().unwrap().drain(..).collect();
        for done in parked {
            done(self.answer());
        }
    }

    /// Drops the parked refetches without answering.
    fn lose(&self) {
        self.parked.lock().unwrap().clear();
    }

    fn answer(&self) -> Result<Vec<u8>, String> {
        self.doc.lock().unwrap().clone().map(String::into_bytes).ok_or_else(|| "connection refused".to_owned())
    }
}

impl JwksFetcher for Idp {
    fn fetch(&self, _: &str) -> Result<Vec<u8>, String> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.answer()
    }

    fn fetch_then(&self, url: &str, done: FetchDone) {
        if self.hold.load(Ordering::SeqCst) {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            self.parked.lock().unwrap().push(done);
        } else {
            done(self.fetch(url));
        }
    }
}

/// A verifier over `idp` after its start-up fetch at `T0`, and zone `edge`'s issuers.
fn started(idp: &Arc<Idp>) -> (JwksVerifier, Vec<u32>) {
    let graph = graph();
    let verifier = JwksVerifier::new(&graph, &|_| None).with_fetcher(idp.clone());
    assert!(verifier.refresh_due(T0).is_empty());
    assert_eq!(idp.fetches(), 1);
    (verifier, graph.zones[0].issuers.clone())
}

fn check(v: &JwksVerifier, edge: &[u32], token: &str, at: u64) -> Result<(), Reason> {
    v.verify(token, edge, at).map(|_| ()).map_err(|(r, _)| r)
}

#[test]
fn the_start_up_fetch_does_not_hold_back_a_rotation_right_after_it() {
    let (k1, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (v, edge) = started(&idp);
    assert_eq!(check(&v, &edge, &token(&k1, "k1"), T0), Ok(()));
    // The IdP rotates one second after start and signs with k2 at once: the
    // first k2 token is judged with the refetched keys.
    idp.serve(Some(set(&[&jwk1, &jwk2])));
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 1_000), Ok(()));
    assert_eq!(idp.fetches(), 2);
    // Nor does the periodic refresh: another rotation just after it is picked up
    // (5 s after the last unknown-`kid` refetch).
    let (k3, jwk3) = key("k3");
    idp.serve(Some(set(&[&jwk2, &jwk3])));
    assert!(v.refresh_due(T0 + 301_000).is_empty());
    assert_eq!(idp.fetches(), 3);
    let (k4, jwk4) = key("k4");
    idp.serve(Some(set(&[&jwk3, &jwk4])));
    assert_eq!(check(&v, &edge, &token(&k4, "k4"), T0 + 301_001), Ok(()));
    assert_eq!(idp.fetches(), 4);
    assert_eq!(check(&v, &edge, &token(&k3, "k3"), T0 + 301_002), Ok(()));
}

#[test]
fn requests_with_an_unknown_kid_share_one_refetch_and_are_judged_with_its_keys() {
    let (_, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (mut v, edge) = started(&idp);
    // Long enough that the threads below cannot give up before the test releases
    // the refetch, however slowly they are scheduled.
    v.unknown_kid_wait = Duration::from_secs(120);
    idp.serve(Some(set(&[&jwk1, &jwk2])));
    idp.hold.store(true, Ordering::SeqCst);
    let new = token(&k2, "k2");
    const N: usize = 8;
    let (v, edge, new) = (&v, &edge, &new);
    let results = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..N).map(|i| scope.spawn(move || check(v, edge, new, T0 + 2_000 + i as u64))).collect();
        // Every request waits, on the one refetch the first of them started.
        let deadline = Instant::now() + Duration::from_secs(30);
        while v.waiting(ISS) < N && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!((v.waiting(ISS), idp.fetches()), (N, 2));
        idp.release();
        threads.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(results, vec![Ok(()); N]);
    assert_eq!((idp.fetches(), v.waiting(ISS)), (2, 0));
}

#[test]
fn past_the_most_waiters_a_request_is_refused_at_once() {
    let (_, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (mut v, edge) = started(&idp);
    v.unknown_kid_wait = Duration::from_secs(120);
    idp.serve(Some(set(&[&jwk1, &jwk2])));
    idp.hold.store(true, Ordering::SeqCst);
    let (v, edge, new) = (&v, &edge, &token(&k2, "k2"));
    let results = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..MAX_UNKNOWN_KID_WAITERS)
            .map(|i| scope.spawn(move || check(v, edge, new, T0 + 1_000 + i as u64)))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        while v.waiting(ISS) < MAX_UNKNOWN_KID_WAITERS && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        // One more: refused without waiting (else it would wait two minutes).
        assert_eq!(check(v, edge, new, T0 + 1_500), Err(Reason::KeyUnknown));
        idp.release();
        threads.into_iter().map(|t| t.join().unwrap()).collect::<Vec<_>>()
    });
    assert_eq!(results, vec![Ok(()); MAX_UNKNOWN_KID_WAITERS]);
    assert_eq!(idp.fetches(), 2);
}

#[test]
fn more_unknown_kids_inside_the_period_are_refused_at_once_without_a_fetch() {
    let (k1, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (v, edge) = started(&idp);
    // A made-up kid costs one refetch (it finds nothing: key_unknown)…
    assert_eq!(check(&v, &edge, &token(&k1, "evil-0"), T0 + 10_000), Err(Reason::KeyUnknown));
    assert_eq!(idp.fetches(), 2);
    // …and for the next 5 s, more of them cost nothing. Were any to start a
    // refetch, it would be parked and counted; were any to wait, it would be on
    // a refetch under way, and there is none.
    idp.hold.store(true, Ordering::SeqCst);
    idp.serve(Some(set(&[&jwk1, &jwk2])));
    for t in 1..UNKNOWN_KID_REFETCH_MS {
        assert_eq!(check(&v, &edge, &token(&k1, &format!("evil-{t}")), T0 + 10_000 + t), Err(Reason::KeyUnknown));
    }
    // A real rotation inside the period waits for its end too.
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 14_999), Err(Reason::KeyUnknown));
    assert_eq!((idp.fetches(), idp.parked.lock().unwrap().len()), (2, 0));
    // Once the period has passed, the next unknown kid refetches.
    idp.hold.store(false, Ordering::SeqCst);
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 15_000), Ok(()));
    assert_eq!(idp.fetches(), 3);
    // A clock that stepped back does not hold refetches off until it catches up.
    assert_eq!(check(&v, &edge, &token(&k1, "evil-back"), T0 + 5_000), Err(Reason::KeyUnknown));
    assert_eq!(idp.fetches(), 4);
}

#[test]
fn a_failed_lost_or_slow_refetch_keeps_the_old_keys_and_the_wait_ends() {
    let (k1, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (mut v, edge) = started(&idp);
    // Failed: refused, the old key still verifies.
    idp.serve(None);
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 1_000), Err(Reason::KeyUnknown));
    assert_eq!(idp.fetches(), 2);
    assert_eq!(check(&v, &edge, &token(&k1, "k1"), T0 + 1_001), Ok(()));
    // Lost (the fetcher dropped the refetch without an answer): the waiting
    // request is woken and refused; the next period may refetch again.
    v.unknown_kid_wait = Duration::from_secs(120);
    idp.hold.store(true, Ordering::SeqCst);
    idp.serve(Some(set(&[&jwk1, &jwk2])));
    let got = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| check(&v, &edge, &token(&k2, "k2"), T0 + 7_000));
        let deadline = Instant::now() + Duration::from_secs(30);
        while v.waiting(ISS) < 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        idp.lose();
        waiter.join().unwrap()
    });
    assert_eq!((got, idp.fetches()), (Err(Reason::KeyUnknown), 3));
    // Slow (no answer within the wait): the request is refused when its wait is
    // over; the answer, when it comes, installs the keys for later requests.
    v.unknown_kid_wait = Duration::from_millis(20);
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 13_000), Err(Reason::KeyUnknown));
    assert_eq!((idp.fetches(), v.waiting(ISS)), (4, 0));
    // A request that comes while that refetch is still under way, past its
    // deadline, does not wait at all (were it to wait its own bound, this
    // would take two minutes).
    v.unknown_kid_wait = Duration::from_secs(120);
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 13_050), Err(Reason::KeyUnknown));
    assert_eq!((idp.fetches(), v.waiting(ISS)), (4, 0));
    idp.release();
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 13_100), Ok(()));
    assert_eq!(idp.fetches(), 4);
}

#[test]
fn a_document_older_than_the_keys_held_does_not_replace_them() {
    let (k1, jwk1) = key("k1");
    let (k2, jwk2) = key("k2");
    let idp = Idp::new(set(&[&jwk1]));
    let (v, edge) = started(&idp);
    let issuer = &v.issuers[0];
    // A refetch that started at T0+2000 installed k2; a fetch that started
    // earlier (T0+1000) and ended later must not bring k1 back alone.
    install(issuer, &v.generation, set(&[&jwk2]).as_bytes(), T0 + 2_000).unwrap();
    install(issuer, &v.generation, set(&[&jwk1]).as_bytes(), T0 + 1_000).unwrap();
    assert_eq!(check(&v, &edge, &token(&k2, "k2"), T0 + 2_001), Ok(()));
    // k1 is unknown now; its refetch (started later still) gets the IdP's set.
    assert_eq!(check(&v, &edge, &token(&k1, "k1"), T0 + 2_002), Ok(()));
    assert_eq!(idp.fetches(), 2);
}
