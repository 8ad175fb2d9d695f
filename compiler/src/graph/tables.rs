//! The graph's tables of declarations: zones, issuers and where their keys
//! and secrets come from, rate limits, body schemas, data documents and
//! credential tables. Endpoints and expressions refer to them by index.

use serde::{Deserialize, Serialize};

use super::{Algorithm, BackendErrorPolicy, ExprId, Format, Origin};

/// A trust zone's transport requirements and issuers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Zone name.
    pub name: String,
    /// `require tls`.
    pub require_tls: bool,
    /// `require mtls [peer …]`: `Some` (possibly empty: any peer) when required.
    pub mtls_peers: Option<Vec<String>>,
    /// `network …` ranges; empty means any source.
    pub networks: Vec<String>,
    /// Trusted issuers.
    pub issuers: Vec<u32>,
    /// `require bound`: bearer tokens must carry an RFC 8705 binding.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_bound: bool,
    /// The declaration.
    pub origin: Origin,
}

/// One trusted token issuer within one zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issuer {
    /// Zone index.
    pub zone: u32,
    /// The `iss` value.
    pub iss: String,
    /// Where keys come from.
    pub keys: Option<KeySource>,
    /// Shared secret source (HS* only).
    pub secret: Option<SecretSource>,
    /// Accepted audiences.
    pub audiences: Vec<String>,
    /// Algorithm allowlist.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew allowance in milliseconds.
    pub leeway_ms: u64,
    /// Claim that holds scopes.
    pub scopes_claim: String,
    /// RFC 7662 introspection of opaque tokens, when configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspect: Option<Introspect>,
    /// The declaration.
    pub origin: Origin,
}

/// `introspect url … client … secret …`: where and as whom opaque tokens are
/// asked about. The secret itself never enters the graph: only where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introspect {
    /// The introspection endpoint.
    pub url: String,
    /// Warden's client id there.
    pub client: String,
    /// Where its secret is.
    pub secret: SecretSource,
    /// How long an active answer is kept at most, in milliseconds.
    pub cache_ms: u64,
    /// The issuer's JWTs are asked about too, not only opaque tokens.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub always: bool,
    /// Answers must be JWTs the issuer signed (RFC 9701), for Warden's client id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed: bool,
    /// While the endpoint is down, a kept active answer serves for this many
    /// milliseconds past its `cache`, never past the token's `exp`; 0: such a
    /// request is `introspection_unavailable`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stale_ms: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A JWKS source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// A file of the policy set, with its content at compile time.
    File {
        /// Path relative to the policy set.
        path: String,
        /// The key set.
        jwks: serde_json::Value,
    },
    /// Fetched over HTTP(S) and refreshed.
    Url {
        /// The JWKS URL.
        url: String,
        /// Refresh period in milliseconds.
        refresh_ms: u64,
    },
}

/// Where an HMAC secret comes from (never its value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretSource {
    /// A file of the policy set.
    File(String),
    /// An environment variable of the service.
    Env(String),
}

/// A rate limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limit {
    /// Limit name.
    pub name: String,
    /// N per period.
    pub count: u64,
    /// Period in milliseconds.
    pub period_ms: u64,
    /// Burst (N when not written).
    pub burst: u64,
    /// Key expressions.
    pub keys: Vec<ExprId>,
    /// A key that is `source.ip` holds an IPv6 address's first this many bits
    /// (0 to 128); IPv4 addresses are keyed whole. Absent from graphs written
    /// before the setting existed, which mean the default.
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
    /// Pre-auth (keys read only the request) or post-auth.
    pub stage: LimitStage,
    /// What to do when a shared backend is unreachable.
    pub on_backend_error: BackendErrorPolicy,
    /// The digest of the definition that rate-limit state is counted under
    /// ([`crate::fingerprint::limit`]); empty in graphs written before it was
    /// stored, for which the engine computes it.
    #[serde(default)]
    pub fingerprint: String,
    /// The declaration.
    pub origin: Origin,
}

