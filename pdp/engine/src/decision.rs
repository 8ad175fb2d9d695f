//! Decisions: allow or deny, status, reason, detail, deciding rule, revision, id and
//! headers (RFC 6750 `www-authenticate`, `retry-after` and `ratelimit-*`).

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;
use warden_language::reason::Reason;

use super::inline::InlineStr;
use super::limits::Outcome;

/// A decision's id (`{now_ms:012x}-{pid:08x}-{counter:08x}`), held inline.
pub type DecisionId = InlineStr<48>;

/// The revision of a decision no graph has stamped yet: one shared empty
/// string, so that making a decision allocates nothing for it.
static NO_REVISION: std::sync::LazyLock<Arc<str>> = std::sync::LazyLock::new(|| Arc::from(""));

/// The answer to one check, as every front door returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Allowed.
    pub allow: bool,
    /// HTTP status for the caller.
    pub status: u16,
    /// Why (snake_case code).
    pub reason: Reason,
    /// For people; never a secret or a token.
    pub detail: Cow<'static, str>,
    /// The rule that decided, when one did (shared with the graph).
    pub rule: Option<Arc<str>>,
    /// The policy revision that decided (shared with the loaded graph).
    pub revision: Arc<str>,
    /// Unique id for logs.
    pub decision_id: DecisionId,
    /// Headers: upstream headers on allow; challenge or rate-limit headers on deny.
    #[serde(serialize_with = "headers_as_object")]
    pub headers: Vec<(String, String)>,
    /// The claims authentication established, when it ran: for the decision
    /// log's subject and client id only, never sent to the caller.
    #[serde(skip)]
    pub claims: Option<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>,
    /// Upstream headers the policy declares whose value could not be computed
    /// (a missing claim): a gateway must remove the client's own copy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unset_headers: Vec<String>,
    /// On an allow with `mint`: the token to sign for the zone behind. The
    /// engine does no signing; the server signs and sets the header.
    #[serde(skip)]
    pub mint: Option<Box<MintRequest>>,
    /// Bans this denial started (`ban` in the policy): for the decision log
    /// and the metrics, never sent to the caller.
    #[serde(skip)]
    pub bans: Vec<BanStarted>,
}

/// A ban a denial started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BanStarted {
    /// The ban's name.
    pub ban: String,
    /// Its key's values, as text (at most 256 characters).
    pub key: String,
    /// It ends then (Unix ms).
    pub until_ms: u64,
    /// Which offence of this key it is (1 for the first).
    pub offences: u32,
    /// An `alert` rule's detection: said, not enforced.
    pub detection: bool,
}

/// A token the policy mints, computed and checked by the engine: everything
/// but what the signer adds (`iat`, `exp`, `jti`, the key).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MintRequest {
    /// The zone it is for.
    pub zone: String,
    /// `iss`: the target zone's issuer, which must be the signer's own URL.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Every other claim: `sub`, `client_id`, `scope` (when any), `act`
    /// (when a peer called), and the policy's own, in that order.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Seconds from `iat` to `exp`.
    pub lifetime_s: u64,
    /// The incoming token's `exp` (Unix seconds), when it had one: a minted
    /// token never outlives the token it was minted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
    /// The header that carries it bare; `None`: `authorization: Bearer …`.
    pub header: Option<String>,
}

impl MintRequest {
    /// The header the token goes in, and its value for `token`.
    pub fn header_for(&self, token: &str) -> (String, String) {
        match &self.header {
            Some(name) => (name.clone(), token.to_owned()),
            None => ("authorization".to_owned(), format!("Bearer {token}")),
        }
    }
}

/// Headers serialise as one JSON object, as SERVICE.md shows them.
fn headers_as_object<S: serde::Serializer>(headers: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(headers.len()))?;
    for (name, value) in headers {
        map.serialize_entry(name, value)?;
    }
    map.end()
}

impl Decision {
    /// A denial (or the 200 of an allow) with `reason`'s status.
    pub fn new(reason: Reason, detail: impl Into<Cow<'static, str>>, rule: Option<Arc<str>>) -> Decision {
        Decision {
            allow: reason == Reason::Allowed,
            status: reason.status(),
            reason,
            detail: detail.into(),
            rule,
            revision: NO_REVISION.clone(),
            decision_id: DecisionId::new(),
            headers: Vec::new(),
            claims: None,
            unset_headers: Vec::new(),
            mint: None,
            bans: Vec::new(),
        }
    }

