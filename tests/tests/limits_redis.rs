//! Shared rate limits in a real `redis-server`: two `warden serve` processes
//! sharing one Redis enforce one limit; with Redis stopped each limit follows its
//! `on_backend_error` without stalling; with Redis back the limits count again.
//! Also the Lua GCRA against the in-process limiter's semantics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use serde_json::{Value, json};
use warden_e2e::{RedisServer, Warden};
use warden_engine::limits::{BackendError, Limiter, Rate};
use warden_server::limits_redis::{Redis, Settings};

/// Two routes, one limit each: the same rate, opposite `on_backend_error`.
const POLICY: &str = r#"// Shared-limit tests.
limit strict  = 5 per 1m by source.ip on_backend_error deny
limit lenient = 5 per 1m by source.ip on_backend_error allow

zone open {
}

api strict in zone open {
  host "api.example.test"
  prefix "/strict"
  auth none
  limit strict

  route GET "/ping" {
    allow
  }
}

api lenient in zone open {
  host "api.example.test"
  prefix "/lenient"
  auth none
  limit lenient

  route GET "/ping" {
    allow
  }
}
"#;

/// A generous bound on one check while Redis is down: the point is that a call
/// returns rather than hangs, not how fast (the limiter's own bound is 50 ms).
const BOUNDED: Duration = Duration::from_secs(2);

fn check(w: &Warden, api: &str, ip: &str) -> Value {
    let body = json!({
        "request": {"method": "GET", "scheme": "https", "host": "api.example.test", "path": format!("/{api}/ping")},
        "source": {"ip": ip}
    });
    let r = w.post_json("/v1/check", &body).unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json().unwrap()
}

fn start_pair(dir: &Path, redis: &RedisServer) -> (Warden, Warden) {
    std::fs::write(dir.join("policy.warden"), POLICY).unwrap();
    let config = dir.join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[reload]\nwatch = false\n\n[limits]\nbackend = \"{}\"\ntimeout_ms = 50\npool = 4\nbackoff_ms = 200\n",
            redis.url()
        ),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    (Warden::start(dir, &args).unwrap(), Warden::start(dir, &args).unwrap())
}

/// Five allowed in total across both replicas, the sixth denied on either.
fn assert_one_shared_limit(a: &Warden, b: &Warden, ip: &str) {
    for i in 0..5u64 {
        let w = if i % 2 == 0 { a } else { b };
        let d = check(w, "strict", ip);
        assert_eq!(d["allow"], true, "request {i}: {d}");
    }
    for w in [a, b] {
        let d = check(w, "strict", ip);
        assert_eq!((d["allow"].as_bool(), d["status"].as_u64()), (Some(false), Some(429)), "{d}");
        assert_eq!(d["reason"], "rate_limited");
        let retry: u64 = d["headers"]["retry-after"].as_str().unwrap().parse().unwrap();
        // One request every 12 s: the next is admitted within 12 s, never later than the period.
        assert!((1..=12).contains(&retry), "retry-after {retry}");
        assert_eq!(d["headers"]["ratelimit-remaining"], "0");
    }
}

