//! Declarations of the AST: zones and their issuers, limits, data, apis with their routes,
//! resources with their actions.

use serde::{Deserialize, Serialize};

use super::{Doc, Duration, Expr, Ident, Spanned, Stmt, Str};
use crate::span::Span;

/// `zone NAME { … }`: a trust zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Zone {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Zone name.
    pub name: Ident,
    /// Issuers and transport requirements, in source order.
    pub items: Vec<Spanned<ZoneItem>>,
    /// The whole declaration.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// What a zone block holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ZoneItem {
    /// `issuer "URL" { … }`
    Issuer(Issuer),
    /// `require tls`
    RequireTls,
    /// `require mtls [peer GLOB, …]`
    RequireMtls {
        /// Globs on the peer principal; empty means any client certificate.
        peers: Vec<Str>,
    },
    /// `require bound`: bearer tokens must be bound to the client's
    /// certificate (RFC 8705 `cnf`).
    RequireBound,
    /// `network CIDR, …`
    Network {
        /// Source address ranges.
        cidrs: Vec<Str>,
    },
}

/// `issuer "URL" { … }`: one token issuer trusted by a zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Issuer {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// The `iss` value.
    pub url: Str,
    /// Settings in source order.
    pub items: Vec<Spanned<IssuerItem>>,
    /// The whole issuer block.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// One setting of an issuer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum IssuerItem {
    /// `jwks file "PATH"`
    JwksFile(Str),
    /// `jwks url "URL" [refresh D]`
    JwksUrl {
        /// Where the key set is fetched.
        url: Str,
        /// How often it is fetched again.
        refresh: Option<Duration>,
    },
    /// `audience "A", …`
    Audience(Vec<Str>),
    /// `algorithms RS256, …`
    Algorithms(Vec<Spanned<Algorithm>>),
    /// `leeway D`
    Leeway(Duration),
    /// `scopes from "CLAIM"`
    ScopesFrom(Str),
    /// `secret file "PATH"` (HS* only)
    SecretFile(Str),
    /// `secret env "VAR"` (HS* only)
    SecretEnv(Str),
    /// `introspect url "URL" client "ID" secret file|env "…" [cache D]
    /// [always] [signed] [on_introspection_error deny|stale]`: opaque tokens
    /// are asked of the issuer (RFC 7662).
    Introspect {
        /// The introspection endpoint.
        url: Str,
        /// Warden's client id there.
        client: Str,
        /// Where its secret is: a file (`true`) or an environment variable.
        secret_in_file: bool,
        /// The file or variable.
        secret: Str,
        /// How long an active answer is kept at most (60 s when not written).
        cache: Option<Duration>,
        /// `always`: the issuer's JWTs are asked about too (so a revoked one is refused).
        always: bool,
        /// `signed`: answers are JWTs the issuer signed (RFC 9701).
        signed: bool,
        /// `on_introspection_error stale`: while the endpoint is down, a kept
        /// active answer serves (`deny` when false)…
        stale: bool,
        /// …for at most this long past its `cache` (5m when not written),
        /// never past the token's `exp`.
        stale_for: Option<Duration>,
    },
}

impl IssuerItem {
    /// The setting's keyword(s), for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            IssuerItem::JwksFile(_) | IssuerItem::JwksUrl { .. } => "jwks",
            IssuerItem::Audience(_) => "audience",
            IssuerItem::Algorithms(_) => "algorithms",
            IssuerItem::Leeway(_) => "leeway",
            IssuerItem::ScopesFrom(_) => "scopes from",
            IssuerItem::SecretFile(_) | IssuerItem::SecretEnv(_) => "secret",
            IssuerItem::Introspect { .. } => "introspect",
        }
    }
}

/// A JWS signature algorithm that Warden can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
    /// HMAC with SHA-256 (shared secret).
    HS256,
    /// HMAC with SHA-384 (shared secret).
    HS384,
    /// HMAC with SHA-512 (shared secret).
    HS512,
}

impl Algorithm {
    /// Every algorithm, in a stable order.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// Parses a JOSE name (exact case).
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.iter().copied().find(|a| a.as_str() == name)
    }

    /// True for the shared-secret (HMAC) algorithms.
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }
}

/// `limit NAME = N per D [burst B] by KEY, … [ipv6_prefix P] [on_backend_error allow|deny]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Limit {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Limit name.
    pub name: Ident,
    /// N: requests per period.
    pub count: Spanned<u64>,
    /// The period.
    pub period: Duration,
    /// Burst (defaults to N).
    pub burst: Option<Spanned<u64>>,
    /// Key expressions; one bucket per distinct key.
    pub keys: Vec<Expr>,
    /// `ipv6_prefix P`: a `source.ip` key holds an IPv6 address's first P bits
    /// (64 when not written, so one client's /64 is one bucket).
    pub ipv6_prefix: Option<Spanned<u64>>,
    /// What to do when a shared backend is unreachable.
    pub on_backend_error: Option<Spanned<BackendErrorPolicy>>,
    /// The whole declaration.
    pub span: Span,
}

