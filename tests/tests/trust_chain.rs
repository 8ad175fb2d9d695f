//! End-to-end trust across two tiers, with real parts: a real OpenID provider
//! (oidc-provider) issues the caller's token by the client-credentials grant;
//! the edge `warden serve` verifies it and mints a token for the internal zone
//! (`mint for zone internal`), signed with a key `warden keys generate` wrote
//! and published at its `/.well-known/jwks.json`; a second `warden serve`
//! trusts the edge through `jwks url` and nothing else.
//!
//! Checked: the minted token's header and claims (issuer, audience, subject,
//! narrowed scope, the copied claims, lifetime); the internal Warden allows it;
//! the IdP's token sent straight to the internal zone is refused
//! (`issuer_untrusted`); the minted token replayed into a third zone is refused
//! (`audience_mismatch`); an expired and a tampered one are refused; a claim
//! the policy copies that the caller lacks denies (`mint_claim_missing`) and
//! mints nothing; a second request reuses the token (the metric says so); and
//! a key rotation at the edge (next key published, then signing) costs the
//! internal tier no refusal. A second test: every door (`/v1/check`, the batch,
//! forward auth, warden.v1, Envoy ext_authz) hands on the same minted token.
//!
//! Needs `node` and the provider's packages (`cd tests/idp && npm ci`, which
//! `./test.sh` does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use warden_e2e::oidc::{AUD, Provider};
use warden_e2e::{Probe, Warden, free_port};

const INTERNAL_AUD: &str = "https://internal.example";

/// `warden keys generate FILE`: an ES256 key.
fn generate(file: &Path) {
    let (ok, out) = warden_e2e::generate_key(file).unwrap();
    assert!(ok, "{out}");
}

/// The edge's `[issuer]`: its URL and `keys` as `(file, state)`.
fn edge_config(dir: &Path, url: &str, keys: &[(&Path, &str)]) -> PathBuf {
    let path = dir.join("edge.toml");
    std::fs::write(&path, warden_e2e::issuer_section(url, keys)).unwrap();
    path
}

/// The edge's policy: the IdP's tokens in, tokens for the internal zone out.
fn edge_policy(idp: &str, edge: &str) -> String {
    format!(
        r#"zone edge {{
  issuer "{idp}" {{
    jwks url "{idp}/jwks" refresh 5m
    audience "{AUD}"
    algorithms RS256
  }}
}}

zone internal {{
  issuer "{edge}" {{
    jwks url "{edge}/.well-known/jwks.json"
    audience "{INTERNAL_AUD}"
    algorithms ES256
  }}
}}

api gateway in zone edge {{
  host "api.example"
  auth bearer

  route GET "/orders/{{id}}" {{
    scope "read"
    allow
    mint for zone internal {{
      claim order = path.id
      claim tier = "gold"
      scope "read", "write"
    }}
  }}

  route GET "/brief/{{id}}" {{
    allow
    mint for zone internal {{
      claim order = path.id
      scope "read"
      lifetime 1s
    }}
  }}

  route GET "/tenant" {{
    allow
    mint for zone internal {{
      claim tenant = claim.tenant
    }}
  }}
}}
"#
    )
}

/// The internal tier: only the edge's tokens, for its own audience; a third
/// zone with another audience from the same edge.
fn internal_policy(edge: &str) -> String {
    let zone = |name: &str, aud: &str| {
        format!(
            "zone {name} {{\n  issuer \"{edge}\" {{\n    jwks url \"{edge}/.well-known/jwks.json\" refresh 1s\n    \
             audience \"{aud}\"\n    algorithms ES256\n    leeway 0s\n  }}\n}}\n\n"
        )
    };
    format!(
        "{}{}api orders in zone internal {{\n  host \"orders.internal\"\n  auth bearer\n\n  route GET \"/orders/{{id}}\" {{\n    \
         scope \"read\"\n    allow when claim.order == path.id\n  }}\n}}\n\napi reports in zone reports {{\n  host \
         \"reports.internal\"\n  auth bearer\n\n  route GET \"/reports\" {{\n    allow\n  }}\n}}\n",
        zone("internal", INTERNAL_AUD),
        zone("reports", "https://reports.example")
    )
}

