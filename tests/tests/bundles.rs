//! Policy bundles with real parts: `warden bundle build|push` to a real OCI
//! registry (Debian's `docker-registry`, on loopback), and two `warden serve`
//! replicas polling it. Both serve the revision `warden bundle build`
//! printed (which `warden compile` prints too), switch together to a new
//! tag within the poll interval, refuse an unsigned bundle and one signed
//! by another key (the revision in service stays, `/v1/status` says why),
//! keep serving while the registry is down, and a replica restarted with
//! the registry down serves the bundle it kept. A bundle file at an HTTP(S)
//! URL is polled with `If-None-Match`: downloaded once until it changes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::registry::RegistryServer;
use warden_e2e::{Warden, warden_bin};

fn warden(args: &[&str]) -> Output {
    Command::new(warden_bin().unwrap()).args(args).output().unwrap()
}

fn ok(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A set whose `/hello` answers `allowed` for the addresses in its data file.
fn set(dir: &Path, allowed: &str) {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("main.warden"),
        "zone edge {\n  require tls\n}\n\ndata friends = file \"data/friends.json\"\n\napi a in zone edge {\n  host \"api.example\"\n  auth none\n\n  route GET \"/hello\" {\n    allow when source.ip in data.friends\n  }\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("data/friends.json"), json!([allowed]).to_string()).unwrap();
}

/// A new bundle signing key under `root` and the JWKS of its public half.
fn signing_key(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let key = root.join("bundle.pem");
    ok(&warden(&["keys", "generate", key.to_str().unwrap()]));
    let jwks = root.join("bundle-keys.json");
    std::fs::write(&jwks, ok(&warden(&["keys", "public", key.to_str().unwrap()]))).unwrap();
    (key, jwks)
}

/// Two revisions of one set under `root`: `v1` lets 198.51.100.1 in, `v2` 198.51.100.2.
fn two_sets(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (v1, v2) = (root.join("v1"), root.join("v2"));
    set(&v1, "198.51.100.1");
    set(&v2, "198.51.100.2");
    (v1, v2)
}

/// Builds the bundle of `dir` into `out`, signed by `key` (if any); the revision it printed.
fn build(dir: &Path, out: &Path, key: Option<&Path>) -> String {
    let mut args = vec!["bundle", "build", dir.to_str().unwrap(), "-o", out.to_str().unwrap()];
    if let Some(k) = key {
        args.extend(["--sign", k.to_str().unwrap()]);
    }
    let printed = ok(&warden(&args));
    printed.split("revision ").nth(1).and_then(|r| r.split(',').next()).unwrap().to_owned()
}

fn push(bundle: &Path, url: &str) {
    ok(&warden(&["bundle", "push", bundle.to_str().unwrap(), url, "--plain-http"]));
}

/// The `/metrics` line that starts with `prefix`.
fn metric(w: &Warden, prefix: &str) -> String {
    let text = String::from_utf8(w.get("/metrics").unwrap().body).unwrap();
    text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no `{prefix}` in:\n{text}")).to_owned()
}

fn status(w: &Warden) -> Value {
    w.get("/v1/status").unwrap().json().unwrap()
}

/// Waits (at most `secs`) until `w`'s status satisfies `cond`.
fn wait_until(w: &Warden, secs: u64, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = status(w);
        if cond(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn hello(w: &Warden, ip: &str) -> String {
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/hello",
        "headers": {}}, "source": {"ip": ip}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()["reason"].as_str().unwrap().to_owned()
}

fn replica(root: &Path, name: &str, url: &str, jwks: &Path) -> Warden {
    let config = root.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[reload]\nwatch = false\n\n[bundle]\nurl = {url:?}\nkeys = {:?}\ndir = {:?}\npoll_interval_ms = 300\njitter_ms = 100\ntimeout_ms = 2000\nplain_http = true\n",
            jwks.to_str().unwrap(),
            root.join(format!("{name}-bundle")).to_str().unwrap()
        ),
    )
    .unwrap();
    // `--policies` names nothing: the set is the bundle's.
    Warden::start(&root.join("none"), &["--config", config.to_str().unwrap()]).unwrap()
}

