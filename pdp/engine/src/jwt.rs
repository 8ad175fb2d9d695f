//! Bearer JWT verification (jsonwebtoken on aws-lc-rs) against the issuers of a zone:
//! compact JWS only, algorithm allowlist per issuer, key by `kid` from the issuer's
//! JWKS (never from the token), `exp` required, `nbf`/`iat` honoured with leeway,
//! `iss` and `aud` checked, tokens over 8 KiB refused, duplicate payload keys refused,
//! any `crit` header refused (no JWS extension is understood). A token whose `kid`
//! a `jwks url` issuer does not hold waits (bounded) for one coalesced refetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm as JwsAlg, DecodingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use warden_compiler::graph::{Algorithm, Graph, KeySource, SecretSource};
use warden_language::reason::Reason;

use super::json::{self, JsonLimits};
use super::run::{TokenVerifier, VerifiedToken};

/// Largest token accepted.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Claims and headers are small: tighter limits than bodies.
const TOKEN_JSON: JsonLimits =
    JsonLimits { depth: 8, string_bytes: 4096, array_items: 256, object_keys: 128, values: 4096 };

/// Fetches a JWKS document by URL. The service supplies one over HTTP(S) with a
/// short timeout; the engine never opens connections itself.
pub trait JwksFetcher: Send + Sync {
    /// The document's bytes, or why it could not be had (no secrets in the text).
    /// May wait on the network when [`JwksFetcher::fetch_then`] is overridden:
    /// the verifier then calls it from [`JwksVerifier::refresh_due`] only, never
    /// while verifying a token.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;

    /// Fetches `url` because a token names a `kid` its issuer's keys do not hold,
    /// and hands the outcome to `done` on whatever thread the fetch ends. The
    /// token's request waits for `done` at most [`UNKNOWN_KID_WAIT_MS`], so a
    /// fetcher whose `fetch` waits on the network starts the fetch elsewhere and
    /// returns at once (the service's spawns it on its runtime). Dropping `done`
    /// without calling it counts as a failed fetch. The default fetches on the
    /// calling thread, which suits fetchers that never wait on the network.
    fn fetch_then(&self, url: &str, done: FetchDone) {
        done(self.fetch(url));
    }

    /// Runs `wait`, which blocks the calling thread (at most
    /// [`UNKNOWN_KID_WAIT_MS`]) until the refetch for an unknown `kid` ends. The
    /// service's fetcher runs it where blocking a thread is allowed; the default
    /// calls it as it is. A fetcher that cannot let the thread block may return
    /// without calling it: the token is then judged with the keys held now.
    fn wait(&self, wait: &mut dyn FnMut()) {
        wait();
    }

    /// The last good document fetched from `url` and when (Unix ms), without any
    /// I/O. A verifier built later (a policy reload) starts with it, so a reload
    /// neither refetches a fresh document nor starts without keys when the issuer
    /// is down.
    fn cached(&self, _url: &str) -> Option<(Vec<u8>, u64)> {
        None
    }
}

/// Receives the outcome of [`JwksFetcher::fetch_then`].
pub type FetchDone = Box<dyn FnOnce(Result<Vec<u8>, String>) + Send>;

/// A token whose `kid` is unknown waits at most this long for the refetch of its
/// issuer's keys, then is judged with whatever keys the issuer holds.
pub const UNKNOWN_KID_WAIT_MS: u64 = 500;

/// An unknown `kid` starts at most one refetch per issuer in this period, counted
/// from the last refetch an unknown `kid` started (the start-up and periodic
/// fetches do not count, so a rotation soon after either is still picked up).
/// Unknown `kid`s inside the period, once that refetch has ended, are refused at
/// once: made-up `kid`s cost one fetch per issuer per period at most.
pub const UNKNOWN_KID_REFETCH_MS: u64 = 5_000;

/// At most this many requests per issuer wait for an unknown `kid`'s refetch;
/// more are refused at once. Each waiting request holds a thread, so an issuer
/// that is slow to answer cannot make made-up `kid`s hold an unbounded number.
pub const MAX_UNKNOWN_KID_WAITERS: usize = 64;

