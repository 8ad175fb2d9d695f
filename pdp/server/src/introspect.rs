//! Introspection (RFC 7662) for the engine's [`Introspector`]: `POST` the
//! opaque token to the issuer's endpoint as its configured client (HTTP Basic),
//! within a timeout, and keep the answer: an active one until its `exp` or the
//! issuer's `cache`, whichever is first, an inactive one for 5 s. The cache is
//! keyed by a SHA-256 of the issuer and token (the token is never kept in
//! clear) and holds at most [`CACHE_ENTRIES`] answers of at most
//! [`CACHE_ANSWER_BYTES`] each. Concurrent requests for one
//! token wait for one call. After a failed call the endpoint is not asked again
//! for [`BACKOFF_MS`]: requests meanwhile are refused at once (503), or, with
//! `on_introspection_error stale [D]`, served the active answer kept for that
//! token (for at most D past its `cache`, never past its `exp`; only while the
//! endpoint is down, never after a refusal or at the cap on calls in flight). With `signed`, answers are RFC 9701 JWTs,
//! verified with the issuer's keys before they are used or kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::Digest as _;
use warden_compiler::graph::{Graph, SecretSource};
use warden_engine::introspect::Introspector;

/// Answers kept at most.
pub const CACHE_ENTRIES: usize = 10_000;
/// An answer larger than this (as JSON) is used, never kept: with
/// [`CACHE_ENTRIES`], the cache holds at most about 40 MiB.
pub const CACHE_ANSWER_BYTES: usize = 4 << 10;
/// How long an inactive answer is kept.
pub const NEGATIVE_MS: u64 = 5_000;
/// How long a failed endpoint is left alone.
pub const BACKOFF_MS: u64 = 1_000;
/// The largest answer read.
pub const MAX_ANSWER_BYTES: usize = 64 << 10;
/// Calls in flight at most: beyond, a request is refused at once (503) rather
/// than take another thread to wait on a slow endpoint.
pub const MAX_IN_FLIGHT: usize = 64;

type Answer = Result<Arc<Map<String, Value>>, String>;

/// Where and as whom one issuer is asked.
struct Target {
    url: String,
    client: String,
    secret: String,
    cache_ms: u64,
    /// Answers are RFC 9701 JWTs.
    signed: bool,
    /// How long past `cache` a kept active answer serves while the endpoint
    /// is down (0: never).
    stale_ms: u64,
}

/// The media type of an RFC 9701 answer.
const SIGNED_ANSWER: &str = "application/token-introspection+jwt";

/// A kept answer: used until `fresh_until`; an active one of an issuer with
/// `on_introspection_error stale` is kept until `keep_until` (the token's
/// `exp`) for when the endpoint fails.
struct Kept {
    answer: Answer,
    fresh_until: u64,
    keep_until: u64,
}

/// One call in flight, which later askers of the same token wait for.
type Flight = Arc<(Mutex<Option<Answer>>, Condvar)>;

/// The introspector of one loaded policy.
pub struct HttpIntrospector {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
    targets: Vec<Option<Target>>,
    /// Verifies signed answers with the issuers' keys.
    jwks: Option<Arc<warden_engine::jwt::JwksVerifier>>,
    cache: Mutex<HashMap<[u8; 32], Kept>>,
    flights: Mutex<HashMap<[u8; 32], Flight>>,
    backoff_until: Vec<AtomicU64>,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Calls made to endpoints (for the metrics and the tests).
    pub calls: AtomicU64,
    /// Answers served stale while an endpoint failed.
    pub stale_served: AtomicU64,
}

/// Why a call gave no answer, and whether the endpoint itself failed (it is
/// then left alone for [`BACKOFF_MS`]); a refusal of one token (a 4xx, an
/// answer that is not JSON) does not stop the others.
struct Failure {
    why: String,
    endpoint_down: bool,
}

