//! Decision cost on `policies/bank`, each case checked once before it is timed to
//! reach the decision its name claims: a cached-token allow, a first-seen-token
//! allow, a 404 at route lookup, a 429 before authentication, Cedar on the same
//! route's rules; the limiter and the token cache empty against full; route
//! lookup against the number of routes and of hosts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

#[path = "../tests/common/bank.rs"]
mod bank;

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::signature::KeyPair as _;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};
use warden_compiler::graph::Method;
use warden_compiler::{PolicySet, SourceFile, compile};
use warden_engine::eval::Prepared;
use warden_engine::jwt::JwksVerifier;
use warden_engine::limits::{Limiter, Memory, Rate};
use warden_engine::run::{Engine, HttpRequest, TokenVerifier, VerifiedToken};
use warden_engine::token_cache::CachingVerifier;
use warden_language::reason::Reason;

use self::bank::{DirLoader, NOW_MS, bank, cached_engine, request, token};

/// The limiter's default size in the service (`max_keys`).
const LIMITER_KEYS: usize = 1_000_000;
/// The token cache's default size in the service.
const TOKEN_CACHE: usize = 100_000;

fn decisions(c: &mut Criterion) {
    let (graph, key) = bank();
    let cached = cached_engine(&graph, LIMITER_KEYS, TOKEN_CACHE);
    let uncached = Engine::new(
        Prepared::new(graph.clone()).unwrap(),
        Arc::new(Memory::new(LIMITER_KEYS)),
        Arc::new(JwksVerifier::new(&graph, &|_| None)),
    );
    let tok = token(&key, "u-1");
    let mut g = c.benchmark_group("decision");

    // An allow: one second passes between requests, so the bank's limits
    // (`edge_per_ip` 300 per minute, `per_client` 100 per second) never trip.
    let mut allowed = request(&tok, "/v1/accounts/42");
    let next_allow = |engine: &Engine, r: &mut HttpRequest| {
        r.now_ms += 1_000;
        engine.check_http(r)
    };
    let mut probe = allowed.clone();
    for i in 0..1_000 {
        let d = next_allow(&cached, &mut probe);
        assert!(d.allow && d.reason == Reason::Allowed, "allow {i}: {d:?}");
    }
    g.bench_function("allow, cached RS256 token", |b| b.iter(|| black_box(next_allow(&cached, &mut allowed))));
    let mut first_seen = request(&tok, "/v1/accounts/42");
    let d = next_allow(&uncached, &mut first_seen.clone());
    assert!(d.allow, "{d:?}");
    g.bench_function("allow, first-seen RS256 token (verified each time)", |b| {
        b.iter(|| black_box(next_allow(&uncached, &mut first_seen)))
    });

    // A denial at route lookup, before anything else runs.
    let missing = request(&tok, "/v1/nowhere/at/all");
    let d = cached.check_http(&missing);
    assert!(d.status == 404 && d.reason == Reason::RouteNotFound, "{d:?}");
    g.bench_function("deny 404 at route lookup", |b| b.iter(|| black_box(cached.check_http(&missing))));

    // A 429 from `edge_per_ip` before authentication: the clock stands still and
    // this client has used its burst (a denial does not move the bucket on).
    let mut flood = request(&tok, "/v1/accounts/42");
    flood.source_ip = "203.0.113.9".parse().ok();
    for _ in 0..200 {
        cached.check_http(&flood);
    }
    let d = cached.check_http(&flood);
    assert!(d.status == 429 && d.reason == Reason::RateLimited && d.detail.contains("edge_per_ip"), "{d:?}");
    g.bench_function("deny 429 before authentication", |b| b.iter(|| black_box(cached.check_http(&flood))));

    cedar(&mut g);

    // What one bank token costs the cache, by its own estimate.
    let one = CachingVerifier::new(JwksVerifier::new(&graph, &|_| None), 10);
    assert!(one.verify(&tok, &graph.zones[0].issuers, NOW_MS).is_ok());
    println!("token cache: a bank access token ({} bytes) is estimated at {} bytes", tok.len(), one.bytes());

    // The signature check alone, against jsonwebtoken's own.
    let plain = JwksVerifier::new(&graph, &|_| None);
    let edge: Vec<u32> = graph.zones[0].issuers.clone();
    assert!(plain.verify(&tok, &edge, NOW_MS).is_ok());
    g.bench_function("RS256 verify: warden", |b| b.iter(|| black_box(plain.verify(&tok, &edge, NOW_MS).is_ok())));
    let public = key.public_key();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(
        public.modulus().big_endian_without_leading_zero(),
        public.exponent().big_endian_without_leading_zero(),
    );
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://api.bank.example"]);
    validation.validate_exp = false;
    assert!(jsonwebtoken::decode::<serde_json::Value>(&tok, &decoding, &validation).is_ok());
    g.bench_function("RS256 verify: bare jsonwebtoken decode", |b| {
        b.iter(|| black_box(jsonwebtoken::decode::<serde_json::Value>(&tok, &decoding, &validation).is_ok()))
    });
    g.finish();
}

