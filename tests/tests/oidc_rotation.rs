//! `warden serve` against a real OpenID provider (oidc-provider under Node.js,
//! `tests/idp/provider.mjs`) that rotates its signing key: the first token signed
//! with the new key is allowed (the request waits for the refetch of the issuer's
//! JWKS), and a burst of tokens with made-up `kid`s costs at most one fetch.
//!
//! Needs `node` and the provider's packages (`cd tests/idp && npm ci`, which
//! `./test.sh` does); without them the test fails and says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use warden_e2e::Warden;
use warden_e2e::oidc::{AUD, Provider, b64};

/// The `kid` in a token's header.
fn kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["kid"].as_str().unwrap().to_owned()
}

fn policy(issuer: &str) -> String {
    format!(
        "zone edge {{\n  issuer \"{issuer}\" {{\n    jwks url \"{issuer}/jwks\" refresh 5m\n    audience \"{AUD}\"\n    algorithms RS256\n  }}\n}}\n\napi things in zone edge {{\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/things\" {{\n    allow\n  }}\n}}\n"
    )
}

/// `(allow, reason)` of `GET /things` with `token`.
fn decide(w: &Warden, token: &str) -> (bool, String) {
    w.bearer_check("api.example", "/things", token).unwrap()
}

/// A counter's value in `/metrics`.
fn metric(w: &Warden, name: &str) -> u64 {
    let text = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

#[test]
fn a_key_rotation_at_a_real_openid_provider_refuses_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Provider::start(&dir.path().join("provider.log"));
    // Node compiles a route's code on its first use; fetch the key set once so
    // that Warden's fetches meet a warm provider.
    idp.get("/jwks").unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("api.warden"), policy(&idp.issuer())).unwrap();

    let before_start = idp.jwks_hits();
    let w = Warden::start(&policies, &[]).unwrap();
    // The key set was fetched before the revision was published.
    assert_eq!(idp.jwks_hits(), before_start + 1);
    let old = idp.token();
    assert_eq!(decide(&w, &old), (true, "allowed".to_owned()));

    // The provider rotates a moment after Warden started and signs with the new
    // key at once. The first token it signs is allowed: the request waits for the
    // refetch it starts (the start-up fetch does not hold that back).
    let new_kid = idp.rotate();
    idp.get("/jwks").unwrap();
    let before_rotation = idp.jwks_hits();
    let new = idp.token();
    assert_eq!(kid(&new), new_kid);
    assert_ne!(kid(&old), new_kid);
    assert_eq!(decide(&w, &new), (true, "allowed".to_owned()));
    assert_eq!(idp.jwks_hits(), before_rotation + 1);
    // The old key is still published: its tokens stay good.
    assert_eq!(decide(&w, &old), (true, "allowed".to_owned()));
    let rotated_at = Instant::now();

    // Made-up kids (the new token's claims under another header), 20 at once, once
    // the 5 s after the rotation's refetch are over: every one is refused, and
    // they cost one fetch, shared by those that came while it ran.
    let payload = new.split('.').nth(1).unwrap().to_owned();
    let forged: Vec<String> = (0..20)
        .map(|i| {
            let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("made-up-{i}-{}", std::process::id())});
            format!("{}.{payload}.{}", b64(header.to_string().as_bytes()), b64(b"not a signature"))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(5_200).saturating_sub(rotated_at.elapsed()));
    let before_burst = idp.jwks_hits();
    let burst_started = Instant::now();
    let answers: Vec<(bool, String)> = std::thread::scope(|scope| {
        let threads: Vec<_> = forged.iter().map(|t| scope.spawn(|| decide(&w, t))).collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let burst = burst_started.elapsed();
    assert_eq!(answers, vec![(false, "key_unknown".to_owned()); 20]);
    let fetched = idp.jwks_hits() - before_burst;
    // One fetch per 5 s: a burst that (on a machine so slow) lasted longer than
    // that may have had one more per period begun.
    let allowed = 1 + burst.as_millis() as u64 / 5_000;
    assert!((1..=allowed).contains(&fetched), "{fetched} fetches for a burst of 20 made-up kids in {burst:?}");
    assert_eq!(decide(&w, &new), (true, "allowed".to_owned()));

    // Warden counted each of its fetches as good; the provider saw no others
    // than those and the test's own two.
    let by_warden = idp.jwks_hits() - 2;
    assert_eq!(by_warden, 2 + fetched);
    assert_eq!(metric(&w, "warden_jwks_fetches_total"), by_warden);
    assert_eq!(metric(&w, "warden_jwks_fetch_failures_total"), 0);
}
