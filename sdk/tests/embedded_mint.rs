//! The embedded mode mints as `warden serve` does: with an issuer
//! (`Embedded::open_minting`), an allowed request of a route with `mint` comes
//! back with the minted token in its upstream headers; without one the route
//! denies `mint_failed` rather than letting the request on without it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests")]

use base64::Engine as _;
use serde_json::{Value, json};
use warden_sdk::{Decide, Embedded, HttpCheck};
use warden_server::signing::{Algorithm, IssuerConfig, KeyConfig, KeyState, generate_file};

const EDGE: &str = "https://edge.example";

fn policy() -> String {
    "zone edge {\n  issuer \"https://idp.example\" {\n    jwks file \"idp.jwks.json\"\n    audience \"https://api.example\"\n  }\n}\n\nzone internal {\n  issuer \"https://edge.example\" {\n    jwks url \"https://edge.example/.well-known/jwks.json\"\n    audience \"https://internal.example\"\n  }\n}\n\napi a in zone edge {\n  host \"api.example\"\n  auth bearer\n\n  route GET \"/x\" {\n    allow\n    mint for zone internal\n  }\n}\n".to_owned()
}

#[tokio::test]
async fn the_embedded_mode_mints_with_an_issuer_and_denies_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let idp = warden_e2e::idp::TestIdp::new("https://idp.example", "https://api.example", "k1").unwrap();
    std::fs::write(dir.path().join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    std::fs::write(dir.path().join("api.warden"), policy()).unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("edge.pem");
    generate_file(Algorithm::ES256, &key).unwrap();
    let issuer = IssuerConfig {
        url: EDGE.to_owned(),
        keys: vec![KeyConfig { file: key, algorithm: Algorithm::ES256, kid: None, state: KeyState::Active }],
    };
    let token = idp.mint(&json!({"sub": "u-1"}));
    let check = HttpCheck::new("GET", "api.example", "/x").header("authorization", &format!("Bearer {token}"));

    let minting = Embedded::open_minting(dir.path(), &issuer).unwrap();
    let d = minting.check(&check).await.unwrap();
    assert!(d.allow, "{d:?}");
    let minted = d.headers.get("authorization").unwrap().strip_prefix("Bearer ").unwrap().to_owned();
    let payload = minted.split('.').nth(1).unwrap();
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(
        (&claims["iss"], &claims["aud"], &claims["sub"]),
        (&json!(EDGE), &json!("https://internal.example"), &json!("u-1"))
    );

    let plain = Embedded::open_unwatched(dir.path()).unwrap();
    let d = plain.check(&check).await.unwrap();
    assert_eq!((d.allow, d.status, d.reason.as_str()), (false, 503, "mint_failed"), "{d:?}");
}
