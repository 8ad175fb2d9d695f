//! Decision latency on `policies/bank`: (a) an allowed request with a repeated (cached)
//! RS256 token, (b) a first-seen RS256 token next to a bare jsonwebtoken verify of the
//! same token, (c) a denial at route lookup, (d, e) Cedar's `is_authorized` on the same
//! route's rules; and route lookup at 10, 100 and 1,000 routes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use warden_compiler::graph::{Graph, KeySource, Method};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::eval::Prepared;
use warden_engine::jwt::JwksVerifier;
use warden_engine::limits::Memory;
use warden_engine::run::{Engine, HttpRequest};
use warden_engine::token_cache::CachingVerifier;

struct DirLoader(PathBuf);
impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "warden") {
            out.push(p);
        }
    }
}

/// The bank graph with the edge issuer's keys replaced by a key of this run.
fn bank() -> (Graph, KeyPair) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/bank");
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    paths.sort();
    let set = PolicySet {
        files: paths
            .iter()
            .map(|p| SourceFile::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()))
            .collect(),
    };
    let (mut graph, _) = compile(&set, &DirLoader(dir)).unwrap();
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = key.public_key();
    let jwk = json!({"kty": "RSA", "kid": "bench", "alg": "RS256", "n": b64(public.modulus().big_endian_without_leading_zero()), "e": b64(public.exponent().big_endian_without_leading_zero())});
    for issuer in &mut graph.issuers {
        issuer.keys = Some(KeySource::File { path: "bench".into(), jwks: json!({"keys": [jwk.clone()]}) });
    }
    (graph, key)
}

fn token(key: &KeyPair, sub: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "bench"});
    let claims = json!({"iss": "https://idp.bank.example", "aud": "https://api.bank.example", "sub": sub, "customer_id": "42",
        "scope": "accounts:read", "client_id": "mobile", "iat": 1_800_000_000u64, "exp": 1_900_000_000u64});
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut sig).unwrap();
    format!("{message}.{}", b64(&sig))
}

fn request(token: &str, path: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        scheme: "https".into(),
        host: "api.bank.example".into(),
        target: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        source_ip: "198.51.100.7".parse().ok(),
        now_ms: 1_800_000_100_000,
        ..HttpRequest::default()
    }
}

fn bench(c: &mut Criterion) {
    let (graph, key) = bank();
    let verifier = CachingVerifier::new(JwksVerifier::new(&graph, &|_| None), 100_000);
    let engine =
        Engine::new(Prepared::new(graph.clone()).unwrap(), Arc::new(Memory::new(1_000_000)), Arc::new(verifier));
    let tok = token(&key, "u-1");
    let allowed = request(&tok, "/v1/accounts/42");
    let d = engine.check_http(&allowed);
    assert!(d.allow, "{d:?}");

    let mut g = c.benchmark_group("decision");
    // Limits see a new virtual millisecond each time so the per-client limit never trips.
    let mut r = allowed.clone();
    g.bench_function("(a) allowed, cached RS256 token", |b| {
        b.iter(|| {
            r.now_ms += 1;
            black_box(engine.check_http(&r))
        })
    });
    cedar(&mut g);

    let plain = JwksVerifier::new(&graph, &|_| None);
    let edge: Vec<u32> = graph.zones[0].issuers.clone();
    g.bench_function("(b) first-seen RS256 token: warden verify", |b| {
        b.iter(|| black_box(warden_engine::run::TokenVerifier::verify(&plain, &tok, &edge, 1_800_000_100_000).is_ok()))
    });
    let public = key.public_key();
    let decoding = jsonwebtoken::DecodingKey::from_rsa_raw_components(
        public.modulus().big_endian_without_leading_zero(),
        public.exponent().big_endian_without_leading_zero(),
    );
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&["https://api.bank.example"]);
    validation.validate_exp = false;
    g.bench_function("(b) first-seen RS256 token: bare jsonwebtoken decode", |b| {
        b.iter(|| black_box(jsonwebtoken::decode::<serde_json::Value>(&tok, &decoding, &validation).is_ok()))
    });

    let missing = request(&tok, "/v1/nowhere/at/all");
    assert_eq!(engine.check_http(&missing).status, 404);
    g.bench_function("(c) denial at route lookup", |b| b.iter(|| black_box(engine.check_http(&missing))));
    g.finish();

    // Route lookup cost against the number of routes.
    let mut g = c.benchmark_group("route lookup");
    for n in [10usize, 100, 1_000] {
        let mut text = String::from("zone z {\n  require tls\n}\n\napi a in zone z {\n  host \"h\"\n  auth none\n");
        for i in 0..n {
            text.push_str(&format!("  route GET \"/r{i}/{{id}}/items/{{item}}\" {{\n    allow\n  }}\n"));
        }
        text.push_str("}\n");
        let set = PolicySet { files: vec![SourceFile::new("g.warden", text)] };
        let (graph, _) = compile(&set, &DirLoader(PathBuf::new())).unwrap();
        let target = format!("r{}", n / 2);
        let segments = [target.as_str(), "7", "items", "9"];
        g.bench_function(format!("{n} routes"), |b| {
            b.iter(|| black_box(graph.routes.lookup("h", Method::Get, &segments)))
        });
    }
    g.finish();
}

/// Cedar answering the rule layer of the same route (scope, owner rule, teller
/// rule, frozen-account forbid) with `Authorizer::is_authorized`: once with the
/// request and entities built beforehand (evaluation alone), once building the
/// request context per call as a PDP answering HTTP must.
fn cedar(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
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
    g.bench_function("(d) cedar is_authorized, request prebuilt", |b| {
        b.iter(|| black_box(authorizer.is_authorized(&request, &policies, &entities).decision()))
    });
    g.bench_function("(e) cedar is_authorized, request built per call", |b| {
        b.iter(|| {
            let request = Request::new(principal.clone(), action.clone(), resource.clone(), context(), None).unwrap();
            black_box(authorizer.is_authorized(&request, &policies, &entities).decision())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
