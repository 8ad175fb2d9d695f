//! Warden as an issuer, end to end: `warden keys generate` writes the edge's
//! signing keys; the edge `warden serve` publishes them (`/.well-known/jwks.json`,
//! `/.well-known/openid-configuration`); a second `warden serve` trusts the
//! edge through `jwks url` to that document and allows a token signed with the
//! edge's key, refuses one signed with a key the edge does not publish, and
//! accepts the `next` key once the edge publishes it. Bad `[issuer]`
//! settings stop the edge at start-up with the file named.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use warden_e2e::{Probe, Warden, free_port, warden_bin};

/// `warden keys generate FILE` (ES256); its exit status and output.
fn generate(file: &Path) -> (bool, String) {
    warden_e2e::generate_key(file).unwrap()
}

/// A compact ES256 JWS of `claims` with the PKCS#8 PEM key in `file`, as the
/// edge will sign its tokens.
fn sign(file: &Path, kid: &str, claims: &Value) -> String {
    let pem = std::fs::read_to_string(file).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(body).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der).unwrap();
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

fn now_s() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// The edge's config: `[issuer]` on its own HTTP address, with `keys`
/// (`(file, state)`).
fn edge_config(dir: &Path, url: &str, keys: &[(&Path, &str)]) -> std::path::PathBuf {
    let path = dir.join("edge.toml");
    std::fs::write(&path, warden_e2e::issuer_section(url, keys)).unwrap();
    path
}

/// A policy set with nothing to judge (the edge only publishes here).
fn empty_set(dir: &Path) -> std::path::PathBuf {
    let set = dir.join("edge-policies");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        set.join("edge.warden"),
        "zone edge {\n  require tls\n}\n\napi ping in zone edge {\n  auth none\n\n  route GET \"/ping\" {\n    allow\n  }\n}\n",
    )
    .unwrap();
    set
}

/// The internal zone trusts the edge's published keys.
fn internal_set(dir: &Path, edge: &str, jwks_uri: &str) -> std::path::PathBuf {
    let set = dir.join("internal-policies");
    std::fs::create_dir_all(&set).unwrap();
    std::fs::write(
        set.join("internal.warden"),
        format!(
            "zone internal {{\n  issuer \"{edge}\" {{\n    jwks url \"{jwks_uri}\" refresh 1s\n    audience \"https://internal.example\"\n    algorithms ES256\n  }}\n}}\n\napi orders in zone internal {{\n  host \"orders.internal\"\n  auth bearer\n\n  route GET \"/orders\" {{\n    allow\n  }}\n}}\n"
        ),
    )
    .unwrap();
    set
}

#[test]
fn a_downstream_warden_trusts_the_keys_the_edge_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("edge-current.pem");
    let next = dir.path().join("edge-next.pem");
    let foreign = dir.path().join("foreign.pem");
    for key in [&current, &next, &foreign] {
        let (ok, out) = generate(key);
        assert!(ok && out.contains("wrote a new ES256 signing key"), "{out}");
    }
    // A key file is never replaced.
    let before = std::fs::read(&current).unwrap();
    let (ok, out) = generate(&current);
    assert!(!ok && out.contains("exists; a key is never overwritten"), "{out}");
    assert_eq!(std::fs::read(&current).unwrap(), before);

    // The edge publishes its active key only.
    let port = free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let config = edge_config(dir.path(), &url, &[(&current, "active")]);
    let set = empty_set(dir.path());
    let mut edge = Warden::start_on(&set, port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();
    let discovery = edge.get("/.well-known/openid-configuration").unwrap();
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.header("cache-control"), Some("public, max-age=300"));
    let discovery = discovery.json().unwrap();
    let jwks_uri = format!("{url}/.well-known/jwks.json");
    assert_eq!((&discovery["issuer"], &discovery["jwks_uri"]), (&json!(url), &json!(jwks_uri)), "{discovery}");
    let jwks = edge.get("/.well-known/jwks.json").unwrap().json().unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    assert_eq!((&keys[0]["kty"], &keys[0]["crv"], &keys[0]["alg"]), (&json!("EC"), &json!("P-256"), &json!("ES256")));
    assert!(keys[0].get("d").is_none(), "a private member is published: {jwks}");
    let kid = keys[0]["kid"].as_str().unwrap().to_owned();

    // The internal Warden fetches the edge's keys by the published URL.
    let internal = Warden::start(&internal_set(dir.path(), &url, &jwks_uri), &[]).unwrap();
    let claims = |sub: &str| json!({"iss": url, "aud": "https://internal.example", "sub": sub, "iat": now_s(), "exp": now_s() + 60});
    let decide = |token: &str| internal.bearer_check("orders.internal", "/orders", token).unwrap();
    let edge_token = sign(&current, &kid, &claims("alice"));
    assert_eq!(decide(&edge_token), (true, "allowed".to_owned()));
    // Signed by a key the edge does not publish, under the edge's kid or another.
    let forged = sign(&foreign, &kid, &claims("mallory"));
    assert_eq!(decide(&forged), (false, "signature_invalid".to_owned()));
    let unknown = sign(&foreign, "foreign", &claims("mallory"));
    assert_eq!(decide(&unknown), (false, "key_unknown".to_owned()));

    // Rotation: the edge publishes the next key beside the current one (a
    // restart with the new config); the internal Warden learns it on its next
    // refresh and accepts what it signs, while the current key still works.
    edge.stop();
    let config = edge_config(dir.path(), &url, &[(&current, "active"), (&next, "next")]);
    let edge = Warden::start_on(&set, port, &["--config", config.to_str().unwrap()], Probe::Http).unwrap();
    let jwks = edge.get("/.well-known/jwks.json").unwrap().json().unwrap();
    let kids: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["kid"].as_str()).collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    assert_eq!(kids[0], kid);
    let next_token = sign(&next, kids[1], &claims("bob"));
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut got = decide(&next_token);
    while !got.0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        got = decide(&next_token);
    }
    assert_eq!(got, (true, "allowed".to_owned()));
    assert_eq!(decide(&edge_token), (true, "allowed".to_owned()));
}

#[test]
fn without_an_issuer_nothing_is_published_and_bad_keys_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let set = empty_set(dir.path());
    let plain = Warden::start(&set, &[]).unwrap();
    for path in ["/.well-known/jwks.json", "/.well-known/openid-configuration"] {
        let r = plain.get(path).unwrap();
        assert_eq!(r.status, 404, "{path}");
        assert!(r.json().unwrap()["error"].as_str().unwrap().contains("`[issuer]` is not configured"));
    }

    // A missing key file stops start-up, and the error names it.
    let missing = dir.path().join("missing.pem");
    let config = edge_config(dir.path(), "https://edge.example", &[(&missing, "active")]);
    let out = Command::new(warden_bin().unwrap())
        .args(["serve", "--policies"])
        .arg(&set)
        .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cannot read the signing key `{}`", missing.display())), "{stderr}");
}