#[test]
fn two_replicas_share_one_limit_and_follow_on_backend_error_while_redis_is_down() {
    let mut redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = start_pair(dir.path(), &redis);

    assert_one_shared_limit(&a, &b, "203.0.113.1");
    // The other limit has buckets of its own.
    assert_eq!(check(&b, "lenient", "203.0.113.1")["allow"], true);

    // Redis down: the strict limit denies, the lenient one lets requests through,
    // and no call waits long (the first pays a refused connect, later ones the back-off).
    let port = redis.port;
    redis.stop();
    for round in 0..3 {
        for w in [&a, &b] {
            let started = Instant::now();
            let d = check(w, "strict", "198.51.100.2");
            assert!(started.elapsed() < BOUNDED, "strict check took {:?}", started.elapsed());
            assert_eq!((d["allow"].as_bool(), d["status"].as_u64()), (Some(false), Some(429)), "round {round}: {d}");
            assert_eq!(d["reason"], "rate_limited");
            assert!(d["detail"].as_str().unwrap_or_default().contains("backend"), "{d}");
            assert_eq!(d["headers"]["retry-after"], "1");

            let started = Instant::now();
            let d = check(w, "lenient", "198.51.100.2");
            assert!(started.elapsed() < BOUNDED, "lenient check took {:?}", started.elapsed());
            assert_eq!((d["allow"].as_bool(), d["status"].as_u64()), (Some(true), Some(200)), "round {round}: {d}");
        }
    }
    let metrics = String::from_utf8(a.get("/metrics").unwrap().body).unwrap();
    let errors: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("warden_rate_limit_backend_errors_total "))
        .unwrap_or_else(|| panic!("no backend error counter in\n{metrics}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(errors, 6, "{metrics}");

    // Redis back on the same port (empty: it kept nothing): both replicas count
    // again without a restart, once their back-off has passed (the strict limit
    // admits again: one request per replica of a fresh address's five).
    let _redis = RedisServer::start_on(port).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    for w in [&a, &b] {
        loop {
            let d = check(w, "strict", "192.0.2.99");
            if d["allow"] == true {
                break;
            }
            assert!(Instant::now() < deadline, "the limits did not come back: {d}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert_one_shared_limit(&a, &b, "192.0.2.3");
}

#[test]
fn a_bad_backend_url_is_refused_at_start_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.warden"), POLICY).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[limits]\nbackend = \"rediss://admin:hunter2@cache.internal:6380\"\n").unwrap();
    let out = std::process::Command::new(warden_e2e::warden_bin().unwrap())
        .args(["serve", "--policies", dir.path().to_str().unwrap(), "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("`limits.backend`") && stderr.contains("admin:***@cache.internal"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

fn limiter(redis: &RedisServer) -> Redis {
    let settings = Settings {
        url: redis.url(),
        timeout: Duration::from_millis(200),
        pool: 2,
        backoff: Duration::from_millis(100),
    };
    Redis::new(settings, Counter::default()).unwrap()
}

#[test]
fn the_lua_gcra_matches_the_in_process_limiter() {
    let redis = RedisServer::start().unwrap();
    let r = limiter(&redis);
    let five = Rate { count: 5, period_ms: 60_000, burst: 5 };
    for i in 0..5 {
        let o = r.consume(7, "203.0.113.9", five, 0).unwrap();
        assert!(o.allowed && o.limit == 5 && o.remaining == 4 - i, "{i}: {o:?}");
        assert_eq!(o.retry_after_ms, 0);
        // Full again (every unit back) 12 s per unit consumed, from now.
        assert!(o.reset_ms.abs_diff(12_000 * (i + 1)) <= 5, "{i}: {o:?}");
    }
    let denied = r.consume(7, "203.0.113.9", five, 0).unwrap();
    assert!(!denied.allowed && denied.remaining == 0, "{denied:?}");
    assert!((11_900..=12_000).contains(&denied.retry_after_ms), "{denied:?}");
    // Other keys and other limits have their own buckets.
    assert!(r.consume(7, "198.51.100.1", five, 0).unwrap().allowed);
    assert!(r.consume(8, "203.0.113.9", five, 0).unwrap().allowed);

    // Burst above the rate: 200 at once (a few more if the loop spans refills).
    let rate = Rate { count: 100, period_ms: 1_000, burst: 200 };
    let started = Instant::now();
    let admitted = (0..300).filter(|_| r.consume(9, "c", rate, 0).unwrap().allowed).count();
    let refills = usize::try_from(started.elapsed().as_millis() / 10).unwrap() + 1;
    assert!((200..=200 + refills).contains(&admitted), "{admitted} admitted");

    // Each bucket expires when it is full again; the key is one hash tag.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_connection().unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("warden:*").query(&mut c).unwrap();
    assert_eq!(keys.len(), 4, "{keys:?}");
    for k in &keys {
        assert!(k.starts_with("warden:{") && k.ends_with('}'), "{k}");
        let ttl: i64 = redis::cmd("PTTL").arg(k).query(&mut c).unwrap();
        assert!((1..=60_000).contains(&ttl), "{k}: {ttl}");
    }

    // The script is reloaded when Redis forgot it (NOSCRIPT after a flush or restart).
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    assert!(!r.consume(7, "203.0.113.9", five, 0).unwrap().allowed);
    assert!(r.consume(7, "192.0.2.1", five, 0).unwrap().allowed);
}

#[test]
fn a_stopped_redis_is_a_backend_error_and_its_return_is_noticed() {
    let mut redis = RedisServer::start().unwrap();
    let r = limiter(&redis);
    let five = Rate { count: 5, period_ms: 60_000, burst: 5 };
    assert!(r.consume(1, "k", five, 0).unwrap().allowed);
    let port = redis.port;
    redis.stop();
    assert_eq!(r.consume(1, "k", five, 0), Err(BackendError));
    let _redis = RedisServer::start_on(port).unwrap();
    // Still backing off right after the failure, then Redis again (empty after the restart).
    std::thread::sleep(Duration::from_millis(150));
    let o = r.consume(1, "k", five, 0).unwrap();
    assert!(o.allowed && o.remaining == 4, "{o:?}");
}

#[test]
fn a_frozen_redis_costs_one_timeout_then_nothing_until_the_back_off_ends() {
    let redis = RedisServer::start().unwrap();
    let settings = Settings {
        url: redis.url(),
        timeout: Duration::from_millis(100),
        pool: 2,
        backoff: Duration::from_millis(500),
    };
    let errors = Counter::default();
    let r = Redis::new(settings, errors.clone()).unwrap();
    let five = Rate { count: 5, period_ms: 60_000, burst: 5 };
    assert!(r.consume(1, "k", five, 0).unwrap().allowed);
    // Frozen: the connection is open, no answer comes. The read timeout ends the wait.
    assert!(redis.signal("STOP"));
    let started = Instant::now();
    assert_eq!(r.consume(1, "k", five, 0), Err(BackendError));
    let first = started.elapsed();
    assert!(first >= Duration::from_millis(90) && first < BOUNDED, "first check took {first:?}");
    // During the back-off: answered at once, without a round trip.
    let started = Instant::now();
    for _ in 0..100 {
        assert_eq!(r.consume(1, "k", five, 0), Err(BackendError));
    }
    assert!(started.elapsed() < Duration::from_millis(100), "100 checks took {:?}", started.elapsed());
    assert_eq!(errors.get(), 101);
    // Thawed and the back-off over: counting again, the state kept. The check
    // that timed out had reached Redis, which runs it on waking: it counts (two
    // of five used before this one), so a timeout errs on the side of the limit.
    assert!(redis.signal("CONT"));
    std::thread::sleep(Duration::from_millis(600));
    let o = r.consume(1, "k", five, 0).unwrap();
    assert!(o.allowed && o.remaining == 2, "{o:?}");
}

/// DPoP proofs (RFC 9449) are used once across replicas: the `jti` store is
/// the limits' Redis. A proof one replica took is a replay at the other; with
/// Redis down a proof is refused rather than let through unchecked.
#[test]
fn a_dpop_proof_used_at_one_replica_is_a_replay_at_the_other() {
    let mut redis = RedisServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let idp = warden_e2e::idp::TestIdp::new("https://idp.example.test", "https://api.example.test", "k1").unwrap();
    std::fs::write(dir.path().join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    std::fs::write(
        dir.path().join("policy.warden"),
        "zone edge {\n  issuer \"https://idp.example.test\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://api.example.test\"\n  }\n}\n\napi things in zone edge {\n  host \"api.example.test\"\n  auth bearer\n\n  route GET \"/things\" {\n    allow\n  }\n}\n",
    )
    .unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[reload]\nwatch = false\n\n[limits]\nbackend = \"{}\"\ntimeout_ms = 50\nbackoff_ms = 200\n",
            redis.url()
        ),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let (a, b) = (Warden::start(dir.path(), &args).unwrap(), Warden::start(dir.path(), &args).unwrap());
    let key = warden_e2e::dpop::DpopKey::new();
    let token = idp.mint(&json!({"sub": "u", "cnf": {"jkt": key.jkt()}}));
    let ask = |w: &Warden, proof: &str| -> String {
        let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example.test", "path": "/things",
            "headers": {"authorization": format!("DPoP {token}"), "dpop": proof}}});
        let d = w.post_json("/v1/check", &body).unwrap().json().unwrap();
        d["reason"].as_str().unwrap_or_else(|| panic!("not a decision: {d}")).to_owned()
    };
    let uri = "https://api.example.test/things";
    let proof = key.proof("GET", uri, Some(&token));
    assert_eq!(ask(&a, &proof), "allowed");
    assert_eq!(ask(&b, &proof), "dpop_proof_invalid", "the other replica saw it used");
    assert_eq!(ask(&a, &proof), "dpop_proof_invalid");
    assert_eq!(ask(&b, &key.proof("GET", uri, Some(&token))), "allowed");
    // Without the store, no proof can be known fresh: refused.
    redis.stop();
    assert_eq!(ask(&a, &key.proof("GET", uri, Some(&token))), "dpop_proof_invalid");
}