/// Cedar answering the rule layer of the same route (scope, owner rule, teller
/// rule, frozen-account forbid) with `Authorizer::is_authorized`: once with the
/// request and entities built beforehand (evaluation alone), once building the
/// request context per call as a PDP answering HTTP must.
fn cedar(g: &mut BenchmarkGroup<'_, WallTime>) {
    use cedar_policy::{Authorizer, Context, Decision, Entities, EntityUid, PolicySet, Request};
    let policies: PolicySet = r#"
        permit(principal, action == Action::"GET /v1/accounts/{account_id}", resource)
        when { principal.scope.contains("accounts:read") && principal.customer_id == context.path.account_id };
        permit(principal, action == Action::"GET /v1/accounts/{account_id}", resource)
        when { principal.scope.contains("accounts:read") && resource.tellers.contains(principal.sub) };
        forbid(principal, action == Action::"GET /v1/accounts/{account_id}", resource)
        when { resource.frozen_accounts.contains(context.path.account_id) };
    "#
    .parse()
    .unwrap();
    let entities = Entities::from_json_value(
        json!([
            {"uid": {"type": "User", "id": "u-1"}, "parents": [],
             "attrs": {"sub": "u-1", "customer_id": "42", "scope": ["accounts:read"], "client_id": "mobile"}},
            {"uid": {"type": "Route", "id": "accounts"}, "parents": [],
             "attrs": {"tellers": ["t-1", "t-2"], "frozen_accounts": ["13", "666"]}}
        ]),
        None,
    )
    .unwrap();
    let principal: EntityUid = r#"User::"u-1""#.parse().unwrap();
    let action: EntityUid = r#"Action::"GET /v1/accounts/{account_id}""#.parse().unwrap();
    let resource: EntityUid = r#"Route::"accounts""#.parse().unwrap();
    let context = || {
        Context::from_json_value(
            json!({"path": {"account_id": "42"}, "source": {"ip": "198.51.100.7"}, "method": "GET"}),
            None,
        )
        .unwrap()
    };
    let request = Request::new(principal.clone(), action.clone(), resource.clone(), context(), None).unwrap();
    let authorizer = Authorizer::new();
    assert_eq!(authorizer.is_authorized(&request, &policies, &entities).decision(), Decision::Allow);
    g.bench_function("cedar is_authorized, request prebuilt", |b| {
        b.iter(|| black_box(authorizer.is_authorized(&request, &policies, &entities).decision()))
    });
    g.bench_function("cedar is_authorized, request built per call", |b| {
        b.iter(|| {
            let request = Request::new(principal.clone(), action.clone(), resource.clone(), context(), None).unwrap();
            black_box(authorizer.is_authorized(&request, &policies, &entities).decision())
        })
    });
}

/// A verifier with no cryptography: the token's text is its subject. What the
/// cache costs, without a signature check to hide it.
struct Trivial;

impl TokenVerifier for Trivial {
    fn verify(&self, token: &str, _: &[u32], _: u64) -> Result<VerifiedToken, (Reason, String)> {
        let mut claims = Map::new();
        claims.insert("sub".to_owned(), json!(token));
        claims.insert("exp".to_owned(), json!(1_900_000_000u64));
        Ok(VerifiedToken { claims: Arc::new(claims), issuer: 0 })
    }
}