#[test]
fn replicas_serve_the_signed_bundle_of_a_real_registry_and_only_that() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, jwks) = signing_key(root);

    // Two revisions of one set; the revision printed is `warden compile`'s.
    let (v1, v2) = two_sets(root);
    let rev1 = build(&v1, &root.join("v1.bundle"), Some(&key));
    let compiled: Value = serde_json::from_str(&ok(&warden(&["compile", v1.to_str().unwrap()]))).unwrap();
    assert_eq!(compiled["revision"].as_str(), Some(rev1.as_str()));
    let verified =
        ok(&warden(&["bundle", "verify", root.join("v1.bundle").to_str().unwrap(), "--key", jwks.to_str().unwrap()]));
    assert!(verified.contains(&format!("verified: revision {rev1}")), "{verified}");

    let mut registry = RegistryServer::start(&root.join("registry")).unwrap();
    let url = format!("{}:prod", registry.url("warden/demo"));
    push(&root.join("v1.bundle"), &url);
    let a = replica(root, "a", &url, &jwks);
    let b = replica(root, "b", &url, &jwks);
    for w in [&a, &b] {
        let s = wait_until(w, 15, "serving v1", |s| s["revision"] == rev1.as_str());
        assert_eq!(s["source"]["kind"], "bundle");
        assert_eq!(
            s["source"]["bundle"]["signed_by"],
            ok(&warden(&["keys", "public", key.to_str().unwrap()])).parse::<Value>().unwrap()["keys"][0]["kid"]
        );
        assert_eq!(
            (hello(w, "198.51.100.1").as_str(), hello(w, "198.51.100.2").as_str()),
            ("allowed", "no_allow_rule")
        );
    }

    // A new push to the tag: both switch within the poll interval, to one digest.
    let rev2 = build(&v2, &root.join("v2.bundle"), Some(&key));
    assert_ne!(rev1, rev2);
    push(&root.join("v2.bundle"), &url);
    let started = Instant::now();
    let sa = wait_until(&a, 5, "a switching to v2", |s| s["revision"] == rev2.as_str());
    let sb = wait_until(&b, 5, "b switching to v2", |s| s["revision"] == rev2.as_str());
    eprintln!("both replicas switched in {:?}", started.elapsed());
    assert_eq!(sa["source"]["bundle"]["digest"], sb["source"]["bundle"]["digest"]);
    assert_eq!(hello(&a, "198.51.100.2"), "allowed");

    // Unsigned, then signed by another key: refused, v2 stays, the status says why.
    let v3 = root.join("v3");
    set(&v3, "203.0.113.66");
    build(&v3, &root.join("v3-unsigned.bundle"), None);
    push(&root.join("v3-unsigned.bundle"), &url);
    let s = wait_until(&a, 5, "the unsigned bundle refused", |s| {
        s["source"]["bundle"]["last_error"].as_str().is_some_and(|e| e.contains("not signed"))
    });
    assert_eq!(s["revision"], rev2.as_str());
    let other = root.join("other.pem");
    ok(&warden(&["keys", "generate", other.to_str().unwrap()]));
    build(&v3, &root.join("v3-other.bundle"), Some(&other));
    push(&root.join("v3-other.bundle"), &url);
    for w in [&a, &b] {
        let s = wait_until(w, 5, "the foreign bundle refused", |s| {
            s["source"]["bundle"]["last_error"].as_str().is_some_and(|e| e.contains("signature does not verify"))
        });
        assert_eq!(s["revision"], rev2.as_str());
        assert_eq!(hello(w, "203.0.113.66"), "no_allow_rule");
    }

    // The registry down: the set in service stays, the status says so.
    registry.stop();
    let s = wait_until(&b, 5, "the registry down", |s| {
        s["source"]["bundle"]["last_error"].as_str().is_some_and(|e| !e.contains("signature"))
    });
    assert_eq!(s["revision"], rev2.as_str());
    assert!(metric(&b, "warden_bundle_error ").ends_with(" 1"), "the failure shows in /metrics");
    assert_eq!(hello(&b, "198.51.100.2"), "allowed");
    // A replica restarted meanwhile serves the bundle it kept.
    drop(a);
    let a = replica(root, "a", &url, &jwks);
    let s = wait_until(&a, 10, "a serving its kept bundle", |s| s["revision"] == rev2.as_str());
    assert!(s["source"]["bundle"]["last_error"].is_string(), "the registry is still down: {s}");
    assert_eq!(hello(&a, "198.51.100.2"), "allowed");

    // The registry back, a good bundle pushed: both take it.
    registry.restart().unwrap();
    push(&root.join("v1.bundle"), &url);
    for w in [&a, &b] {
        let s = wait_until(w, 10, "back to v1", |s| s["revision"] == rev1.as_str());
        assert!(s["source"]["bundle"]["last_error"].is_null(), "{s}");
        assert!(metric(w, "warden_bundle_error ").ends_with(" 0"));
        let activated: u64 =
            metric(w, "warden_bundle_activated_timestamp_seconds ").rsplit(' ').next().unwrap().parse().unwrap();
        assert_eq!(activated, s["source"]["bundle"]["activated_at_ms"].as_u64().unwrap() / 1_000);
        let http = s["listeners"].as_array().unwrap().iter().find(|l| l["name"] == "http").cloned().unwrap();
        assert_eq!((http["addr"].as_str(), http["tls"].as_bool()), (Some(w.http.to_string().as_str()), Some(false)));
    }
}

