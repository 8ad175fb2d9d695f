//! This Warden as a token issuer (`[issuer]`): its signing keys read from PEM
//! files, and what it publishes so others can verify its tokens: the JWKS at
//! `/.well-known/jwks.json` and the discovery document at
//! `/.well-known/openid-configuration`. Also generates keys for
//! `warden keys generate`. A private key never leaves this module: errors name
//! the file, and `Debug` shows the key id and algorithm only.

use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Deserialize;
use serde_json::{Value, json};

/// `[issuer]`: the URL that names this Warden in the tokens it issues, and
/// its signing keys.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` of the tokens this Warden issues, and the base of the URLs it
    /// publishes: `https`, no query or fragment (plain `http` only on loopback).
    pub url: String,
    /// The signing keys: exactly one `active`, any number `next` (published
    /// before they sign) and `retired` (published after they stopped signing).
    pub keys: Vec<KeyConfig>,
}

/// One signing key of `[[issuer.keys]]`.
#[derive(Clone, Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The private key, PEM (PKCS#8). Relative paths are relative to the working directory.
    pub file: PathBuf,
    /// Its algorithm.
    #[serde(default)]
    pub algorithm: Algorithm,
    /// Its key id (`kid`); by default the key's RFC 7638 thumbprint.
    pub kid: Option<String>,
    /// Whether it signs.
    #[serde(default)]
    pub state: KeyState,
}

/// A signing algorithm this Warden issues with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum Algorithm {
    /// ECDSA on P-256 with SHA-256 (the default: small keys and signatures).
    #[default]
    ES256,
    /// Ed25519.
    EdDSA,
    /// RSA PKCS#1 v1.5 with SHA-256 (for verifiers that know nothing else).
    RS256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::RS256 => "RS256",
        }
    }

    /// By its JOSE name.
    pub fn parse(name: &str) -> Option<Algorithm> {
        [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256].into_iter().find(|a| a.as_str() == name)
    }

    fn key_kind(self) -> &'static str {
        match self {
            Algorithm::ES256 => "a P-256 (ES256) private key",
            Algorithm::EdDSA => "an Ed25519 (EdDSA) private key",
            Algorithm::RS256 => "an RSA (RS256) private key of 2048 bits or more",
        }
    }
}

/// What a key does now.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Signs, and is published.
    #[default]
    Active,
    /// Published only, so verifiers know it before it signs.
    Next,
    /// Published only, so tokens it signed still verify until they expire.
    Retired,
}

/// A loaded signing key: its public half as a JWK, and the private half,
/// which only [`SigningKey::pkcs8_der`] hands out (to the signer).
pub struct SigningKey {
    /// Its key id.
    pub kid: String,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// What it does now.
    pub state: KeyState,
    /// The public key as a JWK (with `kid`, `alg` and `use`).
    pub jwk: Value,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// The private key, PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }
}

/// This Warden as an issuer: its URL and keys, checked.
#[derive(Debug)]
pub struct Issuer {
    /// The `iss` it writes, without a trailing `/`.
    pub url: String,
    /// Its keys, in the configured order.
    pub keys: Vec<SigningKey>,
}

impl Issuer {
    /// Reads and checks `[issuer]`: the URL, every key file (a missing file, a
    /// public key, or a key of another algorithm than configured is an error
    /// naming the file), one `active` key, and distinct key ids.
    pub fn load(config: &IssuerConfig) -> Result<Issuer, String> {
        let url = check_url(&config.url)?;
        let keys = config.keys.iter().map(load_key).collect::<Result<Vec<_>, _>>()?;
        let active = keys.iter().filter(|k| k.state == KeyState::Active).count();
        if active != 1 {
            return Err(format!("`[issuer]` needs exactly one key with `state = \"active\"`; it has {active}"));
        }
        for (i, k) in keys.iter().enumerate() {
            if keys.iter().skip(i + 1).any(|o| o.kid == k.kid) {
                return Err(format!("`[issuer]`: two keys have the key id `{}`", k.kid));
            }
        }
        Ok(Issuer { url, keys })
    }

    /// The key that signs.
    pub fn active(&self) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.state == KeyState::Active)
    }

    /// `/.well-known/jwks.json`: every configured key's public half (next and
    /// retired keys included).
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// `/.well-known/openid-configuration`: the issuer and where its keys are,
    /// which is what a JWT library (or another Warden's `jwks url`) needs.
    pub fn discovery(&self) -> Value {
        let mut algs: Vec<&str> = Vec::new();
        for k in &self.keys {
            if !algs.contains(&k.algorithm.as_str()) {
                algs.push(k.algorithm.as_str());
            }
        }
        json!({
            "issuer": self.url,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.url),
            "token_endpoint": format!("{}/oauth/token", self.url),
            "grant_types_supported": [crate::exchange::GRANT],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "tls_client_auth"],
            "id_token_signing_alg_values_supported": algs,
        })
    }
}