/// The cost of a key or token never seen before, in an empty store and in one
/// already holding its cap (each insert then evicts one).
fn full_stores(c: &mut Criterion) {
    let mut g = c.benchmark_group("full stores");
    let rate = Rate { count: 100, period_ms: 1_000, burst: 100 };
    let counter = AtomicU64::new(0);
    let fresh = |prefix: &str| format!("{prefix}-{}", counter.fetch_add(1, Ordering::Relaxed));
    for held in [0, LIMITER_KEYS] {
        let limiter = Memory::new(LIMITER_KEYS);
        let before = resident_bytes();
        // Keys spread over 16 shards unevenly: a fifth more than the cap fills
        // every shard to its share.
        for i in 0..held + held / 5 {
            limiter.consume(1, &format!("fill-{i}"), rate, 0).unwrap();
        }
        assert_eq!(limiter.keys(), held, "keys held");
        if held > 0
            && let (Some(a), Some(b)) = (before, resident_bytes())
        {
            println!("limiter: {held} keys held, {} resident bytes per key", b.saturating_sub(a) / held as u64);
        }
        assert!(limiter.consume(1, &fresh("probe"), rate, 0).unwrap().allowed);
        g.bench_function(format!("limiter: new key, {held} keys held"), |b| {
            b.iter(|| black_box(limiter.consume(1, &fresh("new"), rate, 0).unwrap().allowed))
        });
        assert!(limiter.keys() <= LIMITER_KEYS, "{} keys held", limiter.keys());
    }
    for held in [0, TOKEN_CACHE] {
        let cache = CachingVerifier::new(Trivial, TOKEN_CACHE);
        for i in 0..held {
            cache.verify(&format!("fill-{i}"), &[0], NOW_MS).unwrap();
        }
        assert_eq!(cache.len(), held);
        g.bench_function(format!("token cache: new token, {held} held"), |b| {
            b.iter(|| black_box(cache.verify(&fresh("token"), &[0], NOW_MS).is_ok()))
        });
        assert!(cache.len() <= TOKEN_CACHE, "{} tokens held", cache.len());
    }
    g.finish();
}

/// This process's resident memory (Linux), to state a store's cost per entry.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(kb * 1024)
}

/// Route lookup with 10 to 10,000 routes on one host, and on the last of 1 to
/// 1,000 hosts of 10 routes each.
fn route_lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("route lookup");
    let api = |name: &str, host: &str, routes: usize| {
        let mut text = format!("api {name} in zone z {{\n  host \"{host}\"\n  auth none\n");
        for i in 0..routes {
            text.push_str(&format!("  route GET \"/r{i}/{{id}}/items/{{item}}\" {{\n    allow\n  }}\n"));
        }
        text.push_str("}\n");
        text
    };
    let zone = "zone z {\n  require tls\n}\n\n";
    let mut cases = Vec::new();
    for n in [10usize, 100, 1_000, 10_000] {
        cases.push((format!("{n} routes on one host"), format!("{zone}{}", api("a", "h0", n)), "h0".to_owned(), n / 2));
    }
    for hosts in [1usize, 1_000] {
        let text: String = std::iter::once(zone.to_owned())
            .chain((0..hosts).map(|h| api(&format!("a{h}"), &format!("h{h}.example"), 10)))
            .collect();
        cases.push((format!("10 routes on each of {hosts} hosts"), text, format!("h{}.example", hosts - 1), 5));
    }
    for (name, text, host, route) in cases {
        let set = PolicySet { files: vec![SourceFile::new("g.warden", text)] };
        let (graph, _) = compile(&set, &DirLoader(PathBuf::new())).unwrap();
        let target = format!("r{route}");
        let segments = [target.as_str(), "7", "items", "9"];
        assert!(
            matches!(
                graph.routes.lookup(&host, Method::Get, &segments),
                warden_compiler::graph::RouteMatch::Found { .. }
            ),
            "{name}"
        );
        g.bench_function(name, |b| b.iter(|| black_box(graph.routes.lookup(&host, Method::Get, &segments))));
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = decisions, full_stores, route_lookup
}
criterion_main!(benches);
