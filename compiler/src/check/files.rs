//! Referenced files, read through the [`Loader`](crate::Loader) once each and
//! shape-checked: data documents, JWKS, HMAC secrets, client and API key tables.

use warden_language::Diagnostic;
use warden_language::ast::Str;

use super::Checker;
use crate::codes;

impl Checker<'_> {
    /// Reads a referenced JSON file once and checks its shape.
    pub(super) fn json_file(
        &mut self,
        path: &Str,
        what: &'static str,
        shape: impl Fn(&serde_json::Value) -> Result<(), String>,
    ) {
        if !self.loaded.insert((path.value.clone(), what)) {
            return;
        }
        let problem = match self.loader.read(&path.value) {
            Err(reason) => Some((format!("cannot read {what} file `{}`: {reason}", path.value), true)),
            Ok(bytes) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Err(err) => Some((format!("{what} file `{}` is not valid JSON: {err}", path.value), false)),
                Ok(value) => shape(&value).err().map(|why| (format!("{what} file `{}` {why}", path.value), false)),
            },
        };
        if let Some((message, unreadable)) = problem {
            let mut diag = Diagnostic::error(codes::BAD_FILE, path.span, message).with_label("referenced here");
            if unreadable {
                diag = diag.with_help("paths are relative to the policy set's root directory");
            }
            self.push(diag);
        }
    }

    /// A `jwks file`: a non-empty `keys` array of public, asymmetric keys.
    pub(super) fn jwks_file(&mut self, path: &Str) {
        self.json_file(path, "JWKS", |v| match v.get("keys") {
            Some(serde_json::Value::Array(keys)) if !keys.is_empty() => {
                // The key set is copied into the graph for every gateway:
                // it must hold public keys only.
                const PRIVATE: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "k", "oth"];
                for key in keys {
                    if let Some(member) = PRIVATE.iter().find(|m| key.get(**m).is_some()) {
                        return Err(format!("holds private key material (`{member}`); publish public keys only"));
                    }
                    if key.get("kty").and_then(|k| k.as_str()) == Some("oct") {
                        return Err("holds a symmetric (`oct`) key; use `secret file` for HS* secrets".to_owned());
                    }
                }
                Ok(())
            }
            _ => Err("has no `keys` array with at least one key".to_owned()),
        });
    }

    /// A `secret file`: readable and not empty (its bytes are the secret, not JSON).
    pub(super) fn secret_file(&mut self, path: &Str) {
        if !self.loaded.insert((path.value.clone(), "secret")) {
            return;
        }
        match self.loader.read(&path.value) {
            Ok(bytes) if !bytes.is_empty() => {}
            Ok(_) => self.push(Diagnostic::error(
                codes::BAD_FILE,
                path.span,
                format!("secret file `{}` is empty", path.value),
            )),
            Err(reason) => self.push(
                Diagnostic::error(
                    codes::BAD_FILE,
                    path.span,
                    format!("cannot read secret file `{}`: {reason}", path.value),
                )
                .with_help("paths are relative to the policy set's root directory"),
            ),
        }
    }

    /// The client table of `auth client_secret`: client id → SHA-256 hex of its secret.
    pub(super) fn client_file(&mut self, path: &Str) {
        self.json_file(path, "client", |v| match v.as_object() {
            Some(map) if map.values().all(|h| h.as_str().is_some_and(is_sha256_hex)) => Ok(()),
            Some(_) => Err("must map each client id to the SHA-256 hex of its secret".to_owned()),
            None => Err("must be a JSON object".to_owned()),
        });
    }

    /// The key table of `auth api_key`: SHA-256 hex of each key → its claims.
    pub(super) fn api_key_file(&mut self, path: &Str) {
        self.json_file(path, "API key", |v| match v.as_object() {
            Some(map) if map.iter().all(|(k, c)| is_sha256_hex(k) && c.is_object()) => Ok(()),
            Some(_) => Err("must map the SHA-256 hex of each key to an object of claims".to_owned()),
            None => Err("must be a JSON object".to_owned()),
        });
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}