/// The issuer URL without a trailing `/`: `https` (or `http` on a loopback
/// host, for tests and sidecars), a host, no query or fragment.
fn check_url(text: &str) -> Result<String, String> {
    let bad = |why: &str| format!("`[issuer] url = \"{text}\"`: {why}");
    let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("it has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("it must be an https URL (http only on a loopback host)")),
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("it may not have a query, a fragment or user information"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

fn load_key(config: &KeyConfig) -> Result<SigningKey, String> {
    let path = &config.file;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the signing key `{}`: {e}", path.display()))?;
    // The file's text is never put in an error: only its path.
    let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(&bytes).map_err(|_| {
        format!(
            "the signing key `{}` holds no PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`); \
             `warden keys generate` writes one",
            path.display()
        )
    })?;
    let der = pkcs8.secret_pkcs8_der().to_vec();
    let wrong = || format!("the signing key `{}` is not {}", path.display(), config.algorithm.key_kind());
    let public = public_jwk(config.algorithm, &der).ok_or_else(wrong)?;
    let kid = match &config.kid {
        Some(kid) if kid.is_empty() || kid.len() > 128 || kid.chars().any(char::is_control) => {
            return Err(format!("the key id of `{}` must be 1 to 128 printable characters", path.display()));
        }
        Some(kid) => kid.clone(),
        None => thumbprint(&public),
    };
    let mut jwk = public;
    if let Value::Object(map) = &mut jwk {
        map.insert("kid".to_owned(), Value::String(kid.clone()));
        map.insert("alg".to_owned(), Value::String(config.algorithm.as_str().to_owned()));
        map.insert("use".to_owned(), Value::String("sig".to_owned()));
    }
    Ok(SigningKey { kid, algorithm: config.algorithm, state: config.state, jwk, pkcs8: der })
}

/// A private key file (PKCS#8 PEM, as `warden keys generate` writes) of any
/// algorithm Warden signs with, its algorithm found from the key itself.
pub fn load_key_file(path: &Path) -> Result<SigningKey, String> {
    let mut last = String::new();
    for algorithm in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let config = KeyConfig { file: path.to_path_buf(), algorithm, kid: None, state: KeyState::Active };
        match load_key(&config) {
            Ok(key) => return Ok(key),
            // Unreadable, or not PKCS#8 at all: no other algorithm will do better.
            Err(e) if !e.contains(" is not ") => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last
        .rsplit_once(" is not ")
        .map_or(last.clone(), |(head, _)| format!("{head} is not an ES256, EdDSA or RS256 key")))
}

/// The key set of `key`'s public half (what verifies its signatures).
pub fn public_jwks(key: &SigningKey) -> Value {
    json!({ "keys": [key.jwk] })
}

/// Verifies a compact JWS (`header.payload.signature`, the payload already
/// base64url) of type `typ` with a key of `jwks` (by `kid`); the `kid` that
/// verified it. Only the algorithms Warden signs with are accepted.
pub fn verify_compact(header: &str, payload: &str, signature: &str, jwks: &Value, typ: &str) -> Result<String, String> {
    let head: Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("an unreadable header")?;
    if head.get("typ").and_then(Value::as_str) != Some(typ) {
        return Err(format!("its `typ` is not `{typ}`"));
    }
    let kid = head.get("kid").and_then(Value::as_str).ok_or("no `kid`")?;
    let jwk = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)))
        .ok_or_else(|| format!("no key `{kid}` in the key set"))?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| format!("key `{kid}` is not a JWK"))?;
    let alg = match head.get("alg").and_then(Value::as_str) {
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        Some("EdDSA") => jsonwebtoken::Algorithm::EdDSA,
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        _ => return Err("an algorithm Warden does not sign with".to_owned()),
    };
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| format!("key `{kid}` cannot verify"))?;
    let message = format!("{header}.{payload}");
    if !jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, alg).unwrap_or(false) {
        return Err(format!("the signature is not key `{kid}`'s"));
    }
    Ok(kid.to_owned())
}