/// After a failed periodic fetch, the next one waits the issuer's refresh period
/// or this, whichever is shorter.
pub const RETRY_AFTER_FAILURE_MS: u64 = 30_000;

/// Largest JWKS document accepted from a URL.
pub const MAX_JWKS_BYTES: usize = 1 << 20;

/// Public keys of one issuer, replaced as a whole on refresh.
#[derive(Default)]
struct KeySet {
    /// `kid` → key and the JWK's `alg`, when it names one.
    by_kid: HashMap<String, (Arc<DecodingKey>, Option<JwsAlg>)>,
    /// Keys without a `kid`.
    anonymous: Vec<(Arc<DecodingKey>, Option<JwsAlg>)>,
}

impl KeySet {
    fn from_jwks(jwks: &Value) -> Option<KeySet> {
        let set = serde_json::from_value::<JwkSet>(jwks.clone()).ok()?;
        let mut keys = KeySet::default();
        for jwk in &set.keys {
            // Only signing keys: a JWK marked `use: enc`, or naming an algorithm
            // that is not a JWS one (`RSA-OAEP`…), never verifies a token.
            if matches!(jwk.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)) {
                continue;
            }
            let alg = match jwk.common.key_algorithm {
                Some(a) => match a.to_string().parse::<JwsAlg>() {
                    Ok(alg) => Some(alg),
                    Err(_) => continue,
                },
                None => None,
            };
            let Ok(key) = DecodingKey::from_jwk(jwk).map(Arc::new) else { continue };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), (key, alg));
                }
                None => keys.anonymous.push((key, alg)),
            }
        }
        Some(keys)
    }

    fn len(&self) -> usize {
        self.by_kid.len() + self.anonymous.len()
    }
}

/// Checks a fetched JWKS document as the verifier would before using it: at most
/// [`MAX_JWKS_BYTES`], JSON within the default limits, a JWKS with at least one
/// usable signing key. The number of usable keys, or why not (no document text).
pub fn check_jwks(bytes: &[u8]) -> Result<usize, String> {
    parse_jwks(bytes).map(|keys| keys.len())
}

fn parse_jwks(bytes: &[u8]) -> Result<KeySet, String> {
    if bytes.len() > MAX_JWKS_BYTES {
        return Err("the JWKS document is larger than 1 MiB".to_owned());
    }
    let doc = json::parse(bytes, JsonLimits::default())
        .map_err(|e| format!("the JWKS document is not acceptable JSON: {e}"))?;
    let keys = KeySet::from_jwks(&doc).ok_or("the document is not a JWKS")?;
    if keys.len() == 0 {
        return Err("the JWKS holds no usable key".to_owned());
    }
    Ok(keys)
}

/// Fetch bookkeeping of a URL issuer.
#[derive(Default)]
struct FetchState {
    /// When [`JwksVerifier::refresh_due`] last started a fetch (successful or not).
    last_attempt_ms: Option<u64>,
    /// When the fetch that brought the keys held now started (or, for a cached
    /// document, when it was fetched).
    last_success_ms: Option<u64>,
    /// SHA-256 of the document the keys came from (an unchanged document does not
    /// replace them).
    doc_hash: Option<[u8; 32]>,
    /// When the last refetch for an unknown `kid` started.
    unknown_kid_ms: Option<u64>,
    /// A refetch for an unknown `kid` is under way.
    in_flight: bool,
    /// Until when requests wait for that refetch: [`UNKNOWN_KID_WAIT_MS`] after it
    /// started, for the request that started it and for those that came later.
    flight_deadline: Option<Instant>,
    /// Refetches for unknown `kid`s that have ended; a request waits until this
    /// moves past the value it saw.
    ended: u64,
    /// Requests waiting for that refetch now.
    waiting: usize,
}

/// One issuer's verification material.
struct IssuerKeys {
    iss: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    leeway_s: i64,
    keys: ArcSwap<KeySet>,
    /// `jwks url` issuers: where to fetch and how often to refresh.
    url: Option<(String, u64)>,
    fetch: Mutex<FetchState>,
    /// Signalled when a refetch for an unknown `kid` ends.
    refetched: Condvar,
    secret: Option<DecodingKey>,
}

