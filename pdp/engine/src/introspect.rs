//! Opaque tokens (RFC 7662): a token that is not a JWT, in a zone whose issuer
//! has `introspect url …`, is asked of that issuer by an [`Introspector`] the
//! service provides (the engine does no I/O), and the answer is checked as a
//! JWT's claims would be: `active`, `iss`, `aud`, `exp`, `nbf`. The answer's
//! members are then the token's claims (`claim.*`, scopes, `cnf`). With
//! `introspect … always`, the issuer's JWTs are asked about as well.

use std::sync::Arc;

use serde_json::{Map, Value};
use warden_compiler::graph::Issuer;
use warden_language::reason::Reason;

/// Asks an issuer about an opaque token. Runs on the request path: an
/// implementation that does I/O bounds it, caches answers and says
/// `Err` (the reason in words) rather than wait.
pub trait Introspector: Send + Sync {
    /// The answer (RFC 7662 §2.2) of issuer `issuer` (its index in the graph,
    /// whose `introspect` says where and as whom to ask) about `token`.
    fn introspect(&self, issuer: u32, token: &str, now_ms: u64) -> Result<Arc<Map<String, Value>>, String>;
}

/// Whether `token` is not a JWT (compact JWS: three base64url parts).
pub fn is_opaque(token: &str) -> bool {
    token.split('.').count() != 3
}

/// Whether a JWT goes to `introspecting`, an issuer with `introspect … always`:
/// unless its (unverified) `iss` names another issuer of the zone, whose keys
/// then verify it. A JWT that names no issuer is asked about too (and the
/// issuer says whether it knows it).
pub fn asked_of(token: &str, introspecting: &Issuer, zone: &[u32], issuers: &[Issuer]) -> bool {
    use base64::Engine as _;
    if token.len() > crate::jwt::MAX_TOKEN_BYTES {
        return true; // and refused as too large
    }
    let iss = token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned));
    match iss {
        Some(iss) if iss != introspecting.iss => {
            !zone.iter().any(|&i| issuers.get(i as usize).is_some_and(|x| x.iss == iss))
        }
        _ => true,
    }
}

/// Checks an answer for `issuer`: the token is active, was issued by it (when
/// the answer says who), for one of its audiences, and is within its validity.
pub fn check(answer: &Map<String, Value>, issuer: &Issuer, now_ms: u64) -> Result<(), (Reason, String)> {
    if answer.get("active") != Some(&Value::Bool(true)) {
        return Err((Reason::TokenInactive, "the issuer says the token is not active".to_owned()));
    }
    if let Some(iss) = answer.get("iss")
        && iss.as_str() != Some(issuer.iss.as_str())
    {
        return Err((Reason::IssuerUntrusted, "the token was issued by another issuer".to_owned()));
    }
    let audiences: Vec<&str> = match answer.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.iter().any(|a| issuer.audiences.iter().any(|want| want == a)) {
        return Err((Reason::AudienceMismatch, "the token is not for this zone's audience".to_owned()));
    }
    let now = now_ms / 1_000;
    let leeway = issuer.leeway_ms / 1_000;
    match answer.get("exp").and_then(Value::as_u64) {
        // Expired once `exp` plus the leeway is reached, as a JWT is (RFC 7519 4.1.4).
        Some(exp) if exp.saturating_add(leeway) <= now => {
            return Err((Reason::TokenExpired, "the token has expired".to_owned()));
        }
        Some(_) => {}
        None => return Err((Reason::TokenMalformed, "the introspection answer has no `exp`".to_owned())),
    }
    if answer.get("nbf").and_then(Value::as_u64).is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
        return Err((Reason::TokenNotYetValid, "the token is not valid yet".to_owned()));
    }
    Ok(())
}
