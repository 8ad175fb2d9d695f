//! Client credentials: HTTP Basic client id and secret against a table of SHA-256
//! hashes (compared in constant time), and API keys looked up by their hash.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use warden_language::reason::Reason;

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads `Authorization: Basic base64(id:secret)`. `None` when there is no
/// Basic credential at all; `Err` when it is malformed.
pub fn basic(authorization: Option<&str>) -> Option<Result<(String, String), Reason>> {
    let value = authorization?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok();
    let pair = decoded
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.split_once(':').map(|(id, secret)| (id.to_owned(), secret.to_owned())));
    Some(pair.filter(|(id, _)| !id.is_empty()).ok_or(Reason::TokenMalformed))
}

/// Checks a client id and secret against `table` (client id → SHA-256 hex of
/// the secret). The claims are `client_id` and `sub`. The comparison of the
/// hashes takes the same time whatever the secret.
pub fn client_secret(table: &Value, client: &str, secret: &str) -> Result<Map<String, Value>, Reason> {
    let expected = table.get(client).and_then(Value::as_str).ok_or(Reason::ClientUnknown)?;
    let actual = sha256_hex(secret.as_bytes());
    if !bool::from(actual.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(Reason::SecretInvalid);
    }
    let mut claims = Map::new();
    claims.insert("client_id".to_owned(), Value::String(client.to_owned()));
    claims.insert("sub".to_owned(), Value::String(client.to_owned()));
    Ok(claims)
}

/// Looks an API key up by its SHA-256 hex in `table` (hash → claims object).
/// Keys are found by hash, so the key itself is never compared or stored.
pub fn api_key(table: &Value, key: &str) -> Result<Map<String, Value>, Reason> {
    match table.get(sha256_hex(key.as_bytes())) {
        Some(Value::Object(claims)) => Ok(claims.clone()),
        _ => Err(Reason::ClientUnknown),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn header(id: &str, secret: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
    }

    #[test]
    fn client_secrets_are_checked_by_hash() {
        let table = json!({ "acme": sha256_hex(b"s3cret-for-tests") });
        let (id, secret) = basic(Some(&header("acme", "s3cret-for-tests"))).unwrap().unwrap();
        let claims = client_secret(&table, &id, &secret).unwrap();
        assert_eq!(claims["client_id"], "acme");
        assert_eq!(claims["sub"], "acme");
        assert_eq!(client_secret(&table, "acme", "wrong"), Err(Reason::SecretInvalid));
        assert_eq!(client_secret(&table, "globex", "s3cret-for-tests"), Err(Reason::ClientUnknown));
    }

    #[test]
    fn basic_headers_are_parsed_strictly() {
        assert_eq!(basic(None), None);
        assert_eq!(basic(Some("Bearer abc")), None);
        assert_eq!(basic(Some("Basic !!!")), Some(Err(Reason::TokenMalformed)));
        assert_eq!(
            basic(Some(&format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("no-colon")))),
            Some(Err(Reason::TokenMalformed))
        );
        assert_eq!(basic(Some(&header("", "x"))), Some(Err(Reason::TokenMalformed)));
        // A colon in the secret belongs to the secret.
        assert_eq!(basic(Some(&header("a", "b:c"))), Some(Ok(("a".to_owned(), "b:c".to_owned()))));
    }

    #[test]
    fn api_keys_are_found_by_hash() {
        let table = json!({ sha256_hex(b"key-for-tests"): { "sub": "svc-billing", "roles": ["reader"] } });
        assert_eq!(api_key(&table, "key-for-tests").unwrap()["sub"], "svc-billing");
        assert_eq!(api_key(&table, "other"), Err(Reason::ClientUnknown));
    }
}