impl IssuerKeys {
    /// The fetch bookkeeping. A panic elsewhere while it was held leaves it
    /// consistent (every update is a plain store), so a poisoned lock is used as is.
    fn state(&self) -> MutexGuard<'_, FetchState> {
        self.fetch.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One refetch for an unknown `kid`, handed to the fetcher. Dropping it ends the
/// refetch and wakes the requests waiting for it, whether the fetcher called it
/// with a document, with an error, or not at all, so no request waits on a
/// refetch that was lost.
struct Flight {
    issuer: Arc<IssuerKeys>,
    generation: Arc<AtomicU64>,
    at_ms: u64,
}

impl Flight {
    fn land(self, got: Result<Vec<u8>, String>) {
        // A failed fetch keeps the keys held before; the waiting requests are
        // judged with them.
        if let Ok(bytes) = got {
            let _ = install(&self.issuer, &self.generation, &bytes, self.at_ms);
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut state = self.issuer.state();
        state.in_flight = false;
        state.ended = state.ended.wrapping_add(1);
        drop(state);
        self.issuer.refetched.notify_all();
    }
}

/// Replaces an issuer's keys with those of `bytes` (fetched at `at_ms`) when the
/// document is acceptable; an unchanged document only counts as fresh. A document
/// whose fetch started before that of the keys held now is older than they are
/// and changes nothing (the periodic refresh and an unknown `kid`'s refetch may
/// overlap). Done under the issuer's lock, so two installs never interleave.
fn install(issuer: &IssuerKeys, generation: &AtomicU64, bytes: &[u8], at_ms: u64) -> Result<(), String> {
    let hash: [u8; 32] = Sha256::digest(bytes).into();
    let mut state = issuer.state();
    if state.last_success_ms.is_some_and(|t| at_ms < t) {
        return Ok(());
    }
    if state.doc_hash != Some(hash) {
        let keys = parse_jwks(bytes)?;
        issuer.keys.store(Arc::new(keys));
        generation.fetch_add(1, Ordering::AcqRel);
    }
    state.doc_hash = Some(hash);
    state.last_success_ms = Some(at_ms);
    Ok(())
}

/// Verifies tokens with the issuers' keys: JWKS files carried by the graph, and
/// `jwks url` documents fetched through a [`JwksFetcher`] (on [`JwksVerifier::refresh_due`]
/// and, at most once per [`UNKNOWN_KID_REFETCH_MS`] per issuer, when a token names an
/// unknown `kid`: the token waits for that refetch, at most [`UNKNOWN_KID_WAIT_MS`]).
/// A failed fetch keeps the keys held before.
pub struct JwksVerifier {
    issuers: Vec<Arc<IssuerKeys>>,
    fetcher: Option<Arc<dyn JwksFetcher>>,
    /// Rises whenever an issuer's keys are replaced (see [`TokenVerifier::keys_generation`]).
    /// Shared with the refetches under way, which may end on another thread.
    generation: Arc<AtomicU64>,
    /// How long a token with an unknown `kid` waits for its refetch
    /// ([`UNKNOWN_KID_WAIT_MS`]; tests lengthen it so as not to race it).
    unknown_kid_wait: Duration,
}

fn b64(part: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok()
}

fn jws_alg(a: Algorithm) -> JwsAlg {
    match a {
        Algorithm::RS256 => JwsAlg::RS256,
        Algorithm::RS384 => JwsAlg::RS384,
        Algorithm::RS512 => JwsAlg::RS512,
        Algorithm::PS256 => JwsAlg::PS256,
        Algorithm::PS384 => JwsAlg::PS384,
        Algorithm::PS512 => JwsAlg::PS512,
        Algorithm::ES256 => JwsAlg::ES256,
        Algorithm::ES384 => JwsAlg::ES384,
        Algorithm::EdDSA => JwsAlg::EdDSA,
        Algorithm::HS256 => JwsAlg::HS256,
        Algorithm::HS384 => JwsAlg::HS384,
        Algorithm::HS512 => JwsAlg::HS512,
    }
}

impl JwksVerifier {
    /// Loads every issuer's JWKS file from the graph; `secret` reads HS* secrets
    /// (from a policy file or the environment) and is asked once per issuer.
    /// `jwks url` issuers start without keys (see [`JwksVerifier::with_fetcher`]).
    pub fn new(graph: &Graph, secret: &dyn Fn(&SecretSource) -> Option<Vec<u8>>) -> JwksVerifier {
        let issuers = graph
            .issuers
            .iter()
            .map(|i| {
                let (keys, url) = match &i.keys {
                    Some(KeySource::File { jwks, .. }) => (KeySet::from_jwks(jwks).unwrap_or_default(), None),
                    Some(KeySource::Url { url, refresh_ms }) => (KeySet::default(), Some((url.clone(), *refresh_ms))),
                    None => (KeySet::default(), None),
                };
                Arc::new(IssuerKeys {
                    iss: i.iss.clone(),
                    audiences: i.audiences.clone(),
                    algorithms: i.algorithms.clone(),
                    leeway_s: i64::try_from(i.leeway_ms / 1000).unwrap_or(i64::MAX),
                    keys: ArcSwap::from_pointee(keys),
                    url,
                    fetch: Mutex::new(FetchState::default()),
                    refetched: Condvar::new(),
                    secret: i.secret.as_ref().and_then(secret).map(|s| DecodingKey::from_secret(&s)),
                })
            })
            .collect();
        JwksVerifier {
            issuers,
            fetcher: None,
            generation: Arc::new(AtomicU64::new(0)),
            unknown_kid_wait: Duration::from_millis(UNKNOWN_KID_WAIT_MS),
        }
    }

