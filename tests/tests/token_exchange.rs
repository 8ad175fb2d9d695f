//! Token exchange (RFC 8693) at `POST /oauth/token` of a real `warden serve`,
//! driven by a plain HTTP client: a service authenticates with its client
//! secret (HTTP Basic), presents a user's token of the edge zone, names the
//! internal zone by `audience` or `resource`, and gets a token the `exchange`
//! declaration mints, which a second `warden serve` (trusting the first
//! through `jwks url`) accepts. Every refusal is an RFC 6749 §5.2 error
//! object with the code RFC 8693 §2.2.2 asks for, and every exchange is in the
//! decision log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use warden_e2e::idp::TestIdp;
use warden_e2e::{Probe, Response, Warden, free_port, request};

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const INTERNAL: &str = "https://internal.example";
/// Test secrets of the two calling services (hashed into `clients.json`).
const ORDERS_SECRET: &str = "orders-fake-secret-for-tests";
const REPORTS_SECRET: &str = "reports-fake-secret-for-tests";

fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn basic(client: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{client}:{secret}")))
}

fn form(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// `POST /oauth/token` with `params` as a form and `authorization`.
fn exchange(w: &Warden, authorization: Option<&str>, params: &[(&str, &str)]) -> Response {
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if let Some(a) = authorization {
        headers.push(("authorization", a));
    }
    request(w.http, "POST", "/oauth/token", &headers, Some(form(params).as_bytes())).unwrap()
}

/// The error code of a refusal, after checking it is an RFC 6749 §5.2 object
/// that no cache keeps.
fn error(r: &Response, status: u16) -> String {
    let body = r.json().unwrap();
    assert_eq!(r.status, status, "{body}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{body}");
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert!(body["error_description"].is_string(), "{body}");
    body["error"].as_str().unwrap().to_owned()
}

fn claims(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn policy(edge: &str) -> String {
    format!(
        r#"zone edge {{
  issuer "https://idp.example" {{
    jwks file "idp.jwks.json"
    audience "https://api.example"
  }}
}}

zone internal {{
  issuer "{edge}" {{
    jwks url "{edge}/.well-known/jwks.json"
    audience "{INTERNAL}"
    algorithms ES256
  }}
}}

/// The orders service may trade a customer's edge token for an internal one.
exchange orders from zone edge {{
  auth client_secret file "clients.json"
  scope "orders:read"
  deny when has(claim.blocked) and claim.blocked == true
  allow when context.client == "orders-svc"
  mint for zone internal {{
    claim customer = claim.customer_id
    scope "orders:read", "orders:write"
    lifetime 5m
  }}
}}
"#
    )
}

fn internal_policy(edge: &str) -> String {
    format!(
        "zone internal {{\n  issuer \"{edge}\" {{\n    jwks url \"{edge}/.well-known/jwks.json\" refresh 1s\n    audience \"{INTERNAL}\"\n    algorithms ES256\n  }}\n}}\n\napi ledger in zone internal {{\n  host \"ledger.internal\"\n  auth bearer\n\n  route GET \"/customers/{{id}}\" {{\n    scope \"orders:read\"\n    allow when claim.customer == path.id and claim.act.sub == \"orders-svc\"\n  }}\n}}\n"
    )
}

