//! Opaque tokens (RFC 7662) with a real OpenID provider: oidc-provider issues
//! a reference token (not a JWT); `warden serve` asks its introspection
//! endpoint as a client of its own (secret from a file of the policy set),
//! allows the active token, keeps the answer (the provider is asked once for
//! many requests, and once for concurrent ones), refuses a made-up token, a
//! revoked one once the kept answer runs out, and answers 503
//! `introspection_unavailable` while the provider is down. With `signed`, the
//! provider's answers are RFC 9701 JWTs that Warden verifies with its keys;
//! with `on_introspection_error stale`, a kept active answer serves while the
//! provider is down; with `always`, the provider's JWTs are asked about too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::time::Duration;

use serde_json::{Value, json};
use warden_e2e::Warden;
use warden_e2e::oidc::Provider;

fn policy(idp: &str) -> String {
    format!(
        "zone edge {{\n  issuer \"{idp}\" {{\n    introspect url \"{idp}/token/introspection\" client \"warden-introspector\" secret file \"introspection.secret\" cache 2s\n    audience \"https://opaque.example\"\n  }}\n}}\n\napi things in zone edge {{\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/things\" {{\n    scope \"read\"\n    allow when claim.client_id == \"warden-test\"\n    upstream header \"x-client\" = claim.client_id\n  }}\n}}\n"
    )
}

fn check(w: &Warden, token: &str) -> Value {
    check_at(w, "api.example", token)
}

fn check_at(w: &Warden, host: &str, token: &str) -> Value {
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": host, "path": "/things",
        "headers": {"authorization": format!("Bearer {token}")}}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()
}

fn verdict(d: &Value) -> (bool, &str, u64) {
    (d["allow"].as_bool().unwrap(), d["reason"].as_str().unwrap(), d["status"].as_u64().unwrap())
}

#[test]
fn an_opaque_token_is_introspected_kept_and_refused_once_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let mut idp = Provider::start(&dir.path().join("provider.log"));
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("api.warden"), policy(&idp.issuer())).unwrap();
    std::fs::write(policies.join("introspection.secret"), "warden-introspector-secret\n").unwrap();
    let w = Warden::start(&policies, &[]).unwrap();

    let token = idp.opaque_token();
    assert_ne!(token.split('.').count(), 3, "a reference token, not a JWT: {token}");
    let before = idp.introspection_hits();
    let d = check(&w, &token);
    assert_eq!(verdict(&d), (true, "allowed", 200), "{d}");
    // The answer's claims are the token's claims.
    assert_eq!(d["headers"]["x-client"], "warden-test");
    // Kept: more requests do not ask again.
    for _ in 0..5 {
        assert_eq!(verdict(&check(&w, &token)).1, "allowed");
    }
    assert_eq!(idp.introspection_hits() - before, 1);

    // Concurrent requests for a new token: one question.
    let fresh = idp.opaque_token();
    let before = idp.introspection_hits();
    std::thread::scope(|s| {
        let asks: Vec<_> = (0..8).map(|_| s.spawn(|| verdict(&check(&w, &fresh)).1.to_owned())).collect();
        for a in asks {
            assert_eq!(a.join().unwrap(), "allowed");
        }
    });
    assert_eq!(idp.introspection_hits() - before, 1, "concurrent askers wait for one call");

    // A token the provider never issued.
    let d = check(&w, "made-up-reference-token");
    assert_eq!(verdict(&d), (false, "token_inactive", 401), "{d}");

    // Revoked: refused once the kept answer (2 s) runs out.
    idp.revoke(&token);
    std::thread::sleep(Duration::from_millis(2_200));
    let d = check(&w, &token);
    assert_eq!(verdict(&d), (false, "token_inactive", 401), "{d}");

    // The provider down: a token no answer is kept for is a 503, never an allow.
    let unseen = idp.opaque_token();
    idp.stop();
    let d = check(&w, &unseen);
    assert_eq!(verdict(&d), (false, "introspection_unavailable", 503), "{d}");
}