/// The public JWK members of a PKCS#8 private key of `alg` (RFC 7518 §6,
/// RFC 8037 §2), or `None` when it is not such a key.
pub(crate) fn public_jwk(alg: Algorithm, pkcs8: &[u8]) -> Option<Value> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match alg {
        Algorithm::ES256 => {
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8).ok()?;
            // The uncompressed point: 0x04, then x and y of 32 bytes each.
            let point = key.public_key().as_ref();
            let (x, y) = point.get(1..33).zip(point.get(33..65))?;
            Some(json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}))
        }
        Algorithm::EdDSA => {
            let key = Ed25519KeyPair::from_pkcs8(pkcs8).ok()?;
            Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.public_key().as_ref())}))
        }
        Algorithm::RS256 => {
            let key = RsaKeyPair::from_pkcs8(pkcs8).ok()?;
            let public = key.public_key();
            if public.modulus_len() < 256 {
                return None;
            }
            let n = public.modulus();
            let e = public.exponent();
            Some(json!({
                "kty": "RSA",
                "n": b64(n.big_endian_without_leading_zero()),
                "e": b64(e.big_endian_without_leading_zero()),
            }))
        }
    }
}

/// The RFC 7638 thumbprint of a public JWK: SHA-256 of its required members
/// in lexicographic order, without white space, base64url.
fn thumbprint(jwk: &Value) -> String {
    let member = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or("");
    // Serialised by hand, as RFC 7638 §3.2 fixes it (the members hold only
    // base64url text and fixed names, so nothing needs escaping).
    let canonical = match member("kty") {
        "EC" => format!(r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#, member("crv"), member("x"), member("y")),
        "OKP" => format!(r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#, member("crv"), member("x")),
        _ => format!(r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#, member("e"), member("n")),
    };
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()))
}

/// A new private key of `alg`, as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn generate(alg: Algorithm) -> Result<String, String> {
    let failed = |_| format!("could not generate {}", alg.key_kind());
    let der: Vec<u8> = match alg {
        Algorithm::ES256 => {
            let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
            key.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        Algorithm::EdDSA => {
            let key = Ed25519KeyPair::generate().map_err(failed)?;
            key.to_pkcs8v1().map_err(failed)?.as_ref().to_vec()
        }
        Algorithm::RS256 => {
            let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(failed)?;
            key.as_der().map_err(failed)?.as_ref().to_vec()
        }
    };
    let body = STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).map_err(|_| "base64 is ASCII".to_owned())?);
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    Ok(pem)
}

