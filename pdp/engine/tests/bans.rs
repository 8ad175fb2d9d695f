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

const LOCKOUT: &str = r#"zone edge {
  require tls
}

/// Three wrong passwords for one account in fifteen minutes lock it, from
/// whichever addresses they came.
ban lockout = 3 of 403 per 15m by body.login for 10m max 1h

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

fn login(e: &Engine, account: &str, password: &str, now_s: u64) -> Decision {
    login_from(e, account, password, "198.51.100.1", now_s)
}

fn login_from(e: &Engine, account: &str, password: &str, ip: &str, now_s: u64) -> Decision {
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
}

#[test]
fn a_ban_keyed_by_the_body_locks_an_account_whoever_asks() {
    let e = test_tokens::engine_of(LOCKOUT);
    for i in 0..3u8 {
        let d = login_from(&e, "alice", "wrong", &format!("198.51.100.{i}"), u64::from(i));
        assert_eq!(d.reason, Reason::NoAllowRule);
    }
    let d = login_from(&e, "alice", "right", "203.0.113.1", 6);
    assert_eq!((d.reason, d.status), (Reason::Banned, 403));
    assert_eq!(login_from(&e, "bob", "right", "198.51.100.0", 6).reason, Reason::Allowed);
    assert_eq!(login_from(&e, "alice", "right", "203.0.113.1", 2 + 10 * 60).reason, Reason::Allowed);
}

#[test]
fn retrying_while_banned_neither_lengthens_the_ban_nor_starts_the_next() {
    let e = test_tokens::engine_of(LOCKOUT);
    let started: Vec<usize> = (0..3).map(|i| login(&e, "alice", "wrong", i).bans.len()).collect();
    assert_eq!(started, [0, 0, 1]);
    // Thirty refusals while banned (403, the counted status): no new offence, no event.
    for i in 0..30 {
        let d = login(&e, "alice", "wrong", 10 + i);
        assert_eq!((d.reason, d.bans.len()), (Reason::Banned, 0), "{d:?}");
    }
    // Over at 2 + 600 s, as first set. The count starts again: two more wrong
    // passwords do not ban, the third does, as a second offence (twice as long).
    assert_eq!(login(&e, "alice", "wrong", 602).reason, Reason::NoAllowRule);
    assert_eq!(login(&e, "alice", "wrong", 603).bans.len(), 0);
    let d = login(&e, "alice", "wrong", 604);
    assert_eq!(
        (d.bans.len(), d.bans.first().map(|b| (b.offences, b.until_ms))),
        (1, Some((2, 1_800_000_000_000 + 604_000 + 1_200_000)))
    );
}

#[test]
fn a_ban_keyed_by_a_credential_never_shows_it() {
    let policy = r#"zone edge {
  require tls
}

ban key_abuse = 2 of 403 per 1m by header["x-api-key"] for 1m
ban by_password = 2 of 403 per 1m by body.password for 1m

api id in zone edge {
  host "api.example"
  auth none
  ban key_abuse
  ban by_password

  route POST "/login" {
    allow when body.password == "right"
  }
}
"#;
    let e = test_tokens::engine_of(policy);
    let mut last = None;
    for i in 0..2 {
        last = Some(e.check_http(&HttpRequest {
            method: "POST".to_owned(),
            scheme: "https".to_owned(),
            host: "api.example".to_owned(),
            target: "/login".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-api-key".to_owned(), "sk_live_secret".to_owned()),
            ],
            body: Some(br#"{"login": "alice", "password": "hunter2"}"#.to_vec()),
            source_ip: Some("198.51.100.1".parse().unwrap()),
            now_ms: 1_800_000_000_000 + i * 1_000,
            ..HttpRequest::default()
        }));
    }
    let d = last.unwrap();
    let keys: Vec<&str> = d.bans.iter().map(|b| b.key.as_str()).collect();
    assert_eq!(keys, [warden_engine::limits::HIDDEN_KEY, warden_engine::limits::HIDDEN_KEY], "{d:?}");
    assert!(!format!("{d:?}").contains("sk_live_secret") && !format!("{d:?}").contains("hunter2"));
}

#[test]
fn leaving_out_one_part_of_a_key_does_not_escape_the_ban() {
    let policy = r#"zone edge {
  require tls
}

ban noisy = 2 of 403 per 1m by source.ip, header["x-device"] for 1m

api id in zone edge {
  host "api.example"
  auth none
  ban noisy

  route GET "/docs/{id}" {
    allow when path.id == "1"
  }
}
"#;
    let e = test_tokens::engine_of(policy);
    let ask = |path: &str, now_s: u64| ask(&e, path, None, "198.51.100.1", now_s);
    // No `x-device`: still counted, under the address with the device missing.
    assert_eq!(ask("/docs/2", 0).reason, Reason::NoAllowRule);
    let d = ask("/docs/3", 1);
    assert_eq!(d.bans.first().map(|b| b.key.as_str()), Some("198.51.100.1, (missing)"), "{d:?}");
    assert_eq!(ask("/docs/1", 2).reason, Reason::Banned);
}