    /// Adds the headers a denial of this reason carries: an RFC 6750 challenge
    /// on 401, the missing scope on `insufficient_scope`.
    pub fn with_challenge(mut self, realm: &str, scope: Option<&str>) -> Decision {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        let value = match self.reason {
            Reason::CredentialsMissing => Some(format!("Bearer realm=\"{}\"", escape(realm))),
            // RFC 9449 §7.1: the DPoP scheme's challenge, with the algorithms a proof may use.
            Reason::DpopProofInvalid => Some(format!(
                "DPoP realm=\"{}\", error=\"invalid_dpop_proof\", algs=\"{}\"",
                escape(realm),
                super::dpop::ALGORITHMS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" ")
            )),
            // A token bound to a key or certificate that the request does
            // not prove: the client may hold either kind, so both schemes
            // are offered (RFC 9449 §7.2), in one field (RFC 9110 §11.6.1).
            Reason::TokenNotBound => Some(format!(
                "DPoP realm=\"{0}\", error=\"invalid_token\", error_description=\"token_not_bound\", algs=\"{1}\", \
                 Bearer realm=\"{0}\", error=\"invalid_token\", error_description=\"token_not_bound\"",
                escape(realm),
                super::dpop::ALGORITHMS.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(" ")
            )),
            r if r.status() == 401 => Some(format!(
                "Bearer realm=\"{}\", error=\"invalid_token\", error_description=\"{}\"",
                escape(realm),
                r.as_str()
            )),
            Reason::InsufficientScope => Some(format!(
                "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
                escape(realm),
                escape(scope.unwrap_or(""))
            )),
            _ => None,
        };
        if let Some(v) = value {
            self.headers.push(("www-authenticate".to_owned(), v));
        }
        self
    }

    /// Adds the HTTP Basic challenge (RFC 7617) to a 401: the answer to a
    /// client that must authenticate with its id and secret.
    pub fn with_basic_challenge(mut self, realm: &str) -> Decision {
        if self.status == 401 {
            let realm = realm.replace('\\', "\\\\").replace('"', "\\\"");
            self.headers.push(("www-authenticate".to_owned(), format!("Basic realm=\"{realm}\", charset=\"UTF-8\"")));
        }
        self
    }

    /// Adds `ratelimit-*` headers, and `retry-after` when the limit denied.
    pub fn with_rate_limit(mut self, o: &Outcome) -> Decision {
        let secs = |ms: u64| ms.div_ceil(1_000).to_string();
        if !o.allowed {
            // At least one second: `retry-after: 0` invites an immediate retry.
            self.headers.push(("retry-after".to_owned(), o.retry_after_ms.div_ceil(1_000).max(1).to_string()));
        }
        self.headers.push(("ratelimit-limit".to_owned(), o.limit.to_string()));
        self.headers.push(("ratelimit-remaining".to_owned(), o.remaining.to_string()));
        self.headers.push(("ratelimit-reset".to_owned(), secs(o.reset_ms)));
        self
    }

    /// Adds `retry-after` alone (a limit that could not be checked and denies).
    pub fn with_retry_after(mut self, ms: u64) -> Decision {
        self.headers.push(("retry-after".to_owned(), ms.div_ceil(1_000).max(1).to_string()));
        self
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_challenges_follow_the_reason() {
        let d = Decision::new(Reason::TokenExpired, "the token expired", None).with_challenge("api", None);
        assert_eq!((d.allow, d.status), (false, 401));
        assert_eq!(
            d.header("WWW-Authenticate"),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token_expired\"")
        );
        let d = Decision::new(Reason::CredentialsMissing, "no credentials", None).with_challenge("api", None);
        assert_eq!(d.header("www-authenticate"), Some("Bearer realm=\"api\""));
        let d = Decision::new(Reason::InsufficientScope, "", Some("a.GET /x".into()))
            .with_challenge("api", Some("accounts:read"));
        assert_eq!(
            (d.status, d.header("www-authenticate")),
            (403, Some("Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"accounts:read\""))
        );
        let d = Decision::new(Reason::Allowed, "", None).with_challenge("api", None);
        assert_eq!(d.header("www-authenticate"), None);
        let d = Decision::new(Reason::SecretInvalid, "", None).with_basic_challenge("partners \"x\"");
        assert_eq!(d.header("www-authenticate"), Some("Basic realm=\"partners \\\"x\\\"\", charset=\"UTF-8\""));
        let d = Decision::new(Reason::Allowed, "", None).with_basic_challenge("api");
        assert!(d.allow && d.status == 200 && d.headers.is_empty());
        // A bound token the request does not prove: both schemes are offered.
        let d = Decision::new(Reason::TokenNotBound, "", None).with_challenge("api", None);
        assert_eq!(
            (d.status, d.header("www-authenticate")),
            (
                401,
                Some(
                    "DPoP realm=\"api\", error=\"invalid_token\", error_description=\"token_not_bound\", \
                     algs=\"ES256 ES384 EdDSA RS256 RS384 RS512 PS256 PS384 PS512\", \
                     Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token_not_bound\""
                )
            )
        );
    }

    #[test]
    fn rate_limit_headers_round_up_to_seconds() {
        let o = Outcome { allowed: false, limit: 5, remaining: 0, reset_ms: 59_001, retry_after_ms: 11_200 };
        let d = Decision::new(Reason::RateLimited, "", None).with_rate_limit(&o);
        assert_eq!(d.status, 429);
        assert_eq!(d.header("retry-after"), Some("12"));
        assert_eq!(d.header("ratelimit-limit"), Some("5"));
        assert_eq!(d.header("ratelimit-remaining"), Some("0"));
        assert_eq!(d.header("ratelimit-reset"), Some("60"));
    }

    #[test]
    fn decisions_serialise_with_snake_case_reasons() {
        let d = Decision::new(Reason::NoAllowRule, "no allow rule holds", Some("a.GET /x".into()));
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["reason"], "no_allow_rule");
        assert_eq!(json["headers"], serde_json::json!({}));
        assert_eq!(json["status"], 403);
    }
}
