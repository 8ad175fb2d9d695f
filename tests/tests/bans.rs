//! Bans with real parts: two `warden serve` replicas share one real
//! `redis-server`. An address that fails five times through replica A is
//! refused at replica B (`banned`, 429, `retry-after`), another address is
//! not; replica A counts the ban (`warden_bans_total`) and writes it to its
//! decision log as an audit event after the decision that started it.
//! `warden bans list` and `lift` against either replica see and lift it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::{RedisServer, Warden};

const POLICY: &str = r#"zone edge {
  require tls
}

/// Five wrong passwords in a minute from one address: that address waits a minute.
ban wrong_passwords = 5 of 403 per 1m by source.ip for 1m status 429

api id in zone edge {
  host "id.example"
  auth none
  ban wrong_passwords

  route POST "/login" {
    allow when header["x-password"] == "open-sesame"
  }

  route GET "/status" {
    allow
  }
}
"#;

fn login(w: &Warden, ip: &str, password: &str) -> Value {
    let body = json!({"request": {"method": "POST", "scheme": "https", "host": "id.example", "path": "/login",
        "headers": {"x-password": password}}, "source": {"ip": ip}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()
}

fn replica(policies: &Path, redis: &RedisServer, log: Option<&Path>, dir: &Path, name: &str) -> Warden {
    let mut config = format!(
        "[reload]\nwatch = false\n\n[limits]\nbackend = \"{}\"\ntimeout_ms = 200\npool = 4\nbackoff_ms = 200\n",
        redis.url()
    );
    if let Some(log) = log {
        config.push_str(&format!("\n[decision_log]\nsink = \"file\"\npath = {:?}\n", log.to_str().unwrap()));
    }
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, config).unwrap();
    Warden::start(policies, &["--config", file.to_str().unwrap()]).unwrap()
}

#[test]
fn an_address_banned_through_one_replica_is_refused_by_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("id.warden"), POLICY).unwrap();
    let redis = RedisServer::start().unwrap();
    let log = dir.path().join("a.jsonl");
    let a = replica(&policies, &redis, Some(&log), dir.path(), "a");
    let b = replica(&policies, &redis, None, dir.path(), "b");

    for _ in 0..4 {
        assert_eq!(login(&a, "198.51.100.7", "wrong")["reason"], "no_allow_rule");
    }
    // Not yet: four failures.
    assert_eq!(login(&b, "198.51.100.7", "open-sesame")["reason"], "allowed");
    // The fifth, through A, starts the ban.
    assert_eq!(login(&a, "198.51.100.7", "wrong")["reason"], "no_allow_rule");
    let d = login(&b, "198.51.100.7", "open-sesame");
    assert_eq!((d["reason"].as_str(), d["status"].as_u64()), (Some("banned"), Some(429)), "{d}");
    let retry: u64 = d["headers"]["retry-after"].as_str().unwrap().parse().unwrap();
    assert!((55..=60).contains(&retry), "{d}");
    assert_eq!(login(&b, "198.51.100.8", "open-sesame")["reason"], "allowed");

    // A counts it and logs it, after the decision that started it.
    let metrics = String::from_utf8(a.get("/metrics").unwrap().body).unwrap();
    assert!(metrics.lines().any(|l| l == "warden_bans_total{ban=\"wrong_passwords\"} 1"), "{metrics}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines: Vec<Value> = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("\"event\":\"ban\"") && text.ends_with('\n') {
            break text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        }
        assert!(Instant::now() < deadline, "no ban event in the log:\n{text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let at = lines.iter().position(|l| l["event"] == "ban").unwrap();
    let event = &lines[at];
    assert_eq!(
        (event["ban"].as_str(), event["key"].as_str(), event["offences"].as_u64()),
        (Some("wrong_passwords"), Some("198.51.100.7"), Some(1))
    );
    assert_eq!(lines[at - 1]["decision_id"], event["decision_id"], "the decision that started it comes first");

    // Operators: the ban is listed by either replica (one Redis), and lifted
    // through the other with `warden bans lift`.
    let listed = warden(&["bans", "list", "--url", &format!("http://{}", a.http)]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("  wrong_passwords  198.51.100.7  ") && listed.ends_with("1 bans in force\n"), "{listed}");
    let held: Value = b.get("/v1/bans").unwrap().json().unwrap();
    let id = held["bans"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (held["bans"][0]["ban"].as_str(), held["bans"][0]["offences"].as_u64()),
        (Some("wrong_passwords"), Some(1))
    );
    let lifted = warden(&["bans", "lift", &id, "--url", &format!("http://{}", b.http)]);
    assert!(lifted.status.success(), "{}", String::from_utf8_lossy(&lifted.stderr));
    assert_eq!(login(&a, "198.51.100.7", "open-sesame")["reason"], "allowed");
    assert_eq!(b.get("/v1/bans").unwrap().json().unwrap()["bans"], json!([]));
    let again = warden(&["bans", "lift", &id, "--url", &format!("http://{}", b.http)]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("404"));

    // A caller `[callers]` does not allow to assert a source may not list them.
    let closed = dir.path().join("closed.toml");
    std::fs::write(&closed, "[reload]\nwatch = false\n\n[callers]\nassert_networks = []\n").unwrap();
    let c = Warden::start(&policies, &["--config", closed.to_str().unwrap()]).unwrap();
    assert_eq!(c.get("/v1/bans").unwrap().status, 403);
}

fn warden(args: &[&str]) -> std::process::Output {
    std::process::Command::new(warden_e2e::warden_bin().unwrap()).args(args).output().unwrap()
}
