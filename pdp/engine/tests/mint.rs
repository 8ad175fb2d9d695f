//! `mint` in the engine: the claims of the token for the zone behind (subject,
//! client, scope narrowed to what the caller holds, `act` for an mTLS peer
//! with an incoming chain kept, the policy's claims), and what it never does:
//! mint on a denial, or mint a partial token when a claim is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use serde_json::{Value, json};
use warden_engine::decision::Decision;
use warden_engine::run::{Engine, HttpRequest};
use warden_language::reason::Reason;

#[path = "common/test_tokens.rs"]
mod test_tokens;

const POLICY: &str = r#"zone edge {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks"
    audience "https://api.example"
  }
}

zone internal {
  issuer "https://edge.example" {
    jwks url "https://edge.example/.well-known/jwks.json"
    audience "https://internal.example"
  }
}

api a in zone edge {
  host "api.example"
  auth bearer

  route GET "/accounts/{id}" {
    scope any "accounts:read", "accounts:admin"
    allow when claim.customer_id == path.id
    mint for zone internal {
      claim account = path.id
      claim customer = claim.customer_id
      claim tags = ["web", claim.tier]
      lifetime 2m
      header "x-internal-token"
      bind certificate "c6x9lby-9WMH7aoQPE3aJ2Z9HQja5EJJhz8wDXioo68"
    }
  }

  route GET "/narrow" {
    allow
    mint for zone internal {
      scope "b", "c", "z"
    }
  }
}
"#;

fn engine() -> Engine {
    test_tokens::engine_of(POLICY)
}

fn get(path: &str, claims: &Value, peer: Option<&str>) -> HttpRequest {
    HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: "api.example".to_owned(),
        target: path.to_owned(),
        headers: vec![("authorization".to_owned(), format!("Bearer test:{claims}"))],
        peer: peer.map(str::to_owned),
        now_ms: 1_800_000_000_000,
        ..HttpRequest::default()
    }
}

fn minted(d: &Decision) -> Value {
    let m = d.mint.as_ref().unwrap_or_else(|| panic!("nothing to mint: {d:?}"));
    assert_eq!((m.zone.as_str(), m.issuer.as_str()), ("internal", "https://edge.example"));
    assert_eq!(m.audience, "https://internal.example");
    Value::Object(m.claims.clone())
}

#[test]
fn the_token_carries_the_subject_the_narrowed_scope_and_the_policys_claims_only() {
    let e = engine();
    let caller = json!({"sub": "u-1", "azp": "web-app", "customer_id": "42", "tier": "gold",
        "scope": "accounts:read profile", "email": "u1@example.com"});
    let d = e.check_http(&get("/accounts/42", &caller, None));
    assert!(d.allow, "{d:?}");
    let m = d.mint.as_ref().unwrap();
    assert_eq!((m.lifetime_s, m.header.as_deref()), (120, Some("x-internal-token")));
    // No `scope` line: the route's scopes, of which the caller holds one; the
    // email and the rest of the incoming token stay behind.
    assert_eq!(
        minted(&d),
        json!({"sub": "u-1", "client_id": "web-app", "scope": "accounts:read", "account": "42",
            "customer": "42", "tags": ["web", "gold"], "cnf": {"x5t#S256": "c6x9lby-9WMH7aoQPE3aJ2Z9HQja5EJJhz8wDXioo68"}})
    );
    assert_eq!(m.header_for("t"), ("x-internal-token".to_owned(), "t".to_owned()));

    // The block's scopes, narrowed to the caller's: never more than it had.
    let d = e.check_http(&get("/narrow", &json!({"sub": "u-1", "client_id": "c", "scope": "a b c"}), None));
    assert_eq!(minted(&d)["scope"], "b c");
    assert_eq!(d.mint.as_ref().unwrap().header_for("t"), ("authorization".to_owned(), "Bearer t".to_owned()));
    let d = e.check_http(&get("/narrow", &json!({"sub": "u-1", "scope": "a"}), None));
    assert!(minted(&d).get("scope").is_none(), "{d:?}");
    // A client-credentials token without `sub`: its client is the subject.
    let d = e.check_http(&get("/narrow", &json!({"client_id": "batch-job"}), None));
    assert_eq!((&minted(&d)["sub"], &minted(&d)["client_id"]), (&json!("batch-job"), &json!("batch-job")));
}

#[test]
fn a_peer_acts_for_the_subject_and_an_incoming_chain_is_kept() {
    let e = engine();
    let peer = "spiffe://bank.example/ns/web/sa/bff";
    let d = e.check_http(&get("/narrow", &json!({"sub": "u-1"}), Some(peer)));
    assert_eq!(minted(&d)["act"], json!({"sub": peer}));
    let chain = json!({"sub": "u-1", "act": {"sub": "spiffe://bank.example/ns/mobile/sa/gw"}});
    let d = e.check_http(&get("/narrow", &chain, Some(peer)));
    assert_eq!(minted(&d)["act"], json!({"sub": peer, "act": {"sub": "spiffe://bank.example/ns/mobile/sa/gw"}}));
    // Without a peer there is no actor.
    let d = e.check_http(&get("/narrow", &json!({"sub": "u-1"}), None));
    assert!(minted(&d).get("act").is_none());
}

#[test]
fn a_missing_claim_denies_and_a_denial_mints_nothing() {
    let e = engine();
    // `tags` copies `claim.tier`, which this caller lacks.
    let d =
        e.check_http(&get("/accounts/42", &json!({"sub": "u-1", "customer_id": "42", "scope": "accounts:read"}), None));
    assert_eq!((d.allow, d.status, d.reason), (false, 403, Reason::MintClaimMissing), "{d:?}");
    assert!(d.detail.contains("`tags`") && d.detail.contains("internal"), "{}", d.detail);
    assert!(d.mint.is_none());
    // Another customer's account: denied by the rule, nothing to mint.
    let d = e.check_http(&get(
        "/accounts/43",
        &json!({"sub": "u-1", "customer_id": "42", "tier": "gold",
        "scope": "accounts:read"}),
        None,
    ));
    assert_eq!(d.reason, Reason::NoAllowRule);
    assert!(d.mint.is_none());
    // No subject at all (neither `sub` nor a client): no token without a subject.
    let d = e.check_http(&get("/narrow", &json!({"scope": "a"}), None));
    assert_eq!(d.reason, Reason::MintClaimMissing, "{d:?}");
}
