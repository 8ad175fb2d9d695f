//! Certificates rotated in place, as cert-manager rotates a Kubernetes
//! secret mounted as a volume (both files swapped at once through the
//! `..data` link): new handshakes get the new certificate within the check
//! interval, no request of a steady stream fails meanwhile, and files that
//! do not load leave the last good certificate serving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use warden_e2e::pki::{client_trusting, https_request, server_chain};
use warden_e2e::{Probe, Warden};

/// Writes a certificate and key into `..NAME` and swaps `..data` to it, as the kubelet does.
fn publish(mount: &Path, name: &str, cert: &str, key: &str) {
    let version = mount.join(format!("..{name}"));
    std::fs::create_dir(&version).unwrap();
    std::fs::write(version.join("tls.crt"), cert).unwrap();
    std::fs::write(version.join("tls.key"), key).unwrap();
    let tmp = mount.join("..data_tmp");
    symlink(format!("..{name}"), &tmp).unwrap();
    std::fs::rename(&tmp, mount.join("..data")).unwrap();
    for file in ["tls.crt", "tls.key"] {
        if std::fs::symlink_metadata(mount.join(file)).is_err() {
            symlink(format!("..data/{file}"), mount.join(file)).unwrap();
        }
    }
}

#[test]
fn a_rotated_certificate_is_served_without_a_restart_or_a_failed_request() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("tls");
    std::fs::create_dir(&mount).unwrap();
    let (ca1, cert1, key1) = server_chain("first CA").unwrap();
    let (ca2, cert2, key2) = server_chain("second CA").unwrap();
    publish(&mount, "1", &cert1, &key1);
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[reload]\ntls_check_ms = 100\n\n[http.tls]\ncert = {:?}\nkey = {:?}\n",
            mount.join("tls.crt").to_str().unwrap(),
            mount.join("tls.key").to_str().unwrap()
        ),
    )
    .unwrap();
    let policies = warden_e2e::policies().join("bank");
    let w = Warden::start_with(&policies, &["--config", config.to_str().unwrap()], Probe::Tcp).unwrap();
    let addr = w.http;
    let only = |ca: &str| https_request(client_trusting(&[ca]).unwrap(), addr, "GET", "/healthz", None);
    assert_eq!(only(&ca1).unwrap().status, 200);
    assert!(only(&ca2).is_err(), "the second certificate is not served yet");

    // A steady stream of new connections (a client trusting both CAs), bounded in time.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let both = client_trusting(&[&ca1, &ca2]).unwrap();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                match https_request(both.clone(), addr, "GET", "/healthz", None) {
                    Ok(r) if r.status == 200 => ok.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    publish(&mount, "2", &cert2, &key2);
    let deadline = Instant::now() + Duration::from_secs(10);
    while only(&ca2).is_err() {
        assert!(Instant::now() < deadline, "the rotated certificate is not served");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert_eq!(failed, 0, "{failed} of {} requests failed during the rotation", ok + failed);
    assert!(ok > 20, "too few requests to say anything: {ok}");
    eprintln!("{ok} requests over new connections during the rotation, none failed");
    assert!(only(&ca1).is_err(), "the old certificate is still served");

    // Files that do not load: the last good certificate stays.
    publish(&mount, "3", "not a certificate", "not a key");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(only(&ca2).unwrap().status, 200);
}
