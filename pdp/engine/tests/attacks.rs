//! The attack corpus end to end: requests through the whole engine (route lookup,
//! real ES256 verification with a per-run key, scopes, rules, body limits) are denied
//! with the right status and reason, never allowed. Token-level cases live in
//! tokens.rs; these are the ones that need the rest of the pipeline.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::sync::Arc;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};
use warden_engine::decision::Decision;
use warden_engine::eval::Prepared;
use warden_engine::jwt::JwksVerifier;
use warden_engine::limits::Memory;
use warden_engine::run::{Engine, HttpRequest, ResourceRequest};
use warden_engine::token_cache::CachingVerifier;
use warden_language::reason::Reason;

const NOW_S: u64 = 1_800_000_000;

const POLICY: &str = r#"zone edge {
  issuer "https://idp.example" {
    jwks file "idp.jwks.json"
    audience "https://api.example"
    algorithms ES256
  }
}

zone partners {
  issuer "https://other-idp.example" {
    jwks file "idp.jwks.json"
    audience "https://partners.example"
    algorithms ES256
  }
}

schema Note {
  text: string max_len 100
}

api accounts in zone edge {
  host "api.example"
  auth bearer

  route GET "/accounts/{id}" {
    scope "accounts:read"
    allow when claim.customer_id == path.id
  }

  route GET "/admin/{id}" {
    allow when claim.level > 3
  }

  route POST "/notes" {
    body json Note max 64KiB
    deny when claim.banned == true
    allow
  }

  route GET "/quiet" {
    body none
    allow
  }
}

api partner in zone partners {
  host "partners.example"
  auth client_secret file "clients.json"

  route GET "/ping" {
    allow
  }
}

/// Documents, asked about by a service with the user's token.
resource doc in zone edge {
  auth bearer

  action read {
    allow when resource.owner == claim.sub
  }
}
"#;

struct Files(Vec<(&'static str, Vec<u8>)>);

impl Loader for Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        self.0.iter().find(|(p, _)| *p == path).map(|(_, b)| b.clone()).ok_or_else(|| "no such file".to_owned())
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Setup {
    engine: Engine,
    key: EncodingKey,
}

fn setup() -> Setup {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref().to_vec();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])}]});
    let clients = json!({"acme": hex(&Sha256::digest(b"s3cret-of-acme"))});
    let files = Files(vec![
        ("idp.jwks.json", jwks.to_string().into_bytes()),
        ("clients.json", clients.to_string().into_bytes()),
    ]);
    let set = PolicySet { files: vec![SourceFile::new("attacks.warden", POLICY)] };
    let (graph, _) = compile(&set, &files).unwrap_or_else(|d| panic!("{d:#?}"));
    let verifier = CachingVerifier::new(JwksVerifier::new(&graph, &|_| None), 1000);
    let engine = Engine::new(Prepared::new(graph).unwrap(), Arc::new(Memory::new(1000)), Arc::new(verifier));
    Setup { engine, key: EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn token(s: &Setup, extra: Value) -> String {
    let mut claims = json!({"iss": "https://idp.example", "aud": "https://api.example", "sub": "u-1",
        "customer_id": "42", "scope": "accounts:read", "iat": NOW_S, "exp": NOW_S + 300});
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".to_owned());
    jsonwebtoken::encode(&header, &claims, &s.key).unwrap()
}

fn get(host: &str, target: &str, authorization: Option<String>) -> HttpRequest {
    HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: host.to_owned(),
        target: target.to_owned(),
        headers: authorization.map(|a| ("authorization".to_owned(), a)).into_iter().collect(),
        source_ip: "203.0.113.9".parse().ok(),
        now_ms: NOW_S * 1000 + 1000,
        ..HttpRequest::default()
    }
}

fn outcome(d: &Decision) -> (bool, u16, Reason) {
    (d.allow, d.status, d.reason)
}

fn deny(status: u16, reason: Reason) -> (bool, u16, Reason) {
    (false, status, reason)
}

#[test]
fn the_baseline_is_allowed() {
    let s = setup();
    let d = s.engine.check_http(&get("api.example", "/accounts/42", Some(format!("Bearer {}", token(&s, json!({}))))));
    assert_eq!(outcome(&d), (true, 200, Reason::Allowed), "{d:?}");
}

