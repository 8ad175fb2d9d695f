//! A credential-stuffing run through real nginx in front of `warden serve`:
//! one address tries 200 logins over 40 accounts while a well-behaved address
//! logs into its two accounts in the same run. The login API names the
//! account in its path (nginx's `auth_request` passes no body), and the
//! policy bans an address once it has tried 20 distinct accounts in ten
//! minutes. The attacker gets through at most 20 times, then only 403s; the
//! well-behaved address is never banned. The clients connect from two
//! loopback addresses of their own, and nginx passes the one it saw.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use warden_e2e::gateway::{Gateway, Upstream, nginx_command, nginx_conf, nginx_forward_auth};
use warden_e2e::{Warden, free_ports};

const POLICY: &str = r#"zone public {
  network "127.0.0.0/8"
}

/// One address trying many accounts: 20 distinct accounts in ten minutes.
ban stuffing = 20 distinct path.login per 10m by source.ip for 1h

api id in zone public {
  auth none
  ban stuffing

  route POST "/v1/users/{login}/sessions" {
    allow
  }
}
"#;

/// `POST path` to nginx at `to`, from the loopback address `from`; the status.
async fn post_from(from: IpAddr, to: SocketAddr, path: &str) -> u16 {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let request = format!("POST {path} HTTP/1.1\r\nhost: id.example\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no status in {text}"))
}

#[test]
fn one_address_trying_many_accounts_is_banned_and_a_good_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("id.warden"), POLICY).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, "[reload]\nwatch = false\n\n[callers]\ntrusted_proxies = [\"127.0.0.1/32\"]\n").unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();
    let upstream = Upstream::start();
    let [port] = free_ports::<1>().unwrap();
    let root = dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let servers = format!(
        "  server {{\n    listen 127.0.0.1:{port};\n\n    location / {{\n      auth_request /_warden;\n      proxy_pass http://{};\n    }}\n\n{}  }}\n",
        upstream.addr,
        nginx_forward_auth(w.http)
    );
    let conf = root.join("nginx.conf");
    std::fs::write(&conf, nginx_conf("tests/tests/credential_stuffing.rs", &root, &servers)).unwrap();
    let g = Gateway::start("nginx", nginx_command(&root, &conf), root.join("error.log"), &[port]);
    let nginx: SocketAddr = ([127, 0, 0, 1], port).into();
    let (attacker, good): (IpAddr, IpAddr) = ([127, 0, 0, 2].into(), [127, 0, 0, 3].into());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut attacker_in, mut attacker_banned, mut good_in) = (0, 0, 0);
    rt.block_on(async {
        for i in 0..200 {
            // The attacker: 40 accounts, five rounds.
            match post_from(attacker, nginx, &format!("/v1/users/account-{}/sessions", i % 40)).await {
                200 => attacker_in += 1,
                403 => attacker_banned += 1,
                other => panic!("attempt {i}: {other}\n{}", g.log_text()),
            }
            // The user: two accounts of their own, now and then.
            if i % 5 == 0 {
                let account = if i % 10 == 0 { "alice" } else { "alice-work" };
                let status = post_from(good, nginx, &format!("/v1/users/{account}/sessions")).await;
                assert_eq!(status, 200, "the well-behaved address at attempt {i}");
                good_in += 1;
            }
        }
    });
    // Banned within the threshold: the 20th distinct account starts the ban.
    assert_eq!((attacker_in, attacker_banned), (20, 180));
    assert_eq!(good_in, 40);
    assert_eq!(upstream.hits(), 20 + 40, "a refused attempt never reaches the upstream");
    let metrics = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    assert!(metrics.lines().any(|l| l == "warden_bans_total{ban=\"stuffing\"} 1"), "{metrics}");
}