/// `ban NAME = N of OUTCOME, … per D by KEY, … [ipv6_prefix P] for D [max D]
/// [status 403|429] [except "CIDR", …] [on_backend_error allow|deny]`: after N
/// denials that match an outcome within the period, for one key, that key is
/// refused (`banned`) on every endpoint of the zone for the ban's length,
/// doubled for each repeat offence up to `max`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ban {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Ban name.
    pub name: Ident,
    /// N: denials (or distinct values) within the period that start a ban.
    pub count: Spanned<u64>,
    /// `distinct EXPR`: N distinct values of it, per key, start a ban.
    pub distinct: Option<Expr>,
    /// Which answers count: statuses or reasons (none: every answer, with `distinct`).
    pub outcomes: Vec<Spanned<Outcome>>,
    /// The period.
    pub period: Duration,
    /// Key expressions, as a limit's.
    pub keys: Vec<Expr>,
    /// `ipv6_prefix P`, as a limit's.
    pub ipv6_prefix: Option<Spanned<u64>>,
    /// How long a first ban lasts (none with `alert`).
    pub length: Option<Duration>,
    /// `alert`: crossing the threshold is only said (an event, a metric, a
    /// webhook), once per period and key; nothing is banned.
    pub alert_only: bool,
    /// `max D`: repeat offences double the length up to this.
    pub max: Option<Duration>,
    /// `status 403|429` of a banned request (403 when not written).
    pub status: Option<Spanned<u64>>,
    /// `except "CIDR", …`: addresses never banned.
    pub except: Vec<Str>,
    /// What to do when a shared backend is unreachable.
    pub on_backend_error: Option<Spanned<BackendErrorPolicy>>,
    /// The whole declaration.
    pub span: Span,
}

/// A denial a ban counts: by status or by reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// An HTTP status, such as `401`.
    Status(u64),
    /// A reason code, such as `secret_invalid`.
    Reason(String),
}

/// `on_backend_error allow|deny`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendErrorPolicy {
    /// Let the request through (the default).
    Allow,
    /// Deny it as rate limited.
    Deny,
}

/// `data NAME = file "PATH"`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Data {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Data name.
    pub name: Ident,
    /// Path relative to the policy set root.
    pub path: Str,
    /// The whole declaration.
    pub span: Span,
}

/// `api NAME in zone ZONE { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Api {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Api name.
    pub name: Ident,
    /// The zone it is in.
    pub zone: Ident,
    /// Settings, statements and routes in source order.
    pub items: Vec<ApiItem>,
    /// The whole declaration.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// What an api block holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ApiItem {
    /// `host "NAME"`
    Host(Spanned<Str>),
    /// `prefix "/PATH"`
    Prefix(Spanned<Str>),
    /// `route METHOD "PATH" { … }`
    Route(Route),
    /// A statement that applies to every route.
    Stmt(Stmt),
}

impl ApiItem {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            ApiItem::Host(s) | ApiItem::Prefix(s) => s.span,
            ApiItem::Route(r) => r.span,
            ApiItem::Stmt(s) => s.span,
        }
    }
}

/// HTTP methods a route can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `ANY`: every method (routes only).
    Any,
}

impl Method {
    /// Every method keyword.
    pub const ALL: &'static [Method] = &[
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Any,
    ];

    /// The keyword as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Any => "ANY",
        }
    }

    /// Parses a method keyword (upper case only).
    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.iter().copied().find(|m| m.as_str() == name)
    }
}

/// `route METHOD "PATH" { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Route {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// The method.
    pub method: Spanned<Method>,
    /// The path template as written.
    pub path: Str,
    /// The path template, split into segments.
    pub template: Vec<PathSegment>,
    /// Statements in source order.
    pub stmts: Vec<Stmt>,
    /// The whole route.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// One segment of a route path template.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum PathSegment {
    /// Matches exactly this (decoded) text.
    Literal(String),
    /// `{name}`: any one segment.
    Param(String),
    /// `{*name}`: the rest of the path (last segment only).
    Tail(String),
}

/// `resource TYPE in zone ZONE { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Resource {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Resource type name.
    pub name: Ident,
    /// The zone it is in.
    pub zone: Ident,
    /// Statements and actions in source order.
    pub items: Vec<ResourceItem>,
    /// The whole declaration.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// `exchange NAME from zone Z { … }`: who may exchange a token that zone Z
/// accepts for one this Warden mints (RFC 8693, `POST /oauth/token`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Exchange {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Its name.
    pub name: Ident,
    /// The zone whose tokens are exchanged (the subject tokens).
    pub zone: Ident,
    /// Its statements: how the calling service authenticates, the rules, the `mint`.
    pub stmts: Vec<Stmt>,
    /// The whole declaration.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// What a resource block holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ResourceItem {
    /// `action NAME { … }`
    Action(Action),
    /// A statement that applies to every action.
    Stmt(Stmt),
}

impl ResourceItem {
    /// The item's span.
    pub fn span(&self) -> Span {
        match self {
            ResourceItem::Action(a) => a.span,
            ResourceItem::Stmt(s) => s.span,
        }
    }
}

/// `action NAME { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Action {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Action name.
    pub name: Ident,
    /// Statements in source order.
    pub stmts: Vec<Stmt>,
    /// The whole action.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}