#[test]
fn claims_of_the_wrong_type_never_allow() {
    let s = setup();
    let ask = |claims: Value, target: &str| {
        let t = token(&s, claims);
        outcome(&s.engine.check_http(&get("api.example", target, Some(format!("Bearer {t}")))))
    };
    // A number where the rule compares strings: no implicit conversion; the
    // mismatch errors and an erroring allow rule does not allow.
    assert_eq!(ask(json!({"customer_id": 42}), "/accounts/42"), deny(403, Reason::NoAllowRule));
    // A list, an object, null: still no match.
    assert_eq!(ask(json!({"customer_id": ["42"]}), "/accounts/42"), deny(403, Reason::NoAllowRule));
    assert_eq!(ask(json!({"customer_id": {"id": "42"}}), "/accounts/42"), deny(403, Reason::NoAllowRule));
    assert_eq!(ask(json!({"customer_id": null}), "/accounts/42"), deny(403, Reason::NoAllowRule));
    // A string where an ordering needs a number is a type error: the allow rule fails.
    assert_eq!(ask(json!({"level": "9"}), "/admin/1"), deny(403, Reason::NoAllowRule));
    assert_eq!(ask(json!({"level": 9}), "/admin/1"), (true, 200, Reason::Allowed));
    // A scope claim of the wrong shape grants nothing.
    assert_eq!(ask(json!({"scope": {"accounts:read": true}}), "/accounts/42"), deny(403, Reason::InsufficientScope));
    assert_eq!(ask(json!({"scope": "accounts:readx"}), "/accounts/42"), deny(403, Reason::InsufficientScope));
}