/// A bundle file server on loopback: serves the bytes in `file` with an
/// `ETag` of their digest and answers `If-None-Match` with 304; counts both.
fn file_server(
    file: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> (u16, std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>) {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts = std::sync::Arc::new([std::sync::atomic::AtomicUsize::new(0), std::sync::atomic::AtomicUsize::new(0)]);
    let c = counts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut if_none_match = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("if-none-match:") {
                    if_none_match = Some(v.trim().to_owned());
                }
            }
            let bytes = file.lock().unwrap().clone();
            let etag = format!("\"{}\"", warden_server::bundle::sha256_hex(&bytes));
            if if_none_match.as_deref() == Some(etag.as_str()) {
                c[1].fetch_add(1, Ordering::SeqCst);
                let _ = stream.write_all(
                    format!("HTTP/1.1 304 Not Modified\r\netag: {etag}\r\nconnection: close\r\n\r\n").as_bytes(),
                );
                continue;
            }
            c[0].fetch_add(1, Ordering::SeqCst);
            let head = format!(
                "HTTP/1.1 200 OK\r\netag: {etag}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&bytes));
        }
    });
    (port, counts)
}

#[test]
fn a_bundle_file_over_http_is_fetched_only_when_it_changed() {
    use std::sync::atomic::Ordering;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let (key, jwks) = signing_key(root);
    let (v1, v2) = two_sets(root);
    let rev1 = build(&v1, &root.join("v1.bundle"), Some(&key));
    let rev2 = build(&v2, &root.join("v2.bundle"), Some(&key));
    let served = std::sync::Arc::new(std::sync::Mutex::new(std::fs::read(root.join("v1.bundle")).unwrap()));
    let (port, counts) = file_server(served.clone());
    let w = replica(root, "f", &format!("http://127.0.0.1:{port}/bank.bundle"), &jwks);
    wait_until(&w, 10, "serving v1", |s| s["revision"] == rev1.as_str());
    // Unchanged: conditional requests answered 304, nothing downloaded again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while counts[1].load(Ordering::SeqCst) < 3 {
        assert!(Instant::now() < deadline, "no conditional polls");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(counts[0].load(Ordering::SeqCst), 1, "downloaded once");
    *served.lock().unwrap() = std::fs::read(root.join("v2.bundle")).unwrap();
    wait_until(&w, 10, "serving v2", |s| s["revision"] == rev2.as_str());
    assert_eq!(hello(&w, "198.51.100.2"), "allowed");
}
