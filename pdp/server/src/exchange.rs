//! `POST /oauth/token`: token exchange (RFC 8693). A service presents a token
//! of a zone this Warden trusts (`subject_token`), authenticates itself as the
//! `exchange` for the target zone says (`client_secret` over HTTP Basic, or
//! its client certificate), names the target by `audience` or `resource`
//! (RFC 8707); the exchange's rules decide, and its `mint` is the answer: an
//! RFC 8693 §2.2.1 response, or an RFC 6749 §5.2 error. Decision-logged as
//! `door: token_exchange`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use warden_language::reason::Reason;

use crate::caller::Caller;
use crate::decide::Door;
use crate::engine::decision::Decision;
use crate::engine::run::ExchangeRequest;
use crate::http::{CallerOf, Http};
use crate::state::{Judged, now_ms};

/// `grant_type` of a token exchange.
pub const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The token types Warden takes and issues: JWT access tokens.
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Parameters read from one request, at most.
const MAX_PARAMETERS: usize = 32;
/// The longest `audience`, `resource` or `scope` taken.
const MAX_TARGET_BYTES: usize = 2_048;

/// An RFC 6749 §5.2 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (status, axum::Json(json!({"error": error, "error_description": description}))).into_response();
    no_store(r.headers_mut());
    r
}

/// RFC 6749 §5.1: token answers are never cached.
fn no_store(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The form, each parameter once (RFC 6749 §3.2); `Err` says why not
/// (an `invalid_request`).
fn form(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let bad = |why: &str| why.to_owned();
    let media = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = media.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(bad("the request is a form: `content-type: application/x-www-form-urlencoded`"));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        if out.len() == MAX_PARAMETERS {
            return Err(bad("too many parameters"));
        }
        if out.iter().any(|(n, _)| *n == name) {
            return Err(bad(&format!("parameter `{name}` is given twice")));
        }
        out.push((name.into_owned(), value.into_owned()));
    }
    Ok(out)
}

/// `POST /oauth/token`; 404 when this Warden issues no tokens.
pub async fn token(State(h): State<Http>, CallerOf(caller): CallerOf, headers: HeaderMap, body: Bytes) -> Response {
    if h.issuer.is_none() {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "this Warden issues no tokens (`[issuer]` is not configured)",
        );
    }
    let params = match form(&headers, &body) {
        Ok(p) => p,
        Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let bad = |why: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", why);
    match get("grant_type") {
        None => return bad("`grant_type` is required"),
        Some(GRANT) => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("this endpoint exchanges tokens: `grant_type={GRANT}`"),
            );
        }
    }
    let subject = match get("subject_token") {
        Some(t) if !t.is_empty() => t,
        _ => return bad("`subject_token` is required"),
    };
    match get("subject_token_type") {
        Some(ACCESS_TOKEN | JWT) => {}
        None => return bad("`subject_token_type` is required"),
        Some(_) => return bad("`subject_token_type` must be an access token or a JWT"),
    }
    if get("actor_token").is_some() || get("actor_token_type").is_some() {
        return bad("actor tokens are not taken: the calling service authenticates itself");
    }
    if let Some(t) = get("requested_token_type")
        && t != ACCESS_TOKEN
        && t != JWT
    {
        return bad("`requested_token_type` can only be an access token (a JWT)");
    }
    let target = match (get("audience"), get("resource")) {
        (Some(a), Some(r)) if a != r => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_target",
                "`audience` and `resource` name different targets",
            );
        }
        (Some(t), _) | (None, Some(t)) if !t.is_empty() => t,
        _ => return bad("name the token's audience with `audience` or `resource`"),
    };
    if target.len() > MAX_TARGET_BYTES || get("scope").is_some_and(|s| s.len() > MAX_TARGET_BYTES) {
        return bad(&format!("`audience`, `resource` and `scope` are at most {MAX_TARGET_BYTES} bytes"));
    }
    if subject.len() > crate::engine::jwt::MAX_TOKEN_BYTES {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "the subject token is too large");
    }
    let scope = get("scope").map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect());
    let (peer, ip, scheme) = match &caller {
        Caller::Conn { peer, principal, tls } => {
            (principal.clone(), Some(peer.ip()), if *tls { "https" } else { "http" })
        }
        Caller::InProcess => (None, None, "https"),
        Caller::Unknown => (None, None, "http"),
    };
    let api_keys: Vec<(String, String)> = headers
        .iter()
        .filter(|(n, _)| n.as_str() != "authorization" && n.as_str() != "cookie")
        .filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str().to_owned(), v.to_owned())))
        .collect();
    let req = ExchangeRequest {
        audience: target.to_owned(),
        subject_token: subject.to_owned(),
        scope,
        authorization: headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned),
        headers: api_keys,
        scheme: scheme.to_owned(),
        peer,
        source_ip: ip,
        now_ms: now_ms(),
    };
    let Some(loaded) = h.service.current() else {
        return oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "no policy is loaded");
    };
    let start = Instant::now();
    let mut d = loaded.engine.check_exchange(&req);
    let issued = h.service.mint(&mut d);
    let judged = Judged::Exchange { audience: target, grant: "token_exchange" };
    // An exchange carries a subject token and is not replayed: nothing captured.
    h.service.finish(&d, Door::TokenExchange, judged, ip, start, None);
    answer(&d, issued)
}

/// The decision as the token endpoint answers it.
fn answer(d: &Decision, issued: Option<(Arc<str>, u64)>) -> Response {
    let mut r = match (d.allow, issued) {
        (true, Some((token, exp))) => {
            let mut body = json!({
                "access_token": &*token,
                "issued_token_type": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": exp.saturating_sub(now_ms() / 1_000),
            });
            if let Some(scope) = scope_of(&token) {
                body["scope"] = Value::String(scope);
            }
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        _ => {
            let (status, error) = match d.reason {
                Reason::RouteNotFound => (StatusCode::BAD_REQUEST, "invalid_target"),
                Reason::CredentialsMissing
                | Reason::ClientUnknown
                | Reason::SecretInvalid
                | Reason::MtlsRequired
                | Reason::PeerNotAllowed => (StatusCode::UNAUTHORIZED, "invalid_client"),
                Reason::TokenMalformed
                | Reason::SignatureInvalid
                | Reason::TokenExpired
                | Reason::TokenNotYetValid
                | Reason::IssuerUntrusted
                | Reason::AudienceMismatch
                | Reason::AlgorithmNotAllowed
                | Reason::KeyUnknown
                | Reason::InsufficientScope
                | Reason::TokenInactive
                | Reason::TokenNotBound
                | Reason::DpopProofInvalid
                | Reason::MintClaimMissing => (StatusCode::BAD_REQUEST, "invalid_grant"),
                Reason::DeniedByRule | Reason::NoAllowRule => (StatusCode::BAD_REQUEST, "unauthorized_client"),
                Reason::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable"),
                Reason::MintFailed | Reason::IntrospectionUnavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
                }
                _ => (StatusCode::BAD_REQUEST, "invalid_request"),
            };
            let mut r = oauth_error(status, error, &d.detail);
            if status == StatusCode::UNAUTHORIZED {
                r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"warden\""));
            }
            if let Some(v) = d.header("retry-after").and_then(|v| HeaderValue::from_str(v).ok()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    };
    no_store(r.headers_mut());
    if let Ok(id) = HeaderValue::from_str(&d.decision_id) {
        r.headers_mut().insert("x-warden-decision-id", id);
    }
    r
}

/// The `scope` claim of a token this Warden just signed.
fn scope_of(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("scope")?.as_str().map(str::to_owned)
}
