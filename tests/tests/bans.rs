//! Bans with real parts: two `warden serve` replicas share one real
//! `redis-server`. An address that fails five times through replica A is
//! refused at replica B (`banned`, 429, `retry-after`), another address is
//! not; replica A counts the ban (`warden_bans_total`) and writes it to its
//! decision log as an audit event after the decision that started it.
//! `warden bans list` and `lift` against either replica see and lift it, and
//! its count with it.

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
    // The count went with the ban: one more failure is one of five again, not the sixth.
    assert_eq!(login(&a, "198.51.100.7", "wrong")["reason"], "no_allow_rule");
    assert_eq!(login(&b, "198.51.100.7", "open-sesame")["reason"], "allowed");
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

/// Two bans: one alerts a webhook that answers, the other the default
/// webhook, which accepts connections and never answers.
const ALERTING: &str = r#"zone edge {
  require tls
}

ban wrong_passwords = 3 of 403 per 1m by source.ip for 1m
ban wrong_codes = 3 of 403 per 1m by header["x-device"] for 1m

api id in zone edge {
  host "id.example"
  auth none

  route POST "/login" {
    ban wrong_passwords
    allow when header["x-password"] == "open-sesame"
  }

  route POST "/code" {
    ban wrong_codes
    allow when header["x-code"] == "123456"
  }
}
"#;

#[test]
fn bans_alert_their_webhook_and_a_hanging_one_changes_no_decision() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The webhook that answers: every event it receives goes to `got`.
    let (tx, got) = std::sync::mpsc::channel::<Value>();
    let tx = std::sync::Mutex::new(tx);
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let hook = listener.local_addr().unwrap();
    let tx = std::sync::Arc::new(tx);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.lock().unwrap().send(v);
                "ok"
            }
        }),
    );
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    // The webhook that hangs: connections accepted, never answered.
    let hanging = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let hang = hanging.local_addr().unwrap();
    rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            held.push(socket);
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("id.warden"), ALERTING).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[reload]\nwatch = false\n\n[alerts]\nwebhook = \"http://{hang}/never\"\ntimeout_ms = 300\nretries = 1\n\n[alerts.bans]\nwrong_passwords = \"http://{hook}/hook\"\n"
        ),
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    let post = |path: &str, header: (&str, &str), ip: &str| -> Value {
        let body = json!({"request": {"method": "POST", "scheme": "https", "host": "id.example", "path": path,
            "headers": {header.0: header.1}}, "source": {"ip": ip}});
        w.post_json("/v1/check", &body).unwrap().json().unwrap()
    };
    // The ban whose webhook hangs first: decisions go on as before.
    let code = |code: &str, device: Option<&str>| -> Value {
        let mut headers = json!({"x-code": code});
        if let Some(d) = device {
            headers["x-device"] = json!(d);
        }
        let body = json!({"request": {"method": "POST", "scheme": "https", "host": "id.example", "path": "/code",
            "headers": headers}, "source": {"ip": "198.51.100.9"}});
        w.post_json("/v1/check", &body).unwrap().json().unwrap()
    };
    for _ in 0..3 {
        assert_eq!(code("000000", Some("dev-1"))["reason"], "no_allow_rule");
    }
    assert_eq!(code("123456", Some("dev-1"))["reason"], "banned");
    assert_eq!(code("123456", Some("dev-2"))["reason"], "allowed", "another device is another key");
    // A request without the key is nobody's: never counted, never banned.
    for _ in 0..5 {
        assert_eq!(code("000000", None)["reason"], "no_allow_rule");
    }
    assert_eq!(code("123456", None)["reason"], "allowed");
    for _ in 0..3 {
        assert_eq!(post("/login", ("x-password", "wrong"), "198.51.100.7")["reason"], "no_allow_rule");
    }
    assert_eq!(post("/login", ("x-password", "open-sesame"), "198.51.100.7")["reason"], "banned");
    assert_eq!(post("/login", ("x-password", "open-sesame"), "198.51.100.8")["reason"], "allowed");
    // The answering webhook got its ban, and only its ban.
    let event = got.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        (event["event"].as_str(), event["ban"].as_str(), event["key"].as_str(), event["offences"].as_u64()),
        (Some("ban"), Some("wrong_passwords"), Some("198.51.100.7"), Some(1))
    );
    assert!(got.recv_timeout(Duration::from_millis(300)).is_err(), "one event");
    // The hanging one is given up after its retry, and counted.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
        let failed = metrics.lines().any(|l| l == "warden_alerts_failed_total 1");
        let sent = metrics.lines().any(|l| l == "warden_alerts_sent_total 1");
        if failed && sent {
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn distinct_accounts_are_counted_across_replicas() {
    let policy = r#"zone edge {
  require tls
}

ban stuffing = 10 distinct body.login per 10m by source.ip for 1h

schema Login {
  login: string
}

api id in zone edge {
  host "id.example"
  auth none
  ban stuffing

  route POST "/login" {
    body json Login
    allow
  }
}
"#;
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("id.warden"), policy).unwrap();
    let redis = RedisServer::start().unwrap();
    let a = replica(&policies, &redis, None, dir.path(), "a");
    let b = replica(&policies, &redis, None, dir.path(), "b");
    let login = |w: &Warden, ip: &str, account: &str| -> String {
        let body = json!({"request": {"method": "POST", "scheme": "https", "host": "id.example", "path": "/login",
            "headers": {"content-type": "application/json"}, "body": json!({"login": account}).to_string()},
            "source": {"ip": ip}});
        w.post_json("/v1/check", &body).unwrap().json().unwrap()["reason"].as_str().unwrap().to_owned()
    };
    // Ten distinct accounts, alternating replicas: one sketch in Redis.
    for i in 0..10 {
        let w = if i % 2 == 0 { &a } else { &b };
        assert_eq!(login(w, "198.51.100.7", &format!("user-{i}")), "allowed");
    }
    assert_eq!(login(&a, "198.51.100.7", "user-0"), "banned");
    assert_eq!(login(&b, "198.51.100.7", "user-0"), "banned");
    // The same account again and again is one value.
    for _ in 0..30 {
        assert_eq!(login(&b, "198.51.100.8", "alice"), "allowed");
    }
}
