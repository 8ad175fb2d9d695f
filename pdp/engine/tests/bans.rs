//! Bans in the engine: denials that match a ban's outcomes are counted per
//! key at the endpoints that say `ban NAME`, and once a key crosses the
//! threshold every endpoint of the zone refuses it (`banned`, with
//! `retry-after`) until the ban ends. A ban keyed by the identity counts only
//! denials after authentication; an exempt network is never counted or
//! banned; a store that cannot answer follows `on_backend_error`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::sync::Arc;

use warden_engine::decision::Decision;
use warden_engine::limits::{BackendError, Limiter, Outcome, Rate};
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

/// Three refusals by the rules for one user in a minute: that user is shut
/// out of the zone for five minutes.
ban nosy_user = 3 of 403 per 1m by claim.sub for 5m status 429 except "10.0.0.0/8"

api docs in zone edge {
  host "api.example"
  auth bearer

  route GET "/docs/{id}" {
    ban nosy_user
    allow when claim.owner_of == path.id
  }

  route GET "/health" {
    allow
  }
}
"#;

fn token(sub: &str) -> String {
    format!(r#"test:{{"sub": "{sub}", "owner_of": "1"}}"#)
}

fn ask(e: &Engine, path: &str, token: Option<&str>, ip: &str, now_s: u64) -> Decision {
    let mut headers = Vec::new();
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    e.check_http(&HttpRequest {
        method: "GET".to_owned(),
        scheme: "https".to_owned(),
        host: "api.example".to_owned(),
        target: path.to_owned(),
        headers,
        source_ip: Some(ip.parse().unwrap()),
        now_ms: 1_800_000_000_000 + now_s * 1_000,
        ..HttpRequest::default()
    })
}

#[test]
fn a_user_refused_three_times_is_banned_from_the_zone_and_others_are_not() {
    let e = test_tokens::engine_of(POLICY);
    let (mallory, alice) = (token("mallory"), token("alice"));
    // 401s (no identity yet) are not held against anyone.
    for _ in 0..5 {
        assert_eq!(ask(&e, "/docs/2", None, "198.51.100.1", 0).reason, Reason::CredentialsMissing);
    }
    for i in 0..3 {
        let d = ask(&e, "/docs/2", Some(&mallory), "198.51.100.1", i);
        assert_eq!(d.reason, Reason::NoAllowRule);
        // The third starts the ban, and says so (for the decision log).
        assert_eq!(d.bans.len(), usize::from(i == 2), "{d:?}");
    }
    let started = &ask(&e, "/docs/2", Some(&mallory), "198.51.100.1", 3);
    assert_eq!((started.reason, started.status), (Reason::Banned, 429));
    // On every route of the zone, from any address: the key is the user.
    let d = ask(&e, "/health", Some(&mallory), "203.0.113.9", 3);
    assert_eq!((d.reason, d.status, d.header("retry-after")), (Reason::Banned, 429, Some("299")));
    assert_eq!(ask(&e, "/docs/1", Some(&alice), "198.51.100.1", 3).reason, Reason::Allowed);
    // Over after five minutes.
    assert_eq!(ask(&e, "/docs/1", Some(&mallory), "198.51.100.1", 2 + 300).reason, Reason::Allowed);
}

#[test]
fn the_denial_that_starts_a_ban_names_it_and_its_key() {
    let e = test_tokens::engine_of(POLICY);
    let mallory = token("mallory");
    let mut last = None;
    for i in 0..3 {
        last = Some(ask(&e, "/docs/2", Some(&mallory), "198.51.100.1", i));
    }
    let ban = &last.unwrap().bans[0];
    assert_eq!((ban.ban.as_str(), ban.key.as_str(), ban.offences), ("nosy_user", "mallory", 1));
    assert_eq!(ban.until_ms, 1_800_000_000_000 + 2_000 + 300_000);
}

#[test]
fn an_exempt_network_is_never_counted_nor_banned() {
    let e = test_tokens::engine_of(POLICY);
    let mallory = token("mallory");
    for i in 0..10 {
        let d = ask(&e, "/docs/2", Some(&mallory), "10.1.2.3", i);
        assert_eq!((d.reason, d.bans.len()), (Reason::NoAllowRule, 0));
    }
    assert_eq!(ask(&e, "/docs/1", Some(&mallory), "10.1.2.3", 11).reason, Reason::Allowed);
    // From elsewhere the same user was never counted either.
    assert_eq!(ask(&e, "/docs/1", Some(&mallory), "198.51.100.1", 11).reason, Reason::Allowed);
}

/// A shared store that cannot answer: counts and bans fail.
struct Down;

impl Limiter for Down {
    fn consume(&self, _limit: u64, _key: &str, _rate: Rate, _now_ms: u64) -> Result<Outcome, BackendError> {
        Err(BackendError)
    }

    fn keys(&self) -> usize {
        0
    }

    fn clear(&self) {}
}

#[test]
fn a_store_that_cannot_answer_follows_on_backend_error() {
    let mallory = token("mallory");
    // `allow` (the default): the ban is skipped, the rules decide.
    let open = test_tokens::engine_with(POLICY, Arc::new(Down));
    assert_eq!(ask(&open, "/docs/1", Some(&mallory), "198.51.100.1", 0).reason, Reason::Allowed);
    // `deny`: refused as banned, saying the ban could not be checked.
    let closed = test_tokens::engine_with(
        &POLICY.replace("except \"10.0.0.0/8\"", "except \"10.0.0.0/8\" on_backend_error deny"),
        Arc::new(Down),
    );
    let d = ask(&closed, "/docs/1", Some(&mallory), "198.51.100.1", 0);
    assert_eq!((d.reason, d.status), (Reason::Banned, 429));
    assert!(d.detail.contains("could not be checked"), "{d:?}");
}

#[test]
fn an_alert_rule_says_so_once_per_period_and_bans_nothing() {
    let policy = r#"zone edge {
  require tls
}

/// Someone walking through documents: said, not stopped.
ban walker = 3 distinct path.id per 1m by source.ip alert

api docs in zone edge {
  host "api.example"
  auth none
  ban walker

  route GET "/docs/{id}" {
    allow
  }
}
"#;
    let e = test_tokens::engine_of(policy);
    let detections: Vec<usize> = (0..6)
        .map(|i| {
            let d = ask(&e, &format!("/docs/{i}"), None, "198.51.100.1", i);
            assert_eq!(d.reason, Reason::Allowed);
            d.bans.len()
        })
        .collect();
    assert_eq!(detections, [0, 0, 1, 0, 0, 0], "the third distinct document crosses it, once");
    let d = ask(&e, "/docs/2", None, "198.51.100.1", 2);
    assert_eq!(d.reason, Reason::Allowed);
    // Said as a detection, with the key.
    let mut d = None;
    for i in 0..3 {
        d = Some(ask(&e, &format!("/docs/{i}"), None, "198.51.100.2", i));
    }
    let said = &d.unwrap().bans[0];
    assert_eq!((said.ban.as_str(), said.key.as_str(), said.detection), ("walker", "198.51.100.2", true));
    // The next period says it again.
    let again: usize = (10..13).map(|i| ask(&e, &format!("/docs/{i}"), None, "198.51.100.1", 120 + i).bans.len()).sum();
    assert_eq!(again, 1);
}