/// A ban: denials counted per key, and a key refused for a while once they
/// cross the threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ban {
    /// Ban name.
    pub name: String,
    /// Denials within the period that start a ban.
    pub count: u64,
    /// The period, in milliseconds.
    pub period_ms: u64,
    /// Key expressions.
    pub keys: Vec<ExprId>,
    /// As a limit's.
    pub ipv6_prefix: u8,
    /// When the key can be computed: before authentication, or after.
    pub stage: LimitStage,
    /// A key reads the body: the ban is checked once the body is read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_body: bool,
    /// `distinct EXPR`: what it counts distinct values of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<ExprId>,
    /// The statuses that count (none, and no reasons: every answer counts).
    pub statuses: Vec<u16>,
    /// The reasons that count.
    pub reasons: Vec<String>,
    /// How long a first ban lasts, in milliseconds.
    pub length_ms: u64,
    /// Repeat offences double the length up to this, in milliseconds.
    pub max_ms: u64,
    /// The status of a banned request (403 or 429).
    pub status: u16,
    /// `alert`: the threshold is only said (once per period and key), never enforced.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub alert_only: bool,
    /// Addresses never banned (CIDR ranges).
    pub except: Vec<String>,
    /// What to do when a shared backend is unreachable.
    pub on_backend_error: BackendErrorPolicy,
    /// The digest of the definition bans and counts are kept under.
    #[serde(default)]
    pub fingerprint: String,
    /// The declaration.
    pub origin: Origin,
}

/// The IPv6 prefix a `source.ip` limit key keeps when the limit does not say:
/// a /64, what one subscriber is usually given.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

fn default_ipv6_prefix() -> u8 {
    DEFAULT_IPV6_PREFIX
}

/// When a limit is counted (LANGUAGE.md steps 3 and 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitStage {
    /// Before authentication: keys use only source, header, path, query, request.
    PreAuth,
    /// After scopes: keys use the identity.
    PostAuth,
}

/// A body schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schema {
    /// Schema name.
    pub name: String,
    /// Accepts undeclared fields.
    pub open: bool,
    /// Fields in declaration order.
    pub fields: Vec<SchemaField>,
}

/// One field of a schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaField {
    /// Field name.
    pub name: String,
    /// May be absent.
    pub optional: bool,
    /// Type and constraints.
    pub ty: SchemaType,
}

/// A schema type with its constraints folded in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaType {
    /// A string.
    String {
        /// Fewest characters.
        min_len: Option<u64>,
        /// Most characters.
        max_len: Option<u64>,
        /// Index into [`Graph::regexes`](super::Graph::regexes).
        pattern: Option<u32>,
        /// A format to check.
        format: Option<Format>,
    },
    /// A whole number.
    Integer {
        /// Smallest value.
        min: Option<f64>,
        /// Largest value.
        max: Option<f64>,
    },
    /// Any number.
    Number {
        /// Smallest value.
        min: Option<f64>,
        /// Largest value.
        max: Option<f64>,
    },
    /// `true` or `false`.
    Boolean,
    /// Anything.
    Any,
    /// One of these strings.
    Enum(Vec<String>),
    /// A list.
    Array {
        /// Item type.
        items: Box<SchemaType>,
        /// Fewest items.
        min_items: Option<u64>,
        /// Most items.
        max_items: Option<u64>,
    },
    /// Another schema, by index.
    Ref(u32),
}

/// A `data` document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataDoc {
    /// Data name.
    pub name: String,
    /// Path relative to the policy set.
    pub path: String,
    /// The JSON value at compile time.
    pub value: serde_json::Value,
}

/// Credentials checked by `client_secret` and `api_key`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CredentialTable {
    /// Path relative to the policy set.
    pub path: String,
    /// The table's JSON: client id → SHA-256 hex, or key SHA-256 hex → claims.
    pub entries: serde_json::Value,
}
