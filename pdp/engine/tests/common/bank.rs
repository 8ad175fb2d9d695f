//! The bank example policy set (`policies/bank`) compiled with its edge issuer's
//! keys replaced by an RSA key generated for this run, and requests and RS256
//! tokens for it: shared by the allocation test and the decision benchmark.

#![allow(dead_code, reason = "each user takes the parts it needs")]

use std::path::{Path, PathBuf};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use serde_json::json;
use std::sync::Arc;
use warden_compiler::graph::{Graph, KeySource};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};

use warden_engine::eval::Prepared;
use warden_engine::jwt::JwksVerifier;
use warden_engine::limits::Memory;
use warden_engine::run::{Engine, HttpRequest};
use warden_engine::token_cache::CachingVerifier;

/// The instant the requests are made at (ms); tokens are valid from before it
/// until long after (a benchmark may move its clock on by hours).
pub const NOW_MS: u64 = 1_800_000_100_000;

/// Reads a policy set's referenced files from its directory.
pub struct DirLoader(pub PathBuf);

impl Loader for DirLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        std::fs::read(self.0.join(path)).map_err(|e| e.to_string())
    }
}

/// Base64url without padding, as JWTs and JWKs write it.
pub fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "warden") {
            out.push(p);
        }
    }
}

/// The bank graph, every issuer's keys replaced by one RSA-2048 key of this run (kid `bench`).
pub fn bank() -> (Graph, KeyPair) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/bank");
    let mut paths = Vec::new();
    files(&dir, &mut paths);
    paths.sort();
    let set = PolicySet {
        files: paths
            .iter()
            .map(|p| SourceFile::new(p.display().to_string(), std::fs::read_to_string(p).unwrap()))
            .collect(),
    };
    let (mut graph, _) = compile(&set, &DirLoader(dir)).unwrap();
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let public = key.public_key();
    let jwk = json!({"kty": "RSA", "kid": "bench", "alg": "RS256",
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero())});
    for issuer in &mut graph.issuers {
        issuer.keys = Some(KeySource::File { path: "bench".into(), jwks: json!({"keys": [jwk.clone()]}) });
    }
    (graph, key)
}

/// An engine over `graph` as the service builds one: an in-process limiter of
/// `keys` keys and a cache of `tokens` verified tokens in front of the JWKS verifier.
pub fn cached_engine(graph: &Graph, keys: usize, tokens: usize) -> Engine {
    Engine::new(
        Prepared::new(graph.clone()).unwrap(),
        Arc::new(Memory::new(keys)),
        Arc::new(CachingVerifier::new(JwksVerifier::new(graph, &|_| None), tokens)),
    )
}

/// An RS256 access token of the bank's edge issuer for customer 42, `accounts:read`.
pub fn token(key: &KeyPair, sub: &str) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": "bench"});
    let claims = json!({"iss": "https://idp.bank.example", "aud": "https://api.bank.example", "sub": sub,
        "customer_id": "42", "scope": "accounts:read", "client_id": "mobile",
        "iat": 1_800_000_000u64, "exp": 1_900_000_000u64});
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let mut sig = vec![0u8; key.public_modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message.as_bytes(), &mut sig).unwrap();
    format!("{message}.{}", b64(&sig))
}

/// `GET https://api.bank.example{path}` from 198.51.100.7 with `token` as its bearer.
pub fn request(token: &str, path: &str) -> HttpRequest {
    HttpRequest {
        method: "GET".into(),
        scheme: "https".into(),
        host: "api.bank.example".into(),
        target: path.into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        source_ip: "198.51.100.7".parse().ok(),
        now_ms: NOW_MS,
        ..HttpRequest::default()
    }
}
