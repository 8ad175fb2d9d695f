//! The keys of a policy test run or a replay, made with aws-lc-rs: the
//! [`Keys`] of `warden_engine::testing` for the `warden` binary.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use serde_json::{Value, json};
use warden_compiler::graph::Algorithm;
use warden_engine::testing::{Keys, SigningKey};

/// Keys made fresh with aws-lc-rs for each run.
pub struct AwsLcKeys;

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl SigningKey for Pair {
    fn algorithm(&self) -> Algorithm {
        match self {
            Pair::Rsa(_) => Algorithm::RS256,
            Pair::Ec(_) => Algorithm::ES256,
        }
    }

    fn jwk(&self, kid: &str) -> Value {
        match self {
            Pair::Rsa(k) => {
                let public = k.public_key();
                json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero())})
            }
            Pair::Ec(k) => {
                let point = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                    "x": b64(point.get(1..33).unwrap_or(&[])), "y": b64(point.get(33..65).unwrap_or(&[]))})
            }
        }
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Pair::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig).map(|()| sig).unwrap_or_default()
            }
            Pair::Ec(k) => k.sign(&rng, message).map(|s| s.as_ref().to_vec()).unwrap_or_default(),
        }
    }
}

impl Keys for AwsLcKeys {
    fn generate(&self, algorithm: Algorithm) -> Option<Box<dyn SigningKey>> {
        let pair = match algorithm {
            Algorithm::RS256 => Pair::Rsa(RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).ok()?),
            Algorithm::ES256 => Pair::Ec(EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).ok()?),
            _ => return None,
        };
        Some(Box::new(pair))
    }

    fn hmac_sha256(&self, key: &[u8], message: &[u8]) -> Vec<u8> {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
    }
}
