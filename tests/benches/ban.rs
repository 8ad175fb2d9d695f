//! The cost of a ban (issue 21): one route decided by the engine with no ban,
//! with one ban in its zone and none held (the usual case: a lock-free
//! answer), with 1,000 other keys banned (the lookup under a shard's lock), a
//! denial that counts toward the ban, and the same ban kept in a real
//! `redis-server` on loopback (a round trip per check). Every case checks its
//! decision first.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::eval::Prepared;
use warden_engine::limits::{Limiter, Memory};
use warden_engine::run::{Engine, HttpRequest, TokenVerifier, VerifiedToken};
use warden_language::reason::Reason;

const POLICY: &str = r#"zone plain {
  require tls
}

zone guarded {
  require tls
}

ban wrong_passwords = 10 of 403 per 1m by source.ip for 15m

api plain in zone plain {
  host "plain.example"
  auth none
  route POST "/login" {
    allow when header["x-password"] == "open-sesame"
  }
}

api guarded in zone guarded {
  host "guarded.example"
  auth none
  ban wrong_passwords
  route POST "/login" {
    allow when header["x-password"] == "open-sesame"
  }
}
"#;

struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        Err(path.to_owned())
    }
}

struct NoTokens;

impl TokenVerifier for NoTokens {
    fn verify(&self, _t: &str, _i: &[u32], _n: u64) -> Result<VerifiedToken, (Reason, String)> {
        Err((Reason::SignatureInvalid, "no tokens here".to_owned()))
    }
}

fn engine(limiter: Arc<dyn Limiter>) -> Engine {
    let set = PolicySet { files: vec![SourceFile::new("bench.warden".to_owned(), POLICY.to_owned())] };
    let (graph, _) = compile(&set, &NoFiles).unwrap();
    Engine::new(Prepared::new(graph).unwrap(), limiter, Arc::new(NoTokens))
}

fn login(host: &str, password: &str, ip: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        scheme: "https".to_owned(),
        host: host.to_owned(),
        target: "/login".to_owned(),
        headers: vec![("x-password".to_owned(), password.to_owned())],
        source_ip: Some(ip.parse().unwrap()),
        now_ms: 1_800_000_000_000,
        ..HttpRequest::default()
    }
}

fn bench(c: &mut Criterion) {
    let memory = engine(Arc::new(Memory::new(100_000)));
    let (plain, guarded) = (
        login("plain.example", "open-sesame", "198.51.100.7"),
        login("guarded.example", "open-sesame", "198.51.100.7"),
    );
    assert_eq!(memory.check_http(&plain).reason, Reason::Allowed);
    assert_eq!(memory.check_http(&guarded).reason, Reason::Allowed);
    let mut group = c.benchmark_group("ban");
    group.bench_function("no ban", |b| b.iter(|| black_box(memory.check_http(black_box(&plain)))));
    group.bench_function("one ban, none held", |b| b.iter(|| black_box(memory.check_http(black_box(&guarded)))));
    // A denial that counts toward the ban (from ever new addresses, so no ban starts).
    let mut n = 0u32;
    group.bench_function("a denial counted", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
            black_box(memory.check_http(&login("guarded.example", "wrong", &ip)))
        });
    });
    // 1,000 other addresses banned: the check takes a shard's lock.
    let held = engine(Arc::new(Memory::new(100_000)));
    for i in 0..1_000u32 {
        let ip = format!("203.0.{}.{}", i / 250, i % 250);
        for _ in 0..10 {
            held.check_http(&login("guarded.example", "wrong", &ip));
        }
        assert_eq!(held.check_http(&login("guarded.example", "open-sesame", &ip)).reason, Reason::Banned);
    }
    assert_eq!(held.check_http(&guarded).reason, Reason::Allowed);
    group.bench_function("one ban, 1,000 held", |b| b.iter(|| black_box(held.check_http(black_box(&guarded)))));

    // The same in Redis: one round trip per check.
    let redis_server = warden_e2e::RedisServer::start().unwrap();
    let redis = warden_server::limits_redis::Redis::new(
        warden_server::limits_redis::Settings {
            url: redis_server.url(),
            timeout: Duration::from_millis(200),
            pool: 4,
            backoff: Duration::from_millis(200),
        },
        prometheus_client::metrics::counter::Counter::default(),
    )
    .unwrap();
    let shared = engine(Arc::new(redis));
    assert_eq!(shared.check_http(&guarded).reason, Reason::Allowed);
    group.bench_function("one ban in Redis, none held", |b| {
        b.iter(|| black_box(shared.check_http(black_box(&guarded))))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
