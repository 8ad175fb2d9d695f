//! The playground's throw-away signing keys, made in the browser with pure-Rust
//! crates (p256, rsa): the [`Keys`] of the policy test runner, and the key that
//! signs the tokens of the request panel. Nothing leaves the page.

use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine as _;
use hmac::Mac as _;
use p256::ecdsa::signature::{SignatureEncoding as _, Signer as _};
use rand_core::OsRng;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};
use warden_compiler::graph::Algorithm;
use warden_engine::testing::{Keys, SigningKey};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A key pair of one of the two algorithms tokens are minted with.
enum Pair {
    Es256(p256::ecdsa::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>, rsa::RsaPublicKey),
}

impl Pair {
    fn generate(algorithm: Algorithm) -> Option<Pair> {
        match algorithm {
            Algorithm::ES256 => Some(Pair::Es256(p256::ecdsa::SigningKey::random(&mut OsRng))),
            Algorithm::RS256 => {
                let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).ok()?;
                let public = private.to_public_key();
                Some(Pair::Rs256(Box::new(rsa::pkcs1v15::SigningKey::new(private)), public))
            }
            _ => None,
        }
    }
}

/// A shared key: the same pair answers for every run of a page (an RSA key
/// takes a while to make in a browser).
struct Shared(Rc<Pair>);

impl SigningKey for Shared {
    fn algorithm(&self) -> Algorithm {
        match *self.0 {
            Pair::Es256(_) => Algorithm::ES256,
            Pair::Rs256(..) => Algorithm::RS256,
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match &*self.0 {
            Pair::Es256(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": b64(point.x().map_or(&[][..], |x| x.as_slice())),
                    "y": b64(point.y().map_or(&[][..], |y| y.as_slice()))})
            }
            Pair::Rs256(_, public) => json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())}),
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        match &*self.0 {
            Pair::Es256(k) => {
                let signature: p256::ecdsa::Signature = k.sign(message);
                signature.to_bytes().to_vec()
            }
            Pair::Rs256(k, _) => k.sign(message).to_vec(),
        }
    }
}

thread_local! {
    /// The page's keys, by algorithm, in the order runs asked for them.
    static POOL: RefCell<Vec<(Algorithm, Rc<Pair>)>> = const { RefCell::new(Vec::new()) };
}

/// The keys of one run: the n-th key a run asks for of an algorithm is the
/// page's n-th of that algorithm, made on first use. Within a run every key
/// is distinct (the "wrong key" of a test is not an issuer's).
#[derive(Default)]
pub struct PageKeys {
    taken: RefCell<Vec<Algorithm>>,
}

impl Keys for PageKeys {
    fn generate(&self, algorithm: Algorithm) -> Option<Box<dyn SigningKey>> {
        let nth = self.taken.borrow().iter().filter(|a| **a == algorithm).count();
        let pair = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            if let Some((_, pair)) = pool.iter().filter(|(a, _)| *a == algorithm).nth(nth) {
                return Some(Rc::clone(pair));
            }
            let pair = Rc::new(Pair::generate(algorithm)?);
            pool.push((algorithm, Rc::clone(&pair)));
            Some(pair)
        })?;
        self.taken.borrow_mut().push(algorithm);
        Some(Box::new(Shared(pair)))
    }

    fn hmac_sha256(&self, key: &[u8], message: &[u8]) -> Vec<u8> {
        match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(message);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
}