#[test]
fn a_ban_keyed_by_the_body_locks_an_account_whoever_asks() {
    let policy = r#"zone edge {
  require tls
}

/// Five wrong passwords for one account in fifteen minutes lock it, from
/// whichever addresses they came.
ban lockout = 5 of 403 per 15m by body.login for 15m

schema Login {
  login: string
  password: string
}

api id in zone edge {
  host "api.example"
  auth none
  ban lockout

  route POST "/login" {
    body json Login
    allow when body.password == "right"
  }
}
"#;
    let e = test_tokens::engine_of(policy);
    let login = |account: &str, password: &str, ip: &str, now_s: u64| -> Decision {
        e.check_http(&HttpRequest {
            method: "POST".to_owned(),
            scheme: "https".to_owned(),
            host: "api.example".to_owned(),
            target: "/login".to_owned(),
            headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            body: Some(format!(r#"{{"login": "{account}", "password": "{password}"}}"#).into_bytes()),
            source_ip: Some(ip.parse().unwrap()),
            now_ms: 1_800_000_000_000 + now_s * 1_000,
            ..HttpRequest::default()
        })
    };
    for i in 0..5u8 {
        assert_eq!(login("alice", "wrong", &format!("198.51.100.{i}"), u64::from(i)).reason, Reason::NoAllowRule);
    }
    let d = login("alice", "right", "203.0.113.1", 6);
    assert_eq!((d.reason, d.status), (Reason::Banned, 403));
    assert_eq!(login("bob", "right", "198.51.100.0", 6).reason, Reason::Allowed);
    assert_eq!(login("alice", "right", "203.0.113.1", 5 + 15 * 60).reason, Reason::Allowed);
}