    /// Fetches `jwks url` documents through `fetcher`. URL issuers start with the
    /// document the fetcher holds for their URL ([`JwksFetcher::cached`]), as of
    /// when it was fetched; call [`JwksVerifier::refresh_due`] once before serving
    /// so that the others (and stale ones) are fetched.
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: Arc<dyn JwksFetcher>) -> JwksVerifier {
        for issuer in &self.issuers {
            let Some((url, _)) = &issuer.url else { continue };
            if let Some((bytes, at_ms)) = fetcher.cached(url) {
                let _ = install(issuer, &self.generation, &bytes, at_ms);
            }
        }
        self.fetcher = Some(fetcher);
        self
    }

    /// Fetches the JWKS of every URL issuer whose refresh period has passed since
    /// its last successful fetch (or that never had one). After a failed attempt
    /// the next one waits the refresh period or [`RETRY_AFTER_FAILURE_MS`],
    /// whichever is shorter. Returns the failures as `(iss, why)`; a failed issuer
    /// keeps its old keys. Unknown `kid`s do not go through here: their refetch is
    /// started by the request (see [`JwksVerifier`]).
    pub fn refresh_due(&self, now_ms: u64) -> Vec<(String, String)> {
        let mut failures = Vec::new();
        let Some(fetcher) = &self.fetcher else { return failures };
        for issuer in &self.issuers {
            let Some((url, refresh_ms)) = &issuer.url else { continue };
            let go = {
                let mut state = issuer.state();
                let retry_after = (*refresh_ms).min(RETRY_AFTER_FAILURE_MS);
                let stale = state.last_success_ms.is_none_or(|t| now_ms >= t.saturating_add(*refresh_ms));
                let resting = state.last_attempt_ms.is_some_and(|t| now_ms < t.saturating_add(retry_after));
                let go = stale && !resting;
                if go {
                    state.last_attempt_ms = Some(now_ms);
                }
                go
            };
            if go
                && let Err(why) = fetcher.fetch(url).and_then(|bytes| install(issuer, &self.generation, &bytes, now_ms))
            {
                failures.push((issuer.iss.clone(), why));
            }
        }
        failures
    }