impl HttpIntrospector {
    /// The introspector for `graph`'s issuers with `introspect`, or `None`
    /// when none has. A secret that cannot be read is an error naming where
    /// it was looked for (never its value); so is an issuer with `signed`
    /// answers when there is no `jwks` verifier to check them.
    pub fn new(
        graph: &Graph,
        secret: &dyn Fn(&SecretSource) -> Option<Vec<u8>>,
        jwks: Option<Arc<warden_engine::jwt::JwksVerifier>>,
        runtime: tokio::runtime::Handle,
        timeout: Duration,
    ) -> Result<Option<HttpIntrospector>, String> {
        let mut targets = Vec::new();
        for issuer in &graph.issuers {
            let Some(i) = &issuer.introspect else {
                targets.push(None);
                continue;
            };
            let where_ = match &i.secret {
                SecretSource::File(p) => format!("file `{p}`"),
                SecretSource::Env(v) => format!("environment variable `{v}`"),
            };
            let bytes = secret(&i.secret).ok_or_else(|| {
                format!("the introspection secret of issuer `{}` ({where_}) cannot be read", issuer.iss)
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("the introspection secret of issuer `{}` ({where_}) is not text", issuer.iss))?;
            if i.signed && jwks.is_none() {
                return Err(format!(
                    "issuer `{}` has signed introspection answers and no keys to verify them",
                    issuer.iss
                ));
            }
            targets.push(Some(Target {
                url: i.url.clone(),
                client: i.client.clone(),
                secret: text.trim().to_owned(),
                cache_ms: i.cache_ms,
                signed: i.signed,
                stale_ms: i.stale_ms,
            }));
        }
        if targets.iter().all(Option::is_none) {
            return Ok(None);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the introspection client: {e}"))?;
        let backoff_until = targets.iter().map(|_| AtomicU64::new(0)).collect();
        Ok(Some(HttpIntrospector {
            client,
            runtime,
            timeout,
            targets,
            jwks,
            cache: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            backoff_until,
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            calls: AtomicU64::new(0),
            stale_served: AtomicU64::new(0),
        }))
    }

    fn key(issuer: u32, token: &str) -> [u8; 32] {
        let mut h = sha2::Sha256::new();
        h.update(issuer.to_be_bytes());
        h.update(token.as_bytes());
        h.finalize().into()
    }

    /// Asks the endpoint once, on the runtime, and waits for it here (inside
    /// `block_in_place` on a multi-thread runtime, so the worker's other tasks
    /// move on).
    fn call(&self, issuer: u32, target: &Target, token: &str, now_ms: u64) -> Result<Arc<Map<String, Value>>, Failure> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let (client, timeout) = (self.client.clone(), self.timeout);
        let request = client
            .post(&target.url)
            .basic_auth(form_encode(&target.client), Some(form_encode(&target.secret)))
            .header("accept", if target.signed { SIGNED_ANSWER } else { "application/json" })
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={}&token_type_hint=access_token", form_encode(token)));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let answer = tokio::time::timeout(timeout, ask(request)).await.unwrap_or_else(|_| Err(down("timed out")));
            let _ = tx.send(answer);
        });
        let wait = || {
            rx.recv_timeout(timeout.saturating_add(Duration::from_secs(1))).unwrap_or_else(|_| Err(down("timed out")))
        };
        let (media, body) = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }?;
        if !target.signed {
            return match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Object(map)) => Ok(Arc::new(map)),
                _ => Err(refused("the introspection answer is not a JSON object".to_owned())),
            };
        }
        // RFC 9701 §5: a client that asked for a signed answer takes no other
        // (an unsigned one could come from anyone on the way).
        if media != SIGNED_ANSWER {
            return Err(refused(format!("the introspection answer is not signed (`{SIGNED_ANSWER}`)")));
        }
        let jwt = std::str::from_utf8(&body).map_err(|_| refused("the signed answer is not text".to_owned()))?;
        let Some(jwks) = &self.jwks else { return Err(refused("no keys verify signed answers".to_owned())) };
        // Asked for a moment ago: an older answer is a replayed one.
        let max_age_s = self.timeout.as_secs().saturating_add(1);
        jwks.introspection_answer(jwt, issuer, &target.client, now_ms, max_age_s).map(Arc::new).map_err(refused)
    }
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic.
fn form_encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn down(why: &str) -> Failure {
    Failure { why: why.to_owned(), endpoint_down: true }
}

fn refused(why: String) -> Failure {
    Failure { why, endpoint_down: false }
}

