//! A DPoP client key for the end-to-end tests (RFC 9449): an ES256 key made
//! for the run, its public JWK and thumbprint, and fresh proofs by it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::cell::Cell;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A client's DPoP key.
pub struct DpopKey {
    key: EcdsaKeyPair,
    next: Cell<u32>,
}

impl Default for DpopKey {
    fn default() -> DpopKey {
        DpopKey::new()
    }
}

impl DpopKey {
    /// A new P-256 key.
    pub fn new() -> DpopKey {
        DpopKey { key: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(), next: Cell::new(0) }
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        let point = self.key.public_key().as_ref();
        json!({"kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65])})
    }

    /// Its RFC 7638 thumbprint (what a bound token's `cnf.jkt` is).
    pub fn jkt(&self) -> String {
        let Value::Object(jwk) = self.jwk() else { panic!("a JWK is an object") };
        warden_engine::dpop::thumbprint(&jwk).unwrap()
    }

    /// A fresh proof for `method` `uri`, and for `token` when it goes with one.
    pub fn proof(&self, method: &str, uri: &str, token: Option<&str>) -> String {
        let n = self.next.get();
        self.next.set(n + 1);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let mut claims = json!({"jti": format!("proof-{n}-{now}"), "htm": method, "htu": uri, "iat": now});
        if let Some(t) = token {
            claims["ath"] =
                json!(URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, t.as_bytes())));
        }
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk()});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let sig = self.key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}
