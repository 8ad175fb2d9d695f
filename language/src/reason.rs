//! The decision reasons of LANGUAGE.md (`route_not_found` … `allowed`) and their HTTP statuses.
//!
//! They live in the language crate because policies name them (`expect deny 429
//! rate_limited`); the engine uses the same enum in its decisions.

use serde::{Deserialize, Serialize};

macro_rules! reasons {
    ($($variant:ident = $code:literal => $status:literal,)*) => {
        /// Why a decision came out as it did; serialised as the snake_case code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum Reason {
            $(
                #[doc = concat!("`", $code, "` (", stringify!($status), ")")]
                $variant,
            )*
        }

        impl Reason {
            /// Every reason, in decision-table order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)*];

            /// The snake_case code, as written in policies and decisions.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Reason::$variant => $code,)*
                }
            }

            /// The HTTP status a decision with this reason carries.
            pub fn status(self) -> u16 {
                match self {
                    $(Reason::$variant => $status,)*
                }
            }

            /// Parses a snake_case code.
            pub fn parse(code: &str) -> Option<Reason> {
                match code {
                    $($code => Some(Reason::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reasons! {
    RouteNotFound = "route_not_found" => 404,
    MethodNotAllowed = "method_not_allowed" => 405,
    TlsRequired = "tls_required" => 403,
    MtlsRequired = "mtls_required" => 403,
    PeerNotAllowed = "peer_not_allowed" => 403,
    NetworkDenied = "network_denied" => 403,
    RateLimited = "rate_limited" => 429,
    CredentialsMissing = "credentials_missing" => 401,
    TokenMalformed = "token_malformed" => 401,
    SignatureInvalid = "signature_invalid" => 401,
    TokenExpired = "token_expired" => 401,
    TokenNotYetValid = "token_not_yet_valid" => 401,
    IssuerUntrusted = "issuer_untrusted" => 401,
    AudienceMismatch = "audience_mismatch" => 401,
    AlgorithmNotAllowed = "algorithm_not_allowed" => 401,
    KeyUnknown = "key_unknown" => 401,
    ClientUnknown = "client_unknown" => 401,
    SecretInvalid = "secret_invalid" => 401,
    TokenNotBound = "token_not_bound" => 401,
    DpopProofInvalid = "dpop_proof_invalid" => 401,
    TokenInactive = "token_inactive" => 401,
    IntrospectionUnavailable = "introspection_unavailable" => 503,
    InsufficientScope = "insufficient_scope" => 403,
    BodyTooLarge = "body_too_large" => 413,
    UnsupportedMediaType = "unsupported_media_type" => 415,
    BodyInvalid = "body_invalid" => 400,
    DeniedByRule = "denied_by_rule" => 403,
    NoAllowRule = "no_allow_rule" => 403,
    MintClaimMissing = "mint_claim_missing" => 403,
    MintFailed = "mint_failed" => 503,
    Banned = "banned" => 403,
    Allowed = "allowed" => 200,
}

impl Reason {
    /// Whether a decision with this reason may carry `status`: its own, or
    /// for `banned` 429 as well (a ban may say `status 429`).
    pub fn may_have(self, status: u16) -> bool {
        status == self.status() || (self == Reason::Banned && status == 429)
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_serde() {
        for &reason in Reason::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
            let json = serde_json::to_string(&reason).unwrap();
            assert_eq!(json, format!("\"{}\"", reason.as_str()));
        }
        assert_eq!(Reason::parse("nope"), None);
        assert_eq!(Reason::RateLimited.status(), 429);
        assert_eq!(Reason::BodyInvalid.status(), 400);
    }
}