#[test]
fn a_service_exchanges_a_users_token_for_one_of_the_internal_zone() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("edge.pem");
    let (ok, out) = warden_e2e::generate_key(&key).unwrap();
    assert!(ok, "{out}");
    let port = free_port().unwrap();
    let edge = format!("http://127.0.0.1:{port}");
    let set = dir.path().join("edge");
    std::fs::create_dir(&set).unwrap();
    let idp = TestIdp::new("https://idp.example", "https://api.example", "idp-1").unwrap();
    std::fs::write(set.join("idp.jwks.json"), idp.jwks().to_string()).unwrap();
    std::fs::write(
        set.join("clients.json"),
        json!({"orders-svc": sha256_hex(ORDERS_SECRET), "reports-svc": sha256_hex(REPORTS_SECRET)}).to_string(),
    )
    .unwrap();
    std::fs::write(set.join("edge.warden"), policy(&edge)).unwrap();
    let log = dir.path().join("decisions.jsonl");
    let config = dir.path().join("edge.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n[decision_log]\nsink = \"file\"\npath = \"{}\"\n",
            warden_e2e::issuer_section(&edge, &[(&key, "active")]),
            log.display()
        ),
    )
    .unwrap();
    let w = Warden::start_on(&set, port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();

    let discovery = w.get("/.well-known/openid-configuration").unwrap().json().unwrap();
    assert_eq!(discovery["token_endpoint"], format!("{edge}/oauth/token"));
    assert_eq!(discovery["grant_types_supported"], json!([GRANT]));

    let user = idp.mint(&json!({"sub": "u-1", "client_id": "web", "customer_id": "42",
        "scope": "orders:read orders:write profile", "email": "u1@example.com"}));
    let orders = basic("orders-svc", ORDERS_SECRET);
    let ask = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut p: Vec<(String, String)> = [
            ("grant_type", GRANT),
            ("subject_token", user.as_str()),
            ("subject_token_type", ACCESS_TOKEN),
            ("audience", INTERNAL),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, v) in extra {
            p.retain(|(n, _)| n != k);
            if !v.is_empty() {
                p.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        p
    };
    let call = |auth: Option<&str>, p: &[(String, String)]| {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        exchange(&w, auth, &p)
    };

    // The exchange: an RFC 8693 §2.2.1 answer.
    let r = call(Some(&orders), &ask(&[]));
    let body = r.json().unwrap();
    assert_eq!(r.status, 200, "{body}");
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!((&body["token_type"], &body["issued_token_type"]), (&json!("Bearer"), &json!(ACCESS_TOKEN)));
    let expires = body["expires_in"].as_u64().unwrap();
    assert!((290..=300).contains(&expires), "{body}");
    assert_eq!(body["scope"], "orders:read orders:write");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!((&c["iss"], &c["aud"], &c["sub"]), (&json!(edge), &json!(INTERNAL), &json!("u-1")), "{c}");
    // The service acts for the user (RFC 8693 §4.1); the user's email stays behind.
    assert_eq!(c["act"], json!({"sub": "orders-svc"}));
    assert_eq!((&c["customer"], &c["scope"]), (&json!("42"), &json!("orders:read orders:write")));
    assert!(c.get("email").is_none(), "{c}");
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 300);

    // `scope` narrows; `resource` (RFC 8707) names the target as well.
    let r = call(Some(&orders), &ask(&[("scope", "orders:read"), ("audience", ""), ("resource", INTERNAL)]));
    let body = r.json().unwrap();
    assert_eq!((r.status, &body["scope"]), (200, &json!("orders:read")), "{body}");
    assert_eq!(claims(body["access_token"].as_str().unwrap())["scope"], "orders:read");

    // The internal tier takes the exchanged token, as the orders service's.
    let internal_set = dir.path().join("internal");
    std::fs::create_dir(&internal_set).unwrap();
    std::fs::write(internal_set.join("internal.warden"), internal_policy(&edge)).unwrap();
    let internal = Warden::start(&internal_set, &[]).unwrap();
    assert_eq!(
        internal.bearer_check("ledger.internal", "/customers/42", &token).unwrap(),
        (true, "allowed".to_owned())
    );
    assert_eq!(internal.bearer_check("ledger.internal", "/customers/42", &user).unwrap().1, "issuer_untrusted");

    // The caller: unknown secret or none is invalid_client (401, with a challenge).
    let r = call(Some(&basic("orders-svc", "wrong")), &ask(&[]));
    assert_eq!(error(&r, 401), "invalid_client");
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"warden\""));
    assert_eq!(error(&call(None, &ask(&[])), 401), "invalid_client");
    // Authenticated, and the policy does not let it exchange.
    assert_eq!(error(&call(Some(&basic("reports-svc", REPORTS_SECRET)), &ask(&[])), 400), "unauthorized_client");
    let blocked = idp.mint(&json!({"sub": "u-2", "customer_id": "7", "scope": "orders:read", "blocked": true}));
    assert_eq!(error(&call(Some(&orders), &ask(&[("subject_token", &blocked)])), 400), "unauthorized_client");

    // The subject token: malformed, foreign, expired, short of the scope.
    let stranger = TestIdp::new("https://idp.example", "https://api.example", "idp-2").unwrap();
    let expired = idp.mint(&json!({"sub": "u-1", "scope": "orders:read", "iat": 1, "nbf": 1, "exp": 2}));
    let narrow = idp.mint(&json!({"sub": "u-1", "customer_id": "42", "scope": "profile"}));
    let foreign = stranger.mint(&json!({"sub": "u-1", "scope": "orders:read"}));
    for bad in ["not-a-token", foreign.as_str(), expired.as_str(), narrow.as_str()] {
        assert_eq!(error(&call(Some(&orders), &ask(&[("subject_token", bad)])), 400), "invalid_grant", "{bad}");
    }
    // A claim the mint copies is missing: invalid_grant, no partial token.
    let no_customer = idp.mint(&json!({"sub": "u-1", "scope": "orders:read"}));
    assert_eq!(error(&call(Some(&orders), &ask(&[("subject_token", &no_customer)])), 400), "invalid_grant");

    // The request itself.
    for (what, extra) in [
        (
            "an unknown requested_token_type",
            vec![("requested_token_type", "urn:ietf:params:oauth:token-type:id_token")],
        ),
        ("no subject_token", vec![("subject_token", "")]),
        ("no subject_token_type", vec![("subject_token_type", "")]),
        ("an unknown subject_token_type", vec![("subject_token_type", "urn:ietf:params:oauth:token-type:saml2")]),
        ("an actor token", vec![("actor_token", user.as_str()), ("actor_token_type", ACCESS_TOKEN)]),
        ("no target", vec![("audience", "")]),
    ] {
        assert_eq!(error(&call(Some(&orders), &ask(&extra)), 400), "invalid_request", "{what}");
    }
    let twice = form(&[("grant_type", GRANT), ("subject_token", &user), ("grant_type", GRANT)]);
    let r = request(
        w.http,
        "POST",
        "/oauth/token",
        &[("content-type", "application/x-www-form-urlencoded"), ("authorization", &orders)],
        Some(twice.as_bytes()),
    )
    .unwrap();
    assert_eq!(error(&r, 400), "invalid_request", "a parameter twice");
    let r = request(w.http, "POST", "/oauth/token", &[("content-type", "application/json")], Some(b"{}")).unwrap();
    assert_eq!(error(&r, 400), "invalid_request", "not a form");
    assert_eq!(
        error(&call(Some(&orders), &ask(&[("grant_type", "client_credentials")])), 400),
        "unsupported_grant_type"
    );
    assert_eq!(error(&call(Some(&orders), &ask(&[("audience", "https://nowhere.example")])), 400), "invalid_target");
    let long = format!("https://{}.example", "a".repeat(3_000));
    assert_eq!(
        error(&call(Some(&orders), &ask(&[("audience", &long)])), 400),
        "invalid_request",
        "a bound on the target"
    );
    let r = call(Some(&orders), &ask(&[("audience", INTERNAL), ("resource", "https://other.example")]));
    assert_eq!(error(&r, 400), "invalid_target");

    // Every exchange Warden judged is in the decision log, with its outcome;
    // requests refused before judging (malformed forms) are not decisions.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lines = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["door"] == "token_exchange")
            .collect();
        if lines.len() >= 12 || std::time::Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let reasons: Vec<&str> = lines.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(
        reasons,
        [
            "allowed",
            "allowed",
            "secret_invalid",
            "credentials_missing",
            "no_allow_rule",
            "denied_by_rule",
            "token_malformed",
            "key_unknown",
            "token_expired",
            "insufficient_scope",
            "mint_claim_missing",
            "route_not_found",
        ],
        "{lines:?}"
    );
    assert_eq!((&lines[0]["audience"], &lines[0]["sub"]), (&json!(INTERNAL), &json!("u-1")), "{}", lines[0]);
    assert!(!std::fs::read_to_string(&log).unwrap().contains(&token), "no token in the log");
}