    /// Number of keys an issuer (by its `iss`) holds now; for metrics and tests.
    pub fn key_count(&self, iss: &str) -> usize {
        self.issuers.iter().filter(|i| i.iss == iss).map(|i| i.keys.load().len()).sum()
    }

    /// Counts key replacements (for caches of verified tokens, and tests).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Requests waiting now for an unknown `kid`'s refetch of `iss` (for tests).
    pub fn waiting(&self, iss: &str) -> usize {
        self.issuers.iter().filter(|i| i.iss == iss).map(|i| i.state().waiting).sum()
    }

    /// An unknown `kid` of a URL issuer may mean the issuer rotated its keys:
    /// refetch them and wait for the new ones, at most [`UNKNOWN_KID_WAIT_MS`]
    /// from the start of the refetch. The first unknown `kid` starts the refetch;
    /// those that come while it is under way wait for the same one (one fetch
    /// however many requests wait, and at most [`MAX_UNKNOWN_KID_WAITERS`] of
    /// them). Once it has ended, unknown `kid`s are refused without a wait until
    /// [`UNKNOWN_KID_REFETCH_MS`] after it started.
    fn unknown_kid(&self, issuer: &Arc<IssuerKeys>, now_ms: u64) {
        let (Some(fetcher), Some((url, _))) = (&self.fetcher, &issuer.url) else { return };
        let mut state = issuer.state();
        let ticket = state.ended;
        let start = !state.in_flight;
        if start {
            // A clock that went back does not keep refetches off for that long.
            let recent =
                state.unknown_kid_ms.is_some_and(|t| t <= now_ms && now_ms < t.saturating_add(UNKNOWN_KID_REFETCH_MS));
            if recent {
                return;
            }
            state.unknown_kid_ms = Some(now_ms);
            state.in_flight = true;
            state.flight_deadline = Some(Instant::now() + self.unknown_kid_wait);
        } else if state.waiting >= MAX_UNKNOWN_KID_WAITERS {
            return;
        }
        // A refetch slower than the wait is not waited for by those who come
        // late either: they share its deadline.
        let deadline = state.flight_deadline.unwrap_or_else(Instant::now);
        state.waiting += 1;
        drop(state);
        if start {
            let flight = Flight { issuer: issuer.clone(), generation: self.generation.clone(), at_ms: now_ms };
            fetcher.fetch_then(url, Box::new(move |got| flight.land(got)));
        }
        fetcher.wait(&mut || {
            let mut state = issuer.state();
            while state.ended == ticket {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                state = issuer.refetched.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0;
            }
        });
        issuer.state().waiting -= 1;
    }
}

/// The key for a token: by `kid`, or the only key when the token names none.
fn select(keys: &KeySet, kid: Option<&str>) -> Option<(Arc<DecodingKey>, Option<JwsAlg>)> {
    match kid {
        Some(kid) => keys.by_kid.get(kid).cloned(),
        None if keys.len() == 1 => keys.by_kid.values().chain(keys.anonymous.iter()).next().cloned(),
        None => None,
    }
}

fn bad(reason: Reason, detail: &str) -> (Reason, String) {
    (reason, detail.to_owned())
}

impl TokenVerifier for JwksVerifier {
    fn verify(&self, token: &str, issuers: &[u32], now_ms: u64) -> Result<VerifiedToken, (Reason, String)> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(bad(Reason::TokenMalformed, "the token is larger than 8 KiB"));
        }
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad(Reason::TokenMalformed, "the token is not a compact JWS"));
        };
        let header = b64(h)
            .and_then(|b| json::parse(&b, TOKEN_JSON).ok())
            .ok_or(bad(Reason::TokenMalformed, "the token header is not valid"))?;
        // RFC 7515 §4.1.11: a recipient must refuse a token whose `crit` names an
        // extension it does not understand. Warden understands none (not even
        // `b64`), so any `crit` is refused, and so is one that is not even a list
        // of names.
        if let Some(crit) = header.get("crit") {
            let names = crit.as_array().filter(|l| !l.is_empty() && l.iter().all(Value::is_string));
            return Err(bad(
                Reason::TokenMalformed,
                if names.is_some() {
                    "the token header marks extensions critical (`crit`), and Warden understands none"
                } else {
                    "the token header's `crit` is not a non-empty list of extension names"
                },
            ));
        }
        let payload = b64(p)
            .and_then(|b| json::parse(&b, TOKEN_JSON).ok())
            .ok_or(bad(Reason::TokenMalformed, "the token payload is not valid (or has a key twice)"))?;
        let Value::Object(claims) = payload else {
            return Err(bad(Reason::TokenMalformed, "the token payload is not an object"));
        };
        // The issuer must be one this zone trusts; keys come from its JWKS only
        // (`jwk`, `jku`, `x5u` in the header are never read).
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .ok_or(bad(Reason::IssuerUntrusted, "the token names no issuer"))?;
        let Some((index, issuer)) =
            issuers.iter().filter_map(|&i| self.issuers.get(i as usize).map(|k| (i, k))).find(|(_, k)| k.iss == iss)
        else {
            return Err(bad(Reason::IssuerUntrusted, "the token's issuer is not trusted in this zone"));
        };
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
        let Some(alg) = Algorithm::parse(alg_name).filter(|a| issuer.algorithms.contains(a)) else {
            return Err(bad(Reason::AlgorithmNotAllowed, "the token's algorithm is not allowed for its issuer"));
        };
        let held: Option<Arc<DecodingKey>>;
        let key = if alg.is_hmac() {
            issuer.secret.as_ref()
        } else {
            let kid = header.get("kid").and_then(Value::as_str);
            let found = select(&issuer.keys.load(), kid);
            // An unknown `kid` may mean the issuer rotated its keys: refetch (rate-limited).
            let found = match found {
                None if kid.is_some() => {
                    self.unknown_kid(issuer, now_ms);
                    select(&issuer.keys.load(), kid)
                }
                found => found,
            };
            held = match found {
                // A JWK that names its algorithm is used for that algorithm only.
                Some((_, Some(jwk_alg))) if jwk_alg != jws_alg(alg) => None,
                Some((key, _)) => Some(key),
                None => None,
            };
            held.as_deref()
        };
        let key = key.ok_or(bad(Reason::KeyUnknown, "no key of the issuer matches the token"))?;
        let message = token.get(..h.len() + 1 + p.len()).unwrap_or("");
        match jsonwebtoken::crypto::verify(sig, message.as_bytes(), key, jws_alg(alg)) {
            Ok(true) => {}
            _ => return Err(bad(Reason::SignatureInvalid, "the token's signature does not verify")),
        }
        let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
        let time = |name: &str| claims.get(name).map(|v| v.as_f64().map(|f| f as i64));
        match time("exp") {
            None | Some(None) => return Err(bad(Reason::TokenMalformed, "the token has no numeric `exp`")),
            Some(Some(exp)) if exp.saturating_add(issuer.leeway_s) <= now => {
                return Err(bad(Reason::TokenExpired, "the token has expired"));
            }
            _ => {}
        }
        for name in ["nbf", "iat"] {
            match time(name) {
                Some(None) => return Err(bad(Reason::TokenMalformed, "a time claim of the token is not a number")),
                Some(Some(t)) if t.saturating_sub(issuer.leeway_s) > now => {
                    return Err(bad(Reason::TokenNotYetValid, "the token is not valid yet"));
                }
                _ => {}
            }
        }
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => issuer.audiences.contains(a),
            Some(Value::Array(list)) => {
                list.iter().filter_map(Value::as_str).any(|a| issuer.audiences.iter().any(|x| x == a))
            }
            _ => false,
        };
        if !aud_ok {
            return Err(bad(Reason::AudienceMismatch, "the token was not issued for this zone's audience"));
        }
        Ok(VerifiedToken { claims: Arc::new(claims), issuer: index })
    }

    fn keys_generation(&self) -> u64 {
        self.generation()
    }
}

#[cfg(test)]
mod tests {
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
            let threads: Vec<_> =
                (0..N).map(|i| scope.spawn(move || check(v, edge, new, T0 + 2_000 + i as u64))).collect();
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
}
