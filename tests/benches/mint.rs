//! What `mint` costs an allowed request: the same bearer route decided by the
//! server's decision seam (`decide_now`: engine, signer, log line, metrics)
//! without a `mint`, with a `mint` whose token is reused (the same caller and
//! claims each time), and with a `mint` that signs every time (another path
//! parameter, so other claims, each time), with ES256, EdDSA and RS256 keys.
//! One run, so the figures compare as ratios. Every case checks its decision
//! before it is timed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use warden_engine::run::HttpRequest;
use warden_server::decide::{Check, Door, decide_now};
use warden_server::mint::Minter;
use warden_server::signing::{Algorithm, Issuer, IssuerConfig, KeyConfig, KeyState, generate_file};
use warden_server::state::{Service, now_ms};

const EDGE: &str = "https://edge.bench.example";

/// Two apis with the same route; the second mints for the internal zone.
const POLICY: &str = r#"zone edge {
  issuer "https://idp.bench.example" {
    jwks file "keys/idp.jwks.json"
    audience "https://api.bench.example"
    algorithms RS256
  }
}

zone internal {
  issuer "https://edge.bench.example" {
    jwks url "https://edge.bench.example/.well-known/jwks.json"
    audience "https://internal.bench.example"
    algorithms ES256, EdDSA, RS256
  }
}

api plain in zone edge {
  host "plain.bench.example"
  auth bearer

  route GET "/accounts/{account_id}" {
    scope "accounts:read"
    allow
  }
}

api minting in zone edge {
  host "mint.bench.example"
  auth bearer

  route GET "/accounts/{account_id}" {
    scope "accounts:read"
    allow
    mint for zone internal {
      claim customer_id = claim.customer_id
      claim account = path.account_id
    }
  }
}
"#;

fn get(host: &str, path: &str, token: &str) -> Check {
    Check::Http(HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: host.to_owned(),
        target: path.to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer {token}"))],
        now_ms: now_ms(),
        ..HttpRequest::default()
    })
}

/// A service over the set in `dir` that signs with a new `alg` key.
fn service(dir: &Path, alg: Algorithm) -> Arc<Service> {
    let key = dir.join(format!("edge-{}.pem", alg.as_str()));
    generate_file(alg, &key).unwrap();
    let config = IssuerConfig {
        url: EDGE.to_owned(),
        keys: vec![KeyConfig { file: key, algorithm: alg, kid: None, state: KeyState::Active }],
    };
    let minter = Minter::new(&Issuer::load(&config).unwrap()).unwrap();
    let service = Arc::new(Service::new(dir.to_path_buf(), 1_000, None).with_minter(Arc::new(minter)));
    service.reload().unwrap();
    service
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    let idp =
        warden_e2e::idp::TestIdp::new("https://idp.bench.example", "https://api.bench.example", "bench-1").unwrap();
    std::fs::write(dir.path().join("keys/idp.jwks.json"), idp.jwks().to_string()).unwrap();
    std::fs::write(dir.path().join("bench.warden"), POLICY).unwrap();
    let token = idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "accounts:read"}));

    let mut group = c.benchmark_group("mint");
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let service = service(dir.path(), alg);
        let loaded = service.current().unwrap();
        let decide = |check: &Check| decide_now(&service, &loaded, check, Door::Http);

        let plain = get("plain.bench.example", "/accounts/42", &token);
        let d = decide(&plain);
        assert!(d.allow && d.header("authorization").is_none(), "{d:?}");
        let minting = get("mint.bench.example", "/accounts/42", &token);
        let first = decide(&minting);
        assert!(first.allow, "{first:?}");
        let minted = first.header("authorization").unwrap().to_owned();
        assert!(minted.starts_with("Bearer ey"), "{minted}");
        assert_eq!(decide(&minting).header("authorization"), Some(minted.as_str()), "reused");
        let other = decide(&get("mint.bench.example", "/accounts/43", &token));
        assert_ne!(other.header("authorization"), Some(minted.as_str()), "other claims, other token");

        let name = alg.as_str();
        if alg == Algorithm::ES256 {
            group.bench_function("allow alone", |b| b.iter(|| black_box(decide(black_box(&plain)))));
        }
        group.bench_function(format!("allow + mint, reused ({name})"), |b| {
            b.iter(|| black_box(decide(black_box(&minting))))
        });
        // A new account each time: new claims, a new signature (the cache
        // fills, and is emptied of what is past reuse when full).
        let checks: Vec<Check> =
            (0..20_000).map(|i| get("mint.bench.example", &format!("/accounts/n{i}"), &token)).collect();
        let mut next = 0usize;
        group.bench_function(format!("allow + mint, signed ({name})"), |b| {
            b.iter(|| {
                next = (next + 1) % checks.len();
                black_box(decide(black_box(&checks[next])))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
