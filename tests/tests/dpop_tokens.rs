//! DPoP-bound access tokens (RFC 9449) with a real OpenID provider: the client
//! (this test, with an ES256 key made for the run) asks oidc-provider for a
//! token with a DPoP proof and gets one bound to its key (`cnf.jkt`); then
//! `warden serve` takes it only with the `DPoP` scheme and a fresh proof by
//! that key for the very request: a replayed proof, a proof for another method
//! or URI, the token without its proof or with the `Bearer` scheme are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use warden_e2e::Warden;
use warden_e2e::dpop::DpopKey;
use warden_e2e::oidc::{AUD, Provider};

/// `(allow, reason, www-authenticate)` of `method https://api.example/things`.
fn ask(w: &Warden, method: &str, authorization: &str, proof: Option<&str>) -> (bool, String, String) {
    let mut headers = json!({"authorization": authorization});
    if let Some(p) = proof {
        headers["dpop"] = json!(p);
    }
    let body = json!({"request": {"method": method, "scheme": "https", "host": "api.example", "path": "/things?page=2",
        "headers": headers}});
    let d = w.post_json("/v1/check", &body).unwrap().json().unwrap();
    (
        d["allow"].as_bool().unwrap_or_else(|| panic!("not a decision: {d}")),
        d["reason"].as_str().unwrap().to_owned(),
        d["headers"]["www-authenticate"].as_str().unwrap_or("").to_owned(),
    )
}

#[test]
fn a_dpop_bound_token_needs_a_fresh_proof_by_its_key_for_each_request() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Provider::start(&dir.path().join("provider.log"));
    idp.get("/jwks").unwrap();
    let client = DpopKey::new();

    let token = idp.dpop_token(&client.proof("POST", &format!("{}/token", idp.issuer()), None));
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["cnf"]["jkt"], client.jkt(), "{claims}");

    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("api.warden"),
        format!(
            "zone edge {{\n  issuer \"{idp}\" {{\n    jwks url \"{idp}/jwks\" refresh 5m\n    audience \"{AUD}\"\n    algorithms RS256\n  }}\n  require bound\n}}\n\napi things in zone edge {{\n  host \"api.example\"\n  auth bearer\n\n  route ANY \"/things\" {{\n    allow\n  }}\n}}\n",
            idp = idp.issuer()
        ),
    )
    .unwrap();
    let w = Warden::start(&policies, &[]).unwrap();
    let uri = "https://api.example/things";
    let dpop = format!("DPoP {token}");

    let proof = client.proof("GET", uri, Some(&token));
    let (allow, reason, _) = ask(&w, "GET", &dpop, Some(&proof));
    assert_eq!((allow, reason.as_str()), (true, "allowed"));
    // The same proof again: a replay.
    let (allow, reason, challenge) = ask(&w, "GET", &dpop, Some(&proof));
    assert_eq!((allow, reason.as_str()), (false, "dpop_proof_invalid"));
    assert!(challenge.starts_with("DPoP ") && challenge.contains("invalid_dpop_proof"), "{challenge}");
    // A proof for another method, another URI, or another token.
    let other = [
        ("POST", client.proof("POST", uri, Some(&token))),
        ("GET", client.proof("GET", "https://api.example/other", Some(&token))),
        ("GET", client.proof("GET", uri, Some("another-token"))),
    ];
    for (method, proof) in &other {
        assert_eq!(ask(&w, "GET", &dpop, Some(proof)).1, "dpop_proof_invalid", "{method}");
    }
    // The token without its proof, or with the Bearer scheme.
    assert_eq!(ask(&w, "GET", &dpop, None).1, "dpop_proof_invalid");
    assert_eq!(
        ask(&w, "GET", &format!("Bearer {token}"), Some(&client.proof("GET", uri, Some(&token)))).1,
        "token_not_bound"
    );
    // Another key's proof: the token is bound to this client's key only.
    let thief = DpopKey::new();
    assert_eq!(ask(&w, "GET", &dpop, Some(&thief.proof("GET", uri, Some(&token)))).1, "token_not_bound");
    // `require bound`: an unbound token of the same provider is refused.
    assert_eq!(ask(&w, "GET", &format!("Bearer {}", idp.token()), None).1, "token_not_bound");
    // And a fresh, right proof still passes.
    assert_eq!(ask(&w, "POST", &dpop, Some(&client.proof("POST", uri, Some(&token)))).1, "allowed");
}