/// Writes a new key of `alg` to `path`, readable by its owner only; refuses
/// to replace an existing file.
pub fn generate_file(alg: Algorithm, path: &Path) -> Result<(), String> {
    use std::io::Write as _;
    let pem = generate(alg)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => format!("`{}` exists; a key is never overwritten", path.display()),
        _ => format!("cannot create `{}`: {e}", path.display()),
    })?;
    file.write_all(pem.as_bytes()).map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};

    use super::*;

    fn key_file(dir: &Path, name: &str, alg: Algorithm) -> PathBuf {
        let path = dir.join(name);
        generate_file(alg, &path).unwrap();
        path
    }

    fn config(url: &str, keys: Vec<KeyConfig>) -> IssuerConfig {
        IssuerConfig { url: url.to_owned(), keys }
    }

    fn key(file: PathBuf, algorithm: Algorithm, state: KeyState) -> KeyConfig {
        KeyConfig { file, algorithm, kid: None, state }
    }

    /// A token signed with each generated key verifies with the JWK the
    /// issuer publishes for it (jsonwebtoken reads the JWK on its own).
    #[test]
    fn published_keys_verify_what_the_private_keys_sign() {
        let dir = tempfile::tempdir().unwrap();
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            let file = key_file(dir.path(), alg.as_str(), alg);
            let pem = std::fs::read(&file).unwrap();
            let issuer =
                Issuer::load(&config("https://edge.example/", vec![key(file, alg, KeyState::Active)])).unwrap();
            let signer = issuer.active().unwrap();
            let jwks = issuer.jwks();
            let published = &jwks["keys"][0];
            assert_eq!((&published["alg"], &published["use"]), (&json!(alg.as_str()), &json!("sig")), "{jwks}");
            assert_eq!(published["kid"], json!(signer.kid));
            // RFC 7638's thumbprint: 43 base64url characters of SHA-256.
            assert_eq!(signer.kid.len(), 43, "{}", signer.kid);
            // Signed from the PEM file as any JWT library would read it.
            let encoding = match alg {
                Algorithm::ES256 => EncodingKey::from_ec_pem(&pem),
                Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
                Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem),
            }
            .unwrap();
            let jose: jsonwebtoken::Algorithm = alg.as_str().parse().unwrap();
            let mut header = Header::new(jose);
            header.kid = Some(signer.kid.clone());
            let claims = json!({"iss": issuer.url, "sub": "u-1", "exp": 4_000_000_000u64});
            let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(published.clone()).unwrap();
            let decoding = DecodingKey::from_jwk(&jwk).unwrap();
            let mut validation = Validation::new(jose);
            validation.set_issuer(&["https://edge.example"]);
            validation.validate_aud = false;
            let data = jsonwebtoken::decode::<Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "u-1");
            let doc = issuer.discovery();
            assert_eq!(doc["issuer"], "https://edge.example");
            assert_eq!(doc["jwks_uri"], "https://edge.example/.well-known/jwks.json");
        }
    }

    /// Each way a key or the URL can be wrong stops start-up with the file
    /// (or setting) named and nothing of the key's text.
    #[test]
    fn bad_keys_and_urls_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let es = key_file(dir.path(), "es.pem", Algorithm::ES256);
        let ed = key_file(dir.path(), "ed.pem", Algorithm::EdDSA);
        let secret = std::fs::read_to_string(&es).unwrap();
        // A public key only (the SubjectPublicKeyInfo of the ES256 key).
        let public = dir.path().join("public.pem");
        let der = std::fs::read(&es).unwrap();
        let pkcs8 = PrivatePkcs8KeyDer::from_pem_slice(&der).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.secret_pkcs8_der()).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        let body = STANDARD.encode(spki.as_ref());
        std::fs::write(&public, format!("-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")).unwrap();
        let missing = dir.path().join("missing.pem");
        let url = "https://edge.example";
        let active = |f: &PathBuf, a| key(f.clone(), a, KeyState::Active);
        let cases: Vec<(IssuerConfig, String)> = vec![
            (
                config(url, vec![active(&missing, Algorithm::ES256)]),
                format!("cannot read the signing key `{}`", missing.display()),
            ),
            (
                config(url, vec![active(&public, Algorithm::ES256)]),
                format!("the signing key `{}` holds no PKCS#8 private key", public.display()),
            ),
            (
                config(url, vec![active(&ed, Algorithm::ES256)]),
                format!("the signing key `{}` is not a P-256 (ES256) private key", ed.display()),
            ),
            (
                config(url, vec![active(&es, Algorithm::RS256)]),
                format!("the signing key `{}` is not an RSA (RS256)", es.display()),
            ),
            (
                config(url, vec![active(&es, Algorithm::ES256), active(&ed, Algorithm::EdDSA)]),
                "exactly one key with `state = \"active\"`; it has 2".to_owned(),
            ),
            (config(url, vec![key(es.clone(), Algorithm::ES256, KeyState::Next)]), "it has 0".to_owned()),
            (
                config(url, vec![active(&es, Algorithm::ES256), key(es.clone(), Algorithm::ES256, KeyState::Retired)]),
                "two keys have the key id".to_owned(),
            ),
            (config("http://edge.example", vec![active(&es, Algorithm::ES256)]), "must be an https URL".to_owned()),
            (
                config("https://edge.example/?x=1", vec![active(&es, Algorithm::ES256)]),
                "may not have a query".to_owned(),
            ),
            (
                config("edge.example", vec![active(&es, Algorithm::ES256)]),
                "`[issuer] url = \"edge.example\"`".to_owned(),
            ),
        ];
        for (config, want) in cases {
            let err = Issuer::load(&config).unwrap_err();
            assert!(err.contains(&want), "{err}\nwanted: {want}");
            assert!(!secret.lines().skip(1).any(|line| err.contains(line)), "{err}");
        }
        // Plain http on loopback is allowed (tests, sidecars).
        let issuer = Issuer::load(&config("http://127.0.0.1:8181", vec![active(&es, Algorithm::ES256)])).unwrap();
        assert_eq!(issuer.url, "http://127.0.0.1:8181");
        // Debug shows the key id, never the key.
        let shown = format!("{issuer:?}");
        assert!(shown.contains(&issuer.keys[0].kid) && !secret.lines().skip(1).any(|l| shown.contains(l)), "{shown}");
    }

    /// `warden keys generate` never replaces a file, and its key is the owner's alone.
    #[test]
    fn generated_key_files_are_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = key_file(dir.path(), "k.pem", Algorithm::ES256);
        let before = std::fs::read(&path).unwrap();
        let err = generate_file(Algorithm::ES256, &path).unwrap_err();
        assert!(err.contains("exists; a key is never overwritten"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // Two keys are two keys, each with its own thumbprint.
        let other = key_file(dir.path(), "k2.pem", Algorithm::ES256);
        let load = |f: &PathBuf| {
            Issuer::load(&config("https://e.example", vec![key(f.clone(), Algorithm::ES256, KeyState::Active)]))
                .unwrap()
        };
        assert_ne!(load(&path).keys[0].kid, load(&other).keys[0].kid);
    }
}