#[test]
fn a_missing_claim_in_a_deny_rule_denies() {
    let s = setup();
    let post = |claims: Value| {
        let mut r = get("api.example", "/notes", Some(format!("Bearer {}", token(&s, claims))));
        r.method = "POST".to_owned();
        r.headers.push(("content-type".to_owned(), "application/json".to_owned()));
        r.body = Some(br#"{"text": "hi"}"#.to_vec());
        s.engine.check_http(&r)
    };
    // `banned` present and false: the deny rule does not hold, the allow does.
    assert_eq!(outcome(&post(json!({"banned": false}))), (true, 200, Reason::Allowed));
    // Absent: the deny rule errors, and an erroring deny denies (fail closed).
    let d = post(json!({}));
    assert_eq!(outcome(&d), deny(403, Reason::DeniedByRule), "{d:?}");
    assert!(d.detail.contains("could not be evaluated"), "{}", d.detail);
    // Of the wrong type: `"yes" == true` is a type mismatch, an error, a denial.
    assert_eq!(outcome(&post(json!({"banned": "yes"}))), deny(403, Reason::DeniedByRule));
}

#[test]
fn body_bombs_are_refused_while_parsing() {
    let s = setup();
    let post = |body: Vec<u8>| {
        let mut r = get("api.example", "/notes", Some(format!("Bearer {}", token(&s, json!({"banned": false})))));
        r.method = "POST".to_owned();
        r.headers.push(("content-type".to_owned(), "application/json".to_owned()));
        r.body = Some(body);
        outcome(&s.engine.check_http(&r))
    };
    // Deeply nested (60 KB, under `max`): refused at the depth limit, not built.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000)).into_bytes();
    assert_eq!(post(deep), deny(400, Reason::BodyInvalid));
    // Larger than the route's `max`: 413 before any parsing.
    assert_eq!(post(vec![b' '; 65 * 1024]), deny(413, Reason::BodyTooLarge));
    // Small body, duplicate keys: refused (a second `text` could smuggle past the schema).
    assert_eq!(post(br#"{"text": "a", "text": "b"}"#.to_vec()), deny(400, Reason::BodyInvalid));
    // Schema violation: the pointer of the first violation.
    let mut r = get("api.example", "/notes", Some(format!("Bearer {}", token(&s, json!({"banned": false})))));
    r.method = "POST".to_owned();
    r.headers.push(("content-type".to_owned(), "application/json".to_owned()));
    r.body = Some(json!({"text": "x".repeat(101)}).to_string().into_bytes());
    let d = s.engine.check_http(&r);
    assert_eq!(outcome(&d), deny(400, Reason::BodyInvalid));
    assert!(d.detail.contains("/text"), "{}", d.detail);
}

#[test]
fn a_body_the_door_did_not_carry_is_not_no_body() {
    // Envoy without `with_request_body`, or a caller that left `body` out: the
    // judged request's headers still say it has one.
    let s = setup();
    let bearer = Some(format!("Bearer {}", token(&s, json!({"banned": false}))));
    let with = |method: &str, target: &str, headers: &[(&str, &str)], body: Option<&str>| {
        let mut r = get("api.example", target, bearer.clone());
        r.method = method.to_owned();
        r.headers.push(("content-type".to_owned(), "application/json".to_owned()));
        r.headers.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        r.body = body.map(|b| b.as_bytes().to_vec());
        outcome(&s.engine.check_http(&r))
    };
    // A JSON route cannot check a body it never saw.
    assert_eq!(with("POST", "/notes", &[("content-length", "20")], None), deny(400, Reason::BodyInvalid));
    assert_eq!(with("POST", "/notes", &[("transfer-encoding", "chunked")], None), deny(400, Reason::BodyInvalid));
    // Announced larger than `max`: 413 whether or not it was carried.
    assert_eq!(with("POST", "/notes", &[("content-length", "70000")], None), deny(413, Reason::BodyTooLarge));
    assert_eq!(
        with("POST", "/notes", &[("content-length", "70000")], Some(r#"{"text": "a"}"#)),
        deny(413, Reason::BodyTooLarge)
    );
    // A route that takes no body refuses an announced one.
    assert_eq!(with("GET", "/quiet", &[("content-length", "5")], None), deny(413, Reason::BodyTooLarge));
    // What is not announced is not there; what is carried is checked as usual.
    assert_eq!(with("GET", "/quiet", &[("content-length", "0")], None), (true, 200, Reason::Allowed));
    assert_eq!(
        with("POST", "/notes", &[("content-length", "13")], Some(r#"{"text": "a"}"#)),
        (true, 200, Reason::Allowed)
    );
}

#[test]
fn path_tricks_never_reach_a_route_they_should_not() {
    let s = setup();
    let t = token(&s, json!({}));
    let ask = |target: &str| outcome(&s.engine.check_http(&get("api.example", target, Some(format!("Bearer {t}")))));
    // Spellings of the same path reach the same route and the same rule.
    for same in ["/accounts/42", "//accounts//42", "/accounts/42/", "/accounts/%34%32", "/accounts/42?x=1#f"] {
        assert_eq!(ask(same), (true, 200, Reason::Allowed), "{same}");
    }
    // Dot segments, encoded separators and control characters reach no route.
    for trick in [
        "/accounts/42/..",
        "/accounts/43/../42",
        "/accounts/%2e%2e/42",
        "/accounts/4%2F2",
        "/accounts/42%2F..%2F43",
        "/accounts/4%5c2",
        "/accounts/42%00",
        "/accounts/%ZZ",
        "accounts/42",
    ] {
        assert_eq!(ask(trick), deny(404, Reason::RouteNotFound), "{trick}");
    }
    // Another customer's account, however spelled, is refused by the rule.
    for other in ["/accounts/43", "/accounts/%34%33", "//accounts/43/"] {
        assert_eq!(ask(other), deny(403, Reason::NoAllowRule), "{other}");
    }
    // Host tricks: case and a trailing dot are the same host; a port is ignored;
    // another host has no such route.
    let at = |host: &str| outcome(&s.engine.check_http(&get(host, "/accounts/42", Some(format!("Bearer {t}")))));
    assert_eq!(at("API.Example."), (true, 200, Reason::Allowed));
    assert_eq!(at("api.example:8443"), (true, 200, Reason::Allowed));
    assert_eq!(at("api.example.evil"), deny(404, Reason::RouteNotFound));
}

#[test]
fn credential_rows_end_to_end() {
    let s = setup();
    let edge = |auth: Option<String>| outcome(&s.engine.check_http(&get("api.example", "/accounts/42", auth)));
    assert_eq!(edge(None), deny(401, Reason::CredentialsMissing));
    assert_eq!(edge(Some("Basic Zm9vOmJhcg==".to_owned())), deny(401, Reason::CredentialsMissing));
    // A well-signed token from an issuer this zone does not trust.
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".to_owned());
    let claims = json!({"iss": "https://other-idp.example", "aud": "https://api.example", "sub": "u-1",
        "customer_id": "42", "scope": "accounts:read", "exp": NOW_S + 300});
    let foreign = jsonwebtoken::encode(&header, &claims, &s.key).unwrap();
    assert_eq!(edge(Some(format!("Bearer {foreign}"))), deny(401, Reason::IssuerUntrusted));
    // A kid the issuer does not have.
    header.kid = Some("k9".to_owned());
    let claims = json!({"iss": "https://idp.example", "aud": "https://api.example", "exp": NOW_S + 300});
    let unknown = jsonwebtoken::encode(&header, &claims, &s.key).unwrap();
    assert_eq!(edge(Some(format!("Bearer {unknown}"))), deny(401, Reason::KeyUnknown));
    // Payload tampered after signing.
    let good = token(&s, json!({}));
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = b64(json!({"iss": "https://idp.example", "aud": "https://api.example", "customer_id": "43",
        "scope": "accounts:read", "exp": NOW_S + 300})
    .to_string()
    .as_bytes());
    let tampered = parts.join(".");
    let d = s.engine.check_http(&get("api.example", "/accounts/43", Some(format!("Bearer {tampered}"))));
    assert_eq!(outcome(&d), deny(401, Reason::SignatureInvalid));
    assert!(d.header("www-authenticate").is_some_and(|c| c.contains("invalid_token")), "{d:?}");

    // Client credentials: unknown client, wrong secret, right secret.
    let partner = |user: &str, secret: &str| {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
        outcome(&s.engine.check_http(&get("partners.example", "/ping", Some(format!("Basic {basic}")))))
    };
    assert_eq!(partner("mallory", "s3cret-of-acme"), deny(401, Reason::ClientUnknown));
    assert_eq!(partner("acme", "guess"), deny(401, Reason::SecretInvalid));
    assert_eq!(partner("acme", "s3cret-of-acme"), (true, 200, Reason::Allowed));
    // A client is challenged to authenticate as a client does: HTTP Basic, not a bearer token.
    let d = s.engine.check_http(&get("partners.example", "/ping", None));
    assert_eq!(outcome(&d), deny(401, Reason::CredentialsMissing));
    let challenge = d.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Basic realm=") && challenge.ends_with("charset=\"UTF-8\""), "{challenge}");
}

/// Three limits on `source.ip` (two requests a minute each): one per IPv6 /64
/// (the default), one per IPv6 address, one per /48.
const IPV6_POLICY: &str = r#"zone edge {}

limit per_net = 2 per 1m by source.ip
limit per_addr = 2 per 1m by source.ip ipv6_prefix 128
limit per_site = 2 per 1m by source.ip ipv6_prefix 48

api a in zone edge {
  host "api.example"
  auth none

  route GET "/net" {
    limit per_net
    allow
  }

  route GET "/addr" {
    limit per_addr
    allow
  }

  route GET "/site" {
    limit per_site
    allow
  }
}
"#;

fn ipv6_engine(policy: &str) -> Engine {
    let set = PolicySet { files: vec![SourceFile::new("ipv6.warden", policy)] };
    let (graph, _) = compile(&set, &Files(Vec::new())).unwrap_or_else(|d| panic!("{d:#?}"));
    let verifier = JwksVerifier::new(&graph, &|_| None);
    Engine::new(Prepared::new(graph).unwrap(), Arc::new(Memory::new(1000)), Arc::new(verifier))
}

/// Whether a GET of `target` from `ip` is admitted.
fn admitted(e: &Engine, target: &str, ip: &str) -> bool {
    let mut req = get("api.example", target, None);
    req.source_ip = Some(ip.parse().unwrap());
    let d = e.check_http(&req);
    assert!(d.allow || d.reason == Reason::RateLimited, "{target} from {ip}: {:?}", d.reason);
    d.allow
}

#[test]
fn rotating_addresses_inside_one_ipv6_64_does_not_escape_a_source_ip_limit() {
    let e = ipv6_engine(IPV6_POLICY);
    // Two addresses of one /64 share the bucket: the third request is refused.
    assert!(admitted(&e, "/net", "2001:db8:1:2::1"));
    assert!(admitted(&e, "/net", "2001:db8:1:2:ffff:ffff:ffff:fffe"));
    assert!(!admitted(&e, "/net", "2001:db8:1:2:abcd::9"));
    // Another /64 (even the next one) is another client.
    assert!(admitted(&e, "/net", "2001:db8:1:3::1"));
    // IPv4 is keyed by the whole address.
    assert!(admitted(&e, "/net", "203.0.113.9"));
    assert!(admitted(&e, "/net", "203.0.113.9"));
    assert!(!admitted(&e, "/net", "203.0.113.9"));
    assert!(admitted(&e, "/net", "203.0.113.10"));
    // An IPv4-mapped IPv6 address is that IPv4 client, not a /64.
    assert!(!admitted(&e, "/net", "::ffff:203.0.113.9"));
    assert!(admitted(&e, "/net", "::ffff:203.0.113.11"));
}

#[test]
fn ipv6_prefix_128_keys_each_address_and_48_each_site() {
    let e = ipv6_engine(IPV6_POLICY);
    assert!(admitted(&e, "/addr", "2001:db8:1:2::1"));
    assert!(admitted(&e, "/addr", "2001:db8:1:2::1"));
    assert!(!admitted(&e, "/addr", "2001:db8:1:2::1"));
    // The neighbour address has its own bucket.
    assert!(admitted(&e, "/addr", "2001:db8:1:2::2"));
    // A /48 spans /64s: 2001:db8:1:2::/64 and 2001:db8:1:ffff::/64 share one.
    assert!(admitted(&e, "/site", "2001:db8:1:2::1"));
    assert!(admitted(&e, "/site", "2001:db8:1:ffff::1"));
    assert!(!admitted(&e, "/site", "2001:db8:1:abcd::1"));
    assert!(admitted(&e, "/site", "2001:db8:2::1"));
}

#[test]
fn a_changed_ipv6_prefix_is_a_different_limit() {
    let fingerprint = |policy: &str| {
        let set = PolicySet { files: vec![SourceFile::new("ipv6.warden", policy)] };
        let (graph, _) = compile(&set, &Files(Vec::new())).unwrap_or_else(|d| panic!("{d:#?}"));
        Prepared::new(graph).unwrap().limit_ids[0]
    };
    let default = fingerprint(IPV6_POLICY);
    let explicit = fingerprint(&IPV6_POLICY.replacen("by source.ip\n", "by source.ip ipv6_prefix 64\n", 1));
    let other = fingerprint(&IPV6_POLICY.replacen("by source.ip\n", "by source.ip ipv6_prefix 56\n", 1));
    assert_eq!(default, explicit);
    assert_ne!(default, other);
}

/// Public files under a catch-all, and nothing else: what a servlet container
/// behind the gateway serves as `/admin` must not pass as a public file.
const SERVLET_POLICY: &str = r#"zone inside {
}

api site in zone inside {
  auth none

  route GET "/public/{*file}" {
    allow
  }
}
"#;

#[test]
fn servlet_path_parameters_cannot_climb_out_of_a_catch_all() {
    let set = PolicySet { files: vec![SourceFile::new("servlet.warden", SERVLET_POLICY)] };
    let (graph, _) = compile(&set, &Files(Vec::new())).unwrap_or_else(|d| panic!("{d:#?}"));
    let verifier = CachingVerifier::new(JwksVerifier::new(&graph, &|_| None), 10);
    let engine = Engine::new(Prepared::new(graph).unwrap(), Arc::new(Memory::new(10)), Arc::new(verifier));
    let ask = |target: &str| outcome(&engine.check_http(&get("api.example", target, None)));
    // The catch-all allows what is under it, `;` included as literal text.
    for plain in ["/public/css/site.css", "/public/admin", "/public/a;b/c", "/public/...;x"] {
        assert_eq!(ask(plain), (true, 200, Reason::Allowed), "{plain}");
    }
    // Tomcat, Jetty and Spring read `..;x` as `..` and serve these as `/admin`.
    for trick in [
        "/public/..;/admin",
        "/public/..;jsessionid=1/admin",
        "/public/.;/..;/admin",
        "/public/%2e%2e%3b/admin",
        "/public/%2e%2e;x/admin",
        "/public/%2E%2e%3B/admin",
        "/public/css/.%2E;/..;/admin",
    ] {
        assert_eq!(ask(trick), deny(404, Reason::RouteNotFound), "{trick}");
    }
}

#[test]
fn a_resource_check_verifies_its_token_exactly_as_given() {
    let s = setup();
    let good = token(&s, json!({}));
    // `token` signs for `u-1`, the owner.
    let sub = "u-1";
    let read = |token: Option<String>| {
        let properties = json!({"owner": sub}).as_object().cloned().unwrap();
        let req = ResourceRequest {
            resource_type: "doc".to_owned(),
            resource_id: "d1".to_owned(),
            properties,
            action: "read".to_owned(),
            token,
            scheme: "https".to_owned(),
            now_ms: NOW_S * 1000 + 1000,
            ..ResourceRequest::default()
        };
        outcome(&s.engine.check_resource(&req))
    };
    assert_eq!(read(Some(good.clone())), (true, 200, Reason::Allowed));
    assert_eq!(read(None), deny(401, Reason::CredentialsMissing));
    assert_eq!(read(Some(String::new())), deny(401, Reason::CredentialsMissing));
    // The token is not parsed as a header: text around it is not trimmed away,
    // and a second scheme word is not a way in.
    assert_eq!(read(Some(format!(" {good}"))).2, Reason::TokenMalformed);
    assert_eq!(read(Some(format!("Bearer {good}"))).2, Reason::TokenMalformed);
}