/// Three zones trust the provider: `edge` takes its opaque tokens with signed
/// answers and serves kept answers while it is down; `strict` asks about its
/// JWTs too (`always`); `plain` verifies its JWTs with its keys only.
fn signed_policy(idp: &str) -> String {
    let api = |name: &str, zone: &str| {
        format!(
            "api {name} in zone {zone} {{\n  host \"{name}.example\"\n  auth bearer\n\n  route GET \"/things\" {{\n    scope \"read\"\n    allow when claim.client_id == \"warden-test\"\n  }}\n}}\n\n"
        )
    };
    let introspect = format!(
        "introspect url \"{idp}/token/introspection\" client \"warden-introspector\" secret file \"introspection.secret\""
    );
    format!(
        "zone edge {{\n  issuer \"{idp}\" {{\n    jwks url \"{idp}/jwks\"\n    {introspect} cache 1s signed on_introspection_error stale\n    audience \"https://opaque.example\"\n  }}\n}}\n\n\
         zone strict {{\n  issuer \"{idp}\" {{\n    jwks url \"{idp}/jwks\"\n    {introspect} always\n    audience \"https://api.example\"\n  }}\n}}\n\n\
         zone plain {{\n  issuer \"{idp}\" {{\n    jwks url \"{idp}/jwks\"\n    audience \"https://api.example\"\n  }}\n}}\n\n{}{}{}",
        api("edge", "edge"),
        api("strict", "strict"),
        api("plain", "plain")
    )
}

#[test]
fn signed_answers_are_verified_kept_answers_serve_while_the_provider_is_down_and_always_asks_about_jwts() {
    let dir = tempfile::tempdir().unwrap();
    let mut idp = Provider::start(&dir.path().join("provider.log"));
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("api.warden"), signed_policy(&idp.issuer())).unwrap();
    std::fs::write(policies.join("introspection.secret"), "warden-introspector-secret\n").unwrap();
    let w = Warden::start(&policies, &[]).unwrap();

    // The answer is a JWT the provider signed for `warden-introspector`
    // (RFC 9701); Warden verifies it with the provider's keys and uses the
    // answer inside.
    let token = idp.opaque_token();
    let before = idp.introspection_hits();
    let d = check_at(&w, "edge.example", &token);
    assert_eq!(verdict(&d), (true, "allowed", 200), "{d}");
    let d = check_at(&w, "edge.example", "made-up-reference-token");
    assert_eq!(verdict(&d), (false, "token_inactive", 401), "{d}");
    assert_eq!(idp.introspection_hits() - before, 2);

    // `always`: the provider's JWT is asked about, and the provider's answer
    // decides. oidc-provider keeps no record of the JWT access tokens it
    // issues, so it answers `active: false` and the token is refused; the
    // zone that verifies JWTs with the keys alone allows the same token.
    let jwt = idp.token();
    let before = idp.introspection_hits();
    let d = check_at(&w, "strict.example", &jwt);
    assert_eq!(verdict(&d), (false, "token_inactive", 401), "{d}");
    assert_eq!(idp.introspection_hits() - before, 1);
    let d = check_at(&w, "plain.example", &jwt);
    assert_eq!(verdict(&d), (true, "allowed", 200), "{d}");
    assert_eq!(idp.introspection_hits() - before, 1, "no question for a zone without `introspect`");

    // The provider down, past `cache` (1 s): the kept active answer serves
    // (`on_introspection_error stale`); a token with no kept answer is a 503.
    let unseen = idp.opaque_token();
    idp.stop();
    std::thread::sleep(Duration::from_millis(1_200));
    let d = check_at(&w, "edge.example", &token);
    assert_eq!(verdict(&d), (true, "allowed", 200), "{d}");
    let d = check_at(&w, "edge.example", &unseen);
    assert_eq!(verdict(&d), (false, "introspection_unavailable", 503), "{d}");
}