/// One `POST`: a 200 answer of at most [`MAX_ANSWER_BYTES`], with its media
/// type (lowercase, without parameters).
async fn ask(request: reqwest::RequestBuilder) -> Result<(String, Vec<u8>), Failure> {
    let mut response = request
        .send()
        .await
        .map_err(|e| Failure { why: format!("cannot ask the issuer: {}", e.without_url()), endpoint_down: true })?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        let why = format!("the introspection endpoint answered {status}");
        return Err(Failure { why, endpoint_down: status.is_server_error() });
    }
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| down("cannot read the introspection answer"))? {
        if body.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
            return Err(refused(format!("the introspection answer is larger than {MAX_ANSWER_BYTES} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((media, body))
}

impl Introspector for HttpIntrospector {
    fn introspect(&self, issuer: u32, token: &str, now_ms: u64) -> Result<Arc<Map<String, Value>>, String> {
        let Some(Some(target)) = self.targets.get(issuer as usize) else {
            return Err("this issuer introspects no tokens".to_owned());
        };
        let key = HttpIntrospector::key(issuer, token);
        if let Some(kept) = lock(&self.cache).get(&key)
            && now_ms < kept.fresh_until
        {
            return kept.answer.clone();
        }
        if let Some(b) = self.backoff_until.get(issuer as usize)
            && now_ms < b.load(Ordering::Relaxed)
        {
            return self.stale(target, &key, now_ms, "the introspection endpoint failed a moment ago".to_owned());
        }
        // One call per token at a time: later askers wait for its answer.
        let (flight, leader) = {
            let mut flights = lock(&self.flights);
            match flights.get(&key) {
                Some(f) => (f.clone(), false),
                None => {
                    let f: Flight = Arc::new((Mutex::new(None), Condvar::new()));
                    flights.insert(key, f.clone());
                    (f, true)
                }
            }
        };
        if !leader {
            let (slot, ready) = &*flight;
            let wait = || {
                let guard = lock(slot);
                let (guard, _) = ready
                    .wait_timeout_while(guard, self.timeout.saturating_add(Duration::from_secs(1)), |a| a.is_none())
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                guard.clone().unwrap_or_else(|| Err("timed out waiting for the introspection answer".to_owned()))
            };
            return match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
                Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
                _ => wait(),
            };
        }
        let answer = if self.in_flight.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            Err(refused("too many introspections are in flight".to_owned()))
        } else {
            self.call(issuer, target, token, now_ms)
        };
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
        let (fresh_until, keep_until) = match &answer {
            Ok(a) if a.get("active") == Some(&Value::Bool(true)) => {
                let exp_ms = a.get("exp").and_then(Value::as_u64).map_or(0, |e| e.saturating_mul(1_000));
                let fresh = exp_ms.min(now_ms.saturating_add(target.cache_ms));
                (fresh, exp_ms.min(fresh.saturating_add(target.stale_ms)))
            }
            Ok(_) => (now_ms.saturating_add(NEGATIVE_MS), now_ms.saturating_add(NEGATIVE_MS)),
            Err(f) => {
                if f.endpoint_down
                    && let Some(b) = self.backoff_until.get(issuer as usize)
                {
                    b.store(now_ms.saturating_add(BACKOFF_MS), Ordering::Relaxed);
                }
                (0, 0)
            }
        };
        // Only an endpoint that is down (unreachable, timed out, 5xx) lets a
        // kept answer serve: never a refusal, a bad answer, or the cap on
        // calls in flight, which a client can reach by itself.
        let answer: Answer = match answer {
            Ok(a) => Ok(a),
            Err(f) if f.endpoint_down => self.stale(target, &key, now_ms, f.why),
            Err(f) => Err(f.why),
        };
        let small =
            answer.as_ref().is_ok_and(|a| serde_json::to_vec(&**a).is_ok_and(|b| b.len() <= CACHE_ANSWER_BYTES));
        if fresh_until > now_ms && small {
            let mut cache = lock(&self.cache);
            if cache.len() >= CACHE_ENTRIES {
                cache.retain(|_, k| k.keep_until > now_ms);
            }
            // Made-up tokens must not push out the answers for real ones.
            if cache.len() >= CACHE_ENTRIES {
                cache.retain(|_, k| k.answer.as_ref().is_ok_and(|a| a.get("active") == Some(&Value::Bool(true))));
            }
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(key, Kept { answer: answer.clone(), fresh_until, keep_until });
        }
        let (slot, ready) = &*flight;
        *lock(slot) = Some(answer.clone());
        ready.notify_all();
        lock(&self.flights).remove(&key);
        answer
    }
}

impl HttpIntrospector {
    /// What a call to a down endpoint gives: with `on_introspection_error
    /// stale`, the active answer kept for the token (within its stale time,
    /// never past its `exp`); otherwise (or without one) the failure.
    fn stale(&self, target: &Target, key: &[u8; 32], now_ms: u64, why: String) -> Answer {
        if target.stale_ms > 0
            && let Some(kept) = lock(&self.cache).get(key)
            && now_ms < kept.keep_until
            && let Ok(answer) = &kept.answer
            && answer.get("active") == Some(&Value::Bool(true))
        {
            self.stale_served.fetch_add(1, Ordering::Relaxed);
            return Ok(answer.clone());
        }
        Err(why)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What a test endpoint answers: status, media type, body.
    type Reply = Arc<Mutex<(u16, &'static str, Vec<u8>)>>;

    /// An introspection endpoint on loopback answering `status` with `body`.
    fn endpoint(rt: &tokio::runtime::Runtime, status: u16, body: Vec<u8>) -> String {
        switchable(rt, &Arc::new(Mutex::new((status, "application/json", body))))
    }

    /// An endpoint answering whatever `reply` holds at the time.
    fn switchable(rt: &tokio::runtime::Runtime, reply: &Reply) -> String {
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let reply = reply.clone();
        let app = axum::Router::new().route(
            "/introspect",
            axum::routing::post(move || {
                let (status, media, body) = lock(&reply).clone();
                async move {
                    (
                        axum::http::StatusCode::from_u16(status).unwrap(),
                        [(axum::http::header::CONTENT_TYPE, media)],
                        body,
                    )
                }
            }),
        );
        rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/introspect")
    }

    fn introspector(rt: &tokio::runtime::Runtime, url: &str) -> HttpIntrospector {
        introspector_with(rt, url, "", None)
    }

    /// An introspector for one issuer `https://idp.example` (audience `a`,
    /// client `c`), with `options` after its `introspect` and, given a JWKS,
    /// those keys (as a `jwks file`).
    fn introspector_with(
        rt: &tokio::runtime::Runtime,
        url: &str,
        options: &str,
        jwks: Option<Value>,
    ) -> HttpIntrospector {
        let keys = if jwks.is_some() { "\n    jwks file \"k.json\"\n    algorithms ES256" } else { "" };
        let text = format!(
            "zone z {{\n  issuer \"https://idp.example\" {{\n    introspect url \"{url}\" client \"c\" secret env \"UNUSED\"{options}\n    audience \"a\"{keys}\n  }}\n}}\n"
        );
        let set =
            warden_compiler::PolicySet { files: vec![warden_compiler::SourceFile::new("z.warden".to_owned(), text)] };
        struct Files(Option<Value>);
        impl warden_compiler::Loader for Files {
            fn read(&self, path: &str) -> Result<Vec<u8>, String> {
                self.0.as_ref().map(|j| j.to_string().into_bytes()).ok_or_else(|| path.to_owned())
            }
        }
        let files = Files(jwks);
        let (graph, _) = warden_compiler::compile(&set, &files).unwrap();
        let verifier = files.0.is_some().then(|| Arc::new(warden_engine::jwt::JwksVerifier::new(&graph, &|_| None)));
        HttpIntrospector::new(
            &graph,
            &|_| Some(b"s".to_vec()),
            verifier,
            rt.handle().clone(),
            Duration::from_millis(500),
        )
        .unwrap()
        .unwrap()
    }

    /// An ES256 key: its PKCS#8 DER and its public JWK (kid `k`).
    fn es256() -> (Vec<u8>, Value) {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let der = key.to_pkcs8v1().unwrap().as_ref().to_vec();
        let mut jwk = crate::signing::public_jwk(crate::signing::Algorithm::ES256, &der).unwrap();
        jwk["kid"] = json!("k");
        (der, jwk)
    }

    /// An RFC 9701 answer signed with `der`.
    fn signed_answer(der: &[u8], typ: &str, claims: &Value) -> Vec<u8> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = Some(typ.to_owned());
        header.kid = Some("k".to_owned());
        jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ec_der(der)).unwrap().into_bytes()
    }

    #[test]
    fn signed_answers_are_verified_before_they_are_used() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let now = 1_800_000_000_000u64;
        let (der, jwk) = es256();
        let jwks = Some(json!({"keys": [jwk]}));
        let answer = json!({"active": true, "aud": "a", "exp": now / 1_000 + 30, "sub": "alice"});
        let good = json!({"iss": "https://idp.example", "aud": "c", "iat": now / 1_000, "token_introspection": answer});
        let reply: Reply =
            Arc::new(Mutex::new((200, SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &good))));
        let i = introspector_with(&rt, &switchable(&rt, &reply), " signed", jwks.clone());
        let got = i.introspect(0, "t1", now).unwrap();
        assert_eq!((got.get("sub"), got.get("iss")), (Some(&json!("alice")), None), "the inner answer, no JWT claims");
        let refuse = |media: &'static str, body: Vec<u8>, token: &str| {
            *lock(&reply) = (200, media, body);
            i.introspect(0, token, now).unwrap_err()
        };
        // An answer for another client (RFC 9701 §5: `aud` is the requester).
        let other = json!({"iss": "https://idp.example", "aud": "someone-else", "iat": now / 1_000, "token_introspection": answer});
        let why = refuse(SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &other), "t2");
        assert!(why.contains("another client"), "{why}");
        // The plain JSON answer, as if the signature had been stripped on the way.
        let why = refuse("application/json", answer.to_string().into_bytes(), "t3");
        assert!(why.contains("not signed"), "{why}");
        // Another type of JWT (an access token or ID token) is not an answer.
        let why = refuse(SIGNED_ANSWER, signed_answer(&der, "JWT", &good), "t4");
        assert!(why.contains("token-introspection+jwt"), "{why}");
        // Signed by a key that is not the issuer's.
        let (stranger, _) = es256();
        let why = refuse(SIGNED_ANSWER, signed_answer(&stranger, "token-introspection+jwt", &good), "t5");
        assert!(why.contains("signature"), "{why}");
        // Another issuer, no `iat`, no answer inside, not a JWT at all.
        let mut from_other = good.clone();
        from_other["iss"] = json!("https://evil.example");
        assert!(
            refuse(SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &from_other), "t6").contains("issuer")
        );
        // An answer signed long before the question: a replayed one.
        let mut replayed = good.clone();
        replayed["iat"] = json!(now / 1_000 - 120);
        let why = refuse(SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &replayed), "t10");
        assert!(why.contains("older than the question"), "{why}");
        let mut no_iat = good.clone();
        no_iat.as_object_mut().unwrap().remove("iat");
        assert!(refuse(SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &no_iat), "t7").contains("iat"));
        let mut empty = good.clone();
        empty["token_introspection"] = json!("active");
        assert!(
            refuse(SIGNED_ANSWER, signed_answer(&der, "token-introspection+jwt", &empty), "t8")
                .contains("token_introspection")
        );
        assert!(refuse(SIGNED_ANSWER, b"not a jwt".to_vec(), "t9").contains("compact JWS"));
        // None of the refused answers was kept.
        assert_eq!(lock(&i.cache).len(), 1);
    }

    #[test]
    fn a_stale_answer_serves_while_the_endpoint_fails_never_past_exp() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let now = 1_800_000_000_000u64;
        let active = json!({"active": true, "aud": "a", "exp": now / 1_000 + 600}).to_string().into_bytes();
        for stale in [true, false] {
            let reply: Reply = Arc::new(Mutex::new((200, "application/json", active.clone())));
            let options = if stale { " cache 10s on_introspection_error stale" } else { " cache 10s" };
            let i = introspector_with(&rt, &switchable(&rt, &reply), options, None);
            assert!(i.introspect(0, "t", now).is_ok());
            lock(&reply).0 = 503;
            // Past `cache`, the endpoint is asked, fails, and the kept answer serves (or not).
            assert_eq!(i.introspect(0, "t", now + 20_000).is_ok(), stale, "stale {stale}");
            assert_eq!(i.calls.load(Ordering::Relaxed), 2);
            // During the back-off too, without asking.
            assert_eq!(i.introspect(0, "t", now + 20_500).is_ok(), stale, "stale {stale}");
            assert_eq!(i.calls.load(Ordering::Relaxed), 2);
            // A token never seen before has nothing kept: refused.
            assert!(i.introspect(0, "u", now + 30_000).unwrap_err().contains("503"));
            // Never past its stale time (5m past `cache`, the default), nor the token's `exp`.
            assert_eq!(i.introspect(0, "t", now + 309_000).is_ok(), stale);
            assert!(i.introspect(0, "t", now + 311_000).is_err());
            assert_eq!(i.stale_served.load(Ordering::Relaxed), if stale { 3 } else { 0 });
        }
        // A refusal (here a 401: Warden's client disabled) is not a down
        // endpoint: no kept answer serves.
        let reply: Reply = Arc::new(Mutex::new((200, "application/json", active.clone())));
        let i = introspector_with(&rt, &switchable(&rt, &reply), " cache 10s on_introspection_error stale 1h", None);
        assert!(i.introspect(0, "t", now).is_ok());
        lock(&reply).0 = 401;
        assert!(i.introspect(0, "t", now + 20_000).unwrap_err().contains("401"));
        assert_eq!(i.stale_served.load(Ordering::Relaxed), 0);
        // With `stale 1h`, the token's `exp` (600 s) is what ends it.
        lock(&reply).0 = 503;
        assert!(i.introspect(0, "t", now + 590_000).is_ok());
        assert!(i.introspect(0, "t", now + 601_000).is_err());
    }

    #[test]
    fn huge_malformed_and_failed_answers_are_errors_and_back_off() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let huge = introspector(&rt, &endpoint(&rt, 200, vec![b' '; MAX_ANSWER_BYTES + 1]));
        assert!(huge.introspect(0, "t", 1_000).unwrap_err().contains("larger"), "huge");
        let list = introspector(&rt, &endpoint(&rt, 200, b"[1, 2]".to_vec()));
        assert!(list.introspect(0, "t", 1_000).unwrap_err().contains("not a JSON object"));
        let text = introspector(&rt, &endpoint(&rt, 200, b"active".to_vec()));
        assert!(text.introspect(0, "t", 1_000).is_err());
        // A 4xx refuses that token only: the next one is asked.
        let refused = introspector(&rt, &endpoint(&rt, 401, b"{}".to_vec()));
        assert!(refused.introspect(0, "t", 1_000).unwrap_err().contains("401"));
        assert!(refused.introspect(0, "u", 1_001).unwrap_err().contains("401"));
        assert_eq!(refused.calls.load(Ordering::Relaxed), 2);
        // A failing endpoint (5xx) is left alone for the back-off, then asked again.
        let failing = introspector(&rt, &endpoint(&rt, 500, b"{}".to_vec()));
        assert!(failing.introspect(0, "t", 1_000).unwrap_err().contains("500"));
        assert!(failing.introspect(0, "u", 1_500).unwrap_err().contains("a moment ago"));
        assert_eq!(failing.calls.load(Ordering::Relaxed), 1);
        assert!(failing.introspect(0, "u", 1_000 + BACKOFF_MS + 1).is_err());
        assert_eq!(failing.calls.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn answers_are_kept_until_exp_and_inactive_ones_briefly() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let now = 1_800_000_000_000u64;
        let active = json!({"active": true, "aud": "a", "exp": now / 1_000 + 30}).to_string().into_bytes();
        let i = introspector(&rt, &endpoint(&rt, 200, active));
        assert!(i.introspect(0, "t", now).is_ok());
        assert!(i.introspect(0, "t", now + 29_000).is_ok());
        assert_eq!(i.calls.load(Ordering::Relaxed), 1, "kept until exp");
        assert!(i.introspect(0, "t", now + 31_000).is_ok());
        assert_eq!(i.calls.load(Ordering::Relaxed), 2, "asked again after exp");
        // No token is kept in clear.
        let kept = lock(&i.cache);
        assert!(kept.keys().all(|k| k.len() == 32));
        drop(kept);
        // An answer too large to keep is used, and asked for again next time.
        let big = json!({"active": true, "aud": "a", "exp": now / 1_000 + 30, "pad": "x".repeat(CACHE_ANSWER_BYTES)});
        let i = introspector(&rt, &endpoint(&rt, 200, big.to_string().into_bytes()));
        assert!(i.introspect(0, "t", now).is_ok());
        assert!(i.introspect(0, "t", now + 1).is_ok());
        assert_eq!(i.calls.load(Ordering::Relaxed), 2, "too large to keep");
        let inactive = introspector(&rt, &endpoint(&rt, 200, b"{\"active\": false}".to_vec()));
        assert!(inactive.introspect(0, "t", now).is_ok());
        assert!(inactive.introspect(0, "t", now + NEGATIVE_MS - 1).is_ok());
        assert_eq!(inactive.calls.load(Ordering::Relaxed), 1);
        assert!(inactive.introspect(0, "t", now + NEGATIVE_MS + 1).is_ok());
        assert_eq!(inactive.calls.load(Ordering::Relaxed), 2);
    }
}
