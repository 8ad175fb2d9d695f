//! A real OpenID provider for the end-to-end tests: `node tests/idp/provider.mjs
//! PORT` (oidc-provider) on a loopback port, issuing JWT access tokens by the
//! `client_credentials` grant, with a key rotation on demand.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::{free_port, request};

/// The audience (resource) of the provider's access tokens.
pub const AUD: &str = "https://api.example";

/// The provider's folder (`tests/idp`).
pub fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("idp")
}

/// Base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `node tests/idp/provider.mjs PORT`, killed when dropped. Its standard input is
/// a pipe held here: should the test process die without dropping it, the
/// provider sees the pipe close and exits too.
pub struct Provider {
    child: Child,
    _stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl Provider {
    /// Starts the provider on a free loopback port and waits (at most 30 s) for its
    /// discovery document. Panics with what to install when it cannot run.
    pub fn start(log: &Path) -> Provider {
        let dir = idp_dir();
        assert!(
            dir.join("node_modules/oidc-provider/package.json").is_file(),
            "the packages of the test OpenID provider are not installed: run `npm ci` in `{}` \
             (`./test.sh` does; it needs Node.js and npm)",
            dir.display()
        );
        let port = free_port().unwrap();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `node` ({e}): this test runs a real OpenID provider (oidc-provider) \
                     under Node.js; install Node.js 18 or later and npm, and run `npm ci` in `{}`",
                    dir.display()
                )
            });
        let stdin = child.stdin.take();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut provider = Provider { child, _stdin: stdin, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = provider.get("/.well-known/openid-configuration")
                && r["issuer"] == provider.issuer()
            {
                return provider;
            }
            if let Ok(Some(status)) = provider.child.try_wait() {
                panic!("the OpenID provider exited at start ({status}): {}", std::fs::read_to_string(log).unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "the OpenID provider did not answer in 30 s: {}",
                std::fs::read_to_string(log).unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its issuer URL (`http://127.0.0.1:PORT`).
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `GET path` as JSON; an error unless it answers 200.
    pub fn get(&self, path: &str) -> Result<Value, String> {
        let r = request(self.addr, "GET", path, &[], None)?;
        if r.status != 200 {
            return Err(format!("`GET {path}` answered {}", r.status));
        }
        r.json()
    }

    /// An access token (a JWT for [`AUD`]) by the `client_credentials` grant.
    pub fn token(&self) -> String {
        self.grant("warden-test:warden-test-secret", &[])
    }

    /// A certificate-bound access token (RFC 8705) for the client certificate
    /// `cert_pem`, which the client presents (URL-encoded in `x-client-cert`,
    /// as a TLS-terminating proxy passes it).
    pub fn bound_token(&self, cert_pem: &str) -> String {
        let escaped: String =
            percent_encoding::utf8_percent_encode(cert_pem, percent_encoding::NON_ALPHANUMERIC).collect();
        self.grant("bound-test:bound-test-secret", &[("x-client-cert", &escaped)])
    }

    /// A DPoP-bound access token (RFC 9449): the token request carries `proof`,
    /// a DPoP proof for `POST {issuer}/token` by the client's key.
    pub fn dpop_token(&self, proof: &str) -> String {
        self.grant("warden-test:warden-test-secret", &[("dpop", proof)])
    }

    /// An opaque (reference) access token for `https://opaque.example`, which
    /// only introspection can read.
    pub fn opaque_token(&self) -> String {
        self.grant_for("warden-test:warden-test-secret", "https%3A%2F%2Fopaque.example", &[])
    }

    /// Revokes `token` at the provider (RFC 7009), as its client.
    pub fn revoke(&self, token: &str) {
        let basic =
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("warden-test:warden-test-secret"));
        let body = format!("token={token}&token_type_hint=access_token");
        let headers = [("authorization", basic.as_str()), ("content-type", "application/x-www-form-urlencoded")];
        let r = request(self.addr, "POST", "/token/revocation", &headers, Some(body.as_bytes())).unwrap();
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    /// How many introspections the provider answered.
    pub fn introspection_hits(&self) -> u64 {
        self.get("/admin/introspection-hits").unwrap()["hits"].as_u64().unwrap()
    }

    /// A `client_credentials` grant for `client` (`id:secret`) with `headers`.
    fn grant(&self, client: &str, headers: &[(&str, &str)]) -> String {
        self.grant_for(client, "https%3A%2F%2Fapi.example", headers)
    }

    /// A `client_credentials` grant for `client` and `resource` (form-encoded).
    fn grant_for(&self, client: &str, resource: &str, headers: &[(&str, &str)]) -> String {
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(client));
        let body = format!("grant_type=client_credentials&scope=read&resource={resource}");
        let mut all = vec![("authorization", basic.as_str()), ("content-type", "application/x-www-form-urlencoded")];
        all.extend_from_slice(headers);
        let r = request(self.addr, "POST", "/token", &all, Some(body.as_bytes())).unwrap();
        let answer = r.json().unwrap();
        assert_eq!(r.status, 200, "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }

    /// Publishes a new key next to the old one and signs with it from now on;
    /// the new `kid`.
    pub fn rotate(&self) -> String {
        let r = request(self.addr, "POST", "/admin/rotate", &[], None).unwrap();
        r.json().unwrap()["signing"].as_str().unwrap().to_owned()
    }

    /// How many times the key set (`GET /jwks`) was fetched.
    pub fn jwks_hits(&self) -> u64 {
        self.get("/admin/jwks-hits").unwrap()["hits"].as_u64().unwrap()
    }
}

impl Provider {
    /// Stops the provider (as an outage would).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