/// `POST /v1/check` of `GET https://HOST/PATH` with `token`: the decision.
fn check(w: &Warden, host: &str, path: &str, token: &str) -> Value {
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": host, "path": path,
        "headers": {"authorization": format!("Bearer {token}")}}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()
}

/// The token the edge minted into a decision's `authorization` header.
fn minted(d: &Value) -> String {
    let value = d["headers"]["authorization"].as_str().unwrap_or_else(|| panic!("nothing minted: {d}"));
    value.strip_prefix("Bearer ").unwrap().to_owned()
}

/// A JWT's header and claims, decoded (not verified).
fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut next = || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(it.next().unwrap()).unwrap()).unwrap();
    (next(), next())
}

/// A counter's value in `/metrics` (0 when absent).
fn metric(w: &Warden, series: &str) -> u64 {
    let text = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

/// `(allow, reason)` of a decision.
fn verdict(d: &Value) -> (bool, &str) {
    (d["allow"].as_bool().unwrap(), d["reason"].as_str().unwrap())
}

fn start_edge(policies: &Path, port: u16, config: &Path) -> Warden {
    Warden::start_on(policies, port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap()
}

#[test]
fn the_edge_mints_for_the_internal_zone_and_only_there() {
    let dir = tempfile::tempdir().unwrap();
    let idp = Provider::start(&dir.path().join("provider.log"));
    idp.get("/jwks").unwrap();
    let (k1, k2) = (dir.path().join("edge-1.pem"), dir.path().join("edge-2.pem"));
    generate(&k1);
    generate(&k2);

    let edge_port = free_port().unwrap();
    let edge_url = format!("http://127.0.0.1:{edge_port}");
    let edge_set = dir.path().join("edge");
    std::fs::create_dir(&edge_set).unwrap();
    std::fs::write(edge_set.join("edge.warden"), edge_policy(&idp.issuer(), &edge_url)).unwrap();
    let config = edge_config(dir.path(), &edge_url, &[(&k1, "active")]);
    let mut edge = start_edge(&edge_set, edge_port, &config);

    let internal_set = dir.path().join("internal");
    std::fs::create_dir(&internal_set).unwrap();
    std::fs::write(internal_set.join("internal.warden"), internal_policy(&edge_url)).unwrap();
    let internal = Warden::start(&internal_set, &[]).unwrap();

    // The IdP's token in, a token for the internal zone out.
    let user = idp.token();
    let (_, user_claims) = parts(&user);
    let d = check(&edge, "api.example", "/orders/42", &user);
    assert_eq!(verdict(&d), (true, "allowed"), "{d}");
    let token = minted(&d);
    let (header, claims) = parts(&token);
    assert_eq!((&header["alg"], &header["typ"]), (&json!("ES256"), &json!("at+jwt")), "{header}");
    assert_eq!(claims["iss"], edge_url.as_str(), "{claims}");
    assert_eq!(claims["aud"], INTERNAL_AUD);
    // A client-credentials token's subject is the client.
    let subject = user_claims.get("sub").or(user_claims.get("client_id")).unwrap();
    assert_eq!(&claims["sub"], subject, "{claims} from {user_claims}");
    assert_eq!(claims["client_id"], "warden-test");
    // `scope "read", "write"`, narrowed to what the caller had (`read`).
    assert_eq!(claims["scope"], "read");
    assert_eq!((&claims["order"], &claims["tier"]), (&json!("42"), &json!("gold")));
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 60);
    assert_eq!(claims["jti"].as_str().map(str::len), Some(22), "{claims}");
    // Nothing else leaves: not the IdP's own claims.
    let names: Vec<&str> = claims.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["aud", "client_id", "exp", "iat", "iss", "jti", "order", "scope", "sub", "tier"]);

    // The internal tier takes it, for the order it names only.
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/42", &token)), (true, "allowed"));
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/43", &token)), (false, "no_allow_rule"));
    // The IdP's own token is no good there,
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/42", &user)), (false, "issuer_untrusted"));
    // nor is the minted one in another zone of the same edge,
    assert_eq!(verdict(&check(&internal, "reports.internal", "/reports", &token)), (false, "audience_mismatch"));
    // nor one whose claims were changed.
    let (h, _) = token.split_once('.').unwrap();
    let sig = token.rsplit('.').next().unwrap();
    let mut forged = claims.clone();
    forged["order"] = json!("43");
    let tampered = format!("{h}.{}.{sig}", URL_SAFE_NO_PAD.encode(forged.to_string()));
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/43", &tampered)), (false, "signature_invalid"));

    // The same caller and claims again: the same token, not a new signature.
    let signed = r#"warden_tokens_minted_total{zone="internal",result="signed"}"#;
    let cached = r#"warden_tokens_minted_total{zone="internal",result="cached"}"#;
    let again = check(&edge, "api.example", "/orders/42", &user);
    assert_eq!(minted(&again), token);
    assert_eq!((metric(&edge, signed), metric(&edge, cached)), (1, 1));
    // Another order is another token.
    let other = minted(&check(&edge, "api.example", "/orders/7", &user));
    assert_ne!(other, token);
    assert_eq!(parts(&other).1["order"], "7");

    // A claim the policy copies and the caller lacks: denied, nothing minted.
    let d = check(&edge, "api.example", "/tenant", &user);
    assert_eq!(verdict(&d), (false, "mint_claim_missing"), "{d}");
    assert_eq!(d["status"], 403);
    assert!(d["headers"].get("authorization").is_none(), "{d}");

    // A token of a second's lifetime is refused once it has expired.
    let brief = minted(&check(&edge, "api.example", "/brief/42", &user));
    let (_, b) = parts(&brief);
    assert_eq!(b["exp"].as_u64().unwrap() - b["iat"].as_u64().unwrap(), 1);
    let d = check(&internal, "orders.internal", "/orders/42", &brief);
    assert_eq!(verdict(&d), (true, "allowed"), "{d}");
    let exp = b["exp"].as_u64().unwrap();
    while std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() <= exp {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/42", &brief)), (false, "token_expired"));

    // Rotation at the edge. First the next key is published beside the active
    // one (a restart: keys come from the configuration)...
    edge.stop();
    let config = edge_config(dir.path(), &edge_url, &[(&k1, "active"), (&k2, "next")]);
    edge = start_edge(&edge_set, edge_port, &config);
    let kid_of = |t: &str| parts(t).0["kid"].as_str().unwrap().to_owned();
    let first_kid = kid_of(&token);
    let published = |w: &Warden| -> Vec<String> {
        let jwks = w.get("/.well-known/jwks.json").unwrap().json().unwrap();
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    };
    let keys = published(&edge);
    assert_eq!(keys.len(), 2);
    let next_kid = keys.iter().find(|k| **k != first_kid).unwrap().clone();
    // ...the internal tier refreshes every second: wait until it has seen both
    // keys (a token of the first key is allowed throughout)...
    std::thread::sleep(Duration::from_millis(2_500));
    let d = check(&edge, "api.example", "/orders/42", &user);
    assert_eq!(kid_of(&minted(&d)), first_kid);
    assert_eq!(verdict(&check(&internal, "orders.internal", "/orders/42", &minted(&d))), (true, "allowed"));
    // ...then the next key signs and the old one is kept, published.
    edge.stop();
    let config = edge_config(dir.path(), &edge_url, &[(&k2, "active"), (&k1, "retired")]);
    edge = start_edge(&edge_set, edge_port, &config);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut refused = Vec::new();
    let mut allowed = 0;
    while Instant::now() < deadline {
        let new = minted(&check(&edge, "api.example", "/orders/42", &user));
        assert_eq!(kid_of(&new), next_kid);
        // Both the new token and one the old key signed before the rotation pass.
        for t in [&new, &token] {
            let d = check(&internal, "orders.internal", "/orders/42", t);
            if verdict(&d).0 {
                allowed += 1;
            } else {
                refused.push(d);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(refused.is_empty(), "refused after the rotation: {refused:?}");
    assert!(allowed >= 20, "{allowed}");
}

/// Every door hands on the same minted token (the edge reuses it): `/v1/check`,
/// `/v1/check/batch`, forward auth, `warden.v1.Decision/Check` and Envoy
/// ext_authz (as a header that overwrites the client's `authorization`).
#[test]
fn every_door_carries_the_minted_token() {
    use envoy_types::pb::envoy::config::core::v3::header_value_option::HeaderAppendAction;
    use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest as EnvoyHttp, Request};
    use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
    use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
    use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest as EnvoyCheck};
    use warden_server::grpc::pb;
    use warden_server::grpc::pb::decision_client::DecisionClient;

    let dir = tempfile::tempdir().unwrap();
    let idp = warden_e2e::idp::TestIdp::new("https://idp.example", AUD, "idp-1").unwrap();
    let key = dir.path().join("edge.pem");
    generate(&key);
    let edge_port = free_port().unwrap();
    let edge_url = format!("http://127.0.0.1:{edge_port}");
    let set = dir.path().join("edge");
    std::fs::create_dir(&set).unwrap();
    std::fs::write(set.join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    let policy = edge_policy("https://idp.example", &edge_url)
        .replace("jwks url \"https://idp.example/jwks\" refresh 5m", "jwks file \"idp.jwks.json\"");
    std::fs::write(set.join("edge.warden"), policy).unwrap();
    let config = edge_config(dir.path(), &edge_url, &[(&key, "active")]);
    std::fs::write(
        &config,
        format!(
            "{}\n[forward_auth]\ntrusted_proxies = [\"127.0.0.1/32\"]\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let edge = start_edge(&set, edge_port, &config);
    let user = idp.mint(&json!({"sub": "u-1", "client_id": "app", "scope": "read"}));
    let bearer = format!("Bearer {user}");

    let first = minted(&check(&edge, "api.example", "/orders/42", &user));
    let (_, claims) = parts(&first);
    assert_eq!((&claims["sub"], &claims["order"], &claims["aud"]), (&json!("u-1"), &json!("42"), &json!(INTERNAL_AUD)));

    let batch = json!([{"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/orders/42",
        "headers": {"authorization": bearer}}}]);
    let answers = edge.post_json("/v1/check/batch", &batch).unwrap().json().unwrap();
    assert_eq!(minted(&answers[0]), first, "batch: {answers}");

    let forward = [
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/orders/42"),
        ("x-forwarded-host", "api.example"),
        ("x-forwarded-proto", "https"),
        ("authorization", bearer.as_str()),
    ];
    let r = warden_e2e::request(edge.http, "GET", "/v1/forward-auth", &forward, None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("authorization"), Some(format!("Bearer {first}").as_str()), "forward auth");

    let rt = tokio::runtime::Runtime::new().unwrap();
    let endpoint = format!("http://{}", edge.grpc);
    let mut grpc = rt.block_on(DecisionClient::connect(endpoint.clone())).unwrap();
    let answer = rt
        .block_on(grpc.check(pb::CheckRequest {
            request: Some(pb::HttpRequest {
                method: "GET".to_owned(),
                scheme: "https".to_owned(),
                host: "api.example".to_owned(),
                path: "/orders/42".to_owned(),
                headers: [("authorization".to_owned(), bearer.clone())].into_iter().collect(),
                body: None,
            }),
            source: None,
        }))
        .unwrap()
        .into_inner();
    assert!(answer.allow, "{answer:?}");
    assert_eq!(answer.headers.get("authorization"), Some(&format!("Bearer {first}")), "warden.v1");

    let mut envoy = rt.block_on(AuthorizationClient::connect(endpoint)).unwrap();
    let check = EnvoyCheck {
        attributes: Some(AttributeContext {
            request: Some(Request {
                time: None,
                http: Some(EnvoyHttp {
                    method: "GET".to_owned(),
                    path: "/orders/42".to_owned(),
                    host: "api.example".to_owned(),
                    scheme: "https".to_owned(),
                    headers: [("authorization".to_owned(), bearer.clone())].into_iter().collect(),
                    protocol: "HTTP/2".to_owned(),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    };
    let answer = rt.block_on(envoy.check(check)).unwrap().into_inner();
    let Some(HttpResponse::OkResponse(ok)) = answer.http_response else { panic!("not allowed: {answer:?}") };
    let auth = ok.headers.iter().find(|o| o.header.as_ref().is_some_and(|h| h.key == "authorization")).unwrap();
    assert_eq!(auth.header.as_ref().unwrap().value, format!("Bearer {first}"), "ext_authz");
    assert_eq!(auth.append_action, HeaderAppendAction::OverwriteIfExistsOrAdd as i32);
}
