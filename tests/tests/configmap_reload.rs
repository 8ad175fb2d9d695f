//! A policy set mounted from a Kubernetes ConfigMap: the kubelet writes each
//! version into a hidden timestamped directory, points `..data` at it, and
//! each file of the set is a link through `..data`; an update writes a new
//! directory and swaps `..data` by renaming a new link over it, then removes
//! the old directory. Built here as the kubelet builds it: `warden serve`
//! watching the mount reloads on the swap and serves the new revision.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_e2e::Warden;

fn policy(greeting_ip: &str) -> String {
    format!(
        "zone edge {{\n  require tls\n}}\n\napi a in zone edge {{\n  host \"api.example\"\n  auth none\n\n  route GET \"/hello\" {{\n    allow when source.ip == \"{greeting_ip}\"\n  }}\n}}\n"
    )
}

/// Writes one version into `..<name>` and points `..data` at it, as the kubelet does.
fn publish(mount: &Path, name: &str, text: &str) {
    let version = mount.join(format!("..{name}"));
    std::fs::create_dir(&version).unwrap();
    std::fs::write(version.join("main.warden"), text).unwrap();
    let tmp = mount.join("..data_tmp");
    symlink(format!("..{name}"), &tmp).unwrap();
    let old = std::fs::read_link(mount.join("..data")).ok();
    std::fs::rename(&tmp, mount.join("..data")).unwrap();
    if let Some(old) = old {
        std::fs::remove_dir_all(mount.join(old)).unwrap();
    }
    if std::fs::symlink_metadata(mount.join("main.warden")).is_err() {
        symlink("..data/main.warden", mount.join("main.warden")).unwrap();
    }
}

fn hello(w: &Warden, ip: &str) -> String {
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/hello",
        "headers": {}}, "source": {"ip": ip}});
    w.post_json("/v1/check", &body).unwrap().json().unwrap()["reason"].as_str().unwrap().to_owned()
}

#[test]
fn a_configmap_update_swapping_its_data_link_is_reloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let mount = tmp.path().join("policies");
    std::fs::create_dir(&mount).unwrap();
    publish(&mount, "2026_12_02_10_00_00.000000001", &policy("198.51.100.1"));
    let w = Warden::start(&mount, &[]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while w.get("/readyz").unwrap().status != 200 {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let first: Value = w.get("/v1/status").unwrap().json().unwrap();
    assert_eq!(hello(&w, "198.51.100.1"), "allowed");

    publish(&mount, "2026_12_02_10_05_00.000000002", &policy("198.51.100.2"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now: Value = w.get("/v1/status").unwrap().json().unwrap();
        if now["revision"] != first["revision"] {
            break;
        }
        assert!(Instant::now() < deadline, "the swap was not reloaded: {now}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!((hello(&w, "198.51.100.2").as_str(), hello(&w, "198.51.100.1").as_str()), ("allowed", "no_allow_rule"));
}
