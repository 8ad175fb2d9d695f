//! The typed AST of a policy file: every node carries its byte span; built by `parser.rs`.
//!
//! The AST mirrors the source closely (it keeps parentheses, the order of
//! statements and how names were quoted) so that the formatter can print it
//! back without losing meaning. Meaning is given by the compiler.

use serde::{Deserialize, Serialize};

use crate::reason::Reason;
use crate::span::Span;

/// A value with the span it came from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Spanned<T> {
    /// The value.
    pub node: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value with its span.
    pub fn new(node: T, span: Span) -> Spanned<T> {
        Spanned { node, span }
    }
}

/// An identifier as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ident {
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// A string literal, decoded (escapes resolved).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Str {
    /// The decoded text.
    pub value: String,
    /// Where, quotes included.
    pub span: Span,
}

/// A number literal: its value and the text it was written as.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Number {
    /// The value.
    pub value: f64,
    /// The literal as written (kept by the formatter).
    pub raw: String,
    /// Where.
    pub span: Span,
}

/// The `///` doc comment lines before a declaration, joined with newlines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Doc {
    /// The text without the `///` markers.
    pub text: String,
    /// From the first `///` to the end of the last line.
    pub span: Span,
}

/// One `.warden` file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct File {
    /// Declarations in source order.
    pub decls: Vec<Decl>,
}

/// A top-level declaration.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Decl {
    /// `zone NAME { … }`
    Zone(Zone),
    /// `limit NAME = N per D by KEY`
    Limit(Limit),
    /// `schema NAME { … }`
    Schema(Schema),
    /// `data NAME = file "…"`
    Data(Data),
    /// `api NAME in zone Z { … }`
    Api(Api),
    /// `resource TYPE in zone Z { … }`
    Resource(Resource),
    /// `test "NAME" { … }`
    Test(Test),
}

impl Decl {
    /// The whole declaration's span (doc comment excluded).
    pub fn span(&self) -> Span {
        match self {
            Decl::Zone(d) => d.span,
            Decl::Limit(d) => d.span,
            Decl::Schema(d) => d.span,
            Decl::Data(d) => d.span,
            Decl::Api(d) => d.span,
            Decl::Resource(d) => d.span,
            Decl::Test(d) => d.span,
        }
    }

    /// The declaration's doc comment.
    pub fn doc(&self) -> Option<&Doc> {
        match self {
            Decl::Zone(d) => d.doc.as_ref(),
            Decl::Limit(d) => d.doc.as_ref(),
            Decl::Schema(d) => d.doc.as_ref(),
            Decl::Data(d) => d.doc.as_ref(),
            Decl::Api(d) => d.doc.as_ref(),
            Decl::Resource(d) => d.doc.as_ref(),
            Decl::Test(d) => d.doc.as_ref(),
        }
    }

    /// The keyword that introduces it (`zone`, `limit`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Decl::Zone(_) => "zone",
            Decl::Limit(_) => "limit",
            Decl::Schema(_) => "schema",
            Decl::Data(_) => "data",
            Decl::Api(_) => "api",
            Decl::Resource(_) => "resource",
            Decl::Test(_) => "test",
        }
    }
}

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

/// A duration literal such as `30s`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Duration {
    /// The number as written.
    pub value: u64,
    /// The unit as written.
    pub unit: DurationUnit,
    /// Where.
    pub span: Span,
}

/// Units of a duration literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum DurationUnit {
    /// `ms`
    Millis,
    /// `s`
    Seconds,
    /// `m`
    Minutes,
    /// `h`
    Hours,
    /// `d`
    Days,
}

impl DurationUnit {
    /// The suffix as written.
    pub fn suffix(self) -> &'static str {
        match self {
            DurationUnit::Millis => "ms",
            DurationUnit::Seconds => "s",
            DurationUnit::Minutes => "m",
            DurationUnit::Hours => "h",
            DurationUnit::Days => "d",
        }
    }

    /// Milliseconds in one unit.
    pub fn millis(self) -> u64 {
        match self {
            DurationUnit::Millis => 1,
            DurationUnit::Seconds => 1_000,
            DurationUnit::Minutes => 60_000,
            DurationUnit::Hours => 3_600_000,
            DurationUnit::Days => 86_400_000,
        }
    }
}

impl Duration {
    /// The duration in milliseconds (saturating).
    pub fn millis(&self) -> u64 {
        self.value.saturating_mul(self.unit.millis())
    }
}

/// A size literal such as `16KiB`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    /// The number as written.
    pub value: u64,
    /// The unit as written.
    pub unit: SizeUnit,
    /// Where.
    pub span: Span,
}

/// Units of a size literal (binary multiples).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SizeUnit {
    /// `B`
    Bytes,
    /// `KiB`
    KiB,
    /// `MiB`
    MiB,
    /// `GiB`
    GiB,
}

impl SizeUnit {
    /// The suffix as written.
    pub fn suffix(self) -> &'static str {
        match self {
            SizeUnit::Bytes => "B",
            SizeUnit::KiB => "KiB",
            SizeUnit::MiB => "MiB",
            SizeUnit::GiB => "GiB",
        }
    }

    /// Bytes in one unit.
    pub fn bytes(self) -> u64 {
        match self {
            SizeUnit::Bytes => 1,
            SizeUnit::KiB => 1 << 10,
            SizeUnit::MiB => 1 << 20,
            SizeUnit::GiB => 1 << 30,
        }
    }
}

impl Size {
    /// The size in bytes (saturating).
    pub fn bytes(&self) -> u64 {
        self.value.saturating_mul(self.unit.bytes())
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

/// `on_backend_error allow|deny`
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackendErrorPolicy {
    /// Let the request through (the default).
    Allow,
    /// Deny it as rate limited.
    Deny,
}

/// `schema NAME [open] { field… }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Schema {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Schema name.
    pub name: Ident,
    /// Whether undeclared fields are accepted.
    pub open: bool,
    /// Fields in source order.
    pub fields: Vec<Field>,
    /// The whole declaration.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// `name[?]: TYPE CONSTRAINT…`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Field {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Field name.
    pub name: Key,
    /// `?` was written.
    pub optional: bool,
    /// Type and constraints.
    pub ty: TypeExpr,
    /// The whole field.
    pub span: Span,
}

/// An object key or field name, bare (`user`) or quoted (`"x-id"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Key {
    /// The name.
    pub name: String,
    /// Written as a string literal.
    pub quoted: bool,
    /// Where.
    pub span: Span,
}

/// A schema type with its constraints.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeExpr {
    /// The type.
    pub kind: TypeKind,
    /// Constraints in source order.
    pub constraints: Vec<Spanned<Constraint>>,
    /// Type and constraints.
    pub span: Span,
}

/// The shape of a schema type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TypeKind {
    /// `string`, `integer`, `number`, `boolean`, `any` or a schema's name.
    Named(Ident),
    /// `enum "a", "b"`
    Enum(Vec<Str>),
    /// `[TYPE]`
    Array(Box<TypeExpr>),
}

/// The built-in scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Builtin {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `any`
    Any,
}

impl Builtin {
    /// Recognises a built-in type name.
    pub fn parse(name: &str) -> Option<Builtin> {
        match name {
            "string" => Some(Builtin::String),
            "integer" => Some(Builtin::Integer),
            "number" => Some(Builtin::Number),
            "boolean" => Some(Builtin::Boolean),
            "any" => Some(Builtin::Any),
            _ => None,
        }
    }
}

/// A constraint on a schema type.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Constraint {
    /// `min N` (numbers)
    Min(Number),
    /// `max N` (numbers)
    Max(Number),
    /// `min_len N` (strings, in characters)
    MinLen(u64),
    /// `max_len N` (strings, in characters)
    MaxLen(u64),
    /// `min_items N` (arrays)
    MinItems(u64),
    /// `max_items N` (arrays)
    MaxItems(u64),
    /// `pattern "REGEX"` (strings)
    Pattern(Str),
    /// `format NAME` (strings)
    Format(Format),
}

impl Constraint {
    /// The constraint's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            Constraint::Min(_) => "min",
            Constraint::Max(_) => "max",
            Constraint::MinLen(_) => "min_len",
            Constraint::MaxLen(_) => "max_len",
            Constraint::MinItems(_) => "min_items",
            Constraint::MaxItems(_) => "max_items",
            Constraint::Pattern(_) => "pattern",
            Constraint::Format(_) => "format",
        }
    }
}

/// String formats a schema can require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Format {
    /// `email`
    Email,
    /// `uuid`
    Uuid,
    /// `uri`
    Uri,
    /// `date` (RFC 3339 full-date)
    Date,
    /// `date-time` (RFC 3339)
    DateTime,
    /// `ipv4`
    Ipv4,
    /// `ipv6`
    Ipv6,
}

impl Format {
    /// Every format.
    pub const ALL: &'static [Format] =
        &[Format::Email, Format::Uuid, Format::Uri, Format::Date, Format::DateTime, Format::Ipv4, Format::Ipv6];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Email => "email",
            Format::Uuid => "uuid",
            Format::Uri => "uri",
            Format::Date => "date",
            Format::DateTime => "date-time",
            Format::Ipv4 => "ipv4",
            Format::Ipv6 => "ipv6",
        }
    }

    /// Parses a format name.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.as_str() == name)
    }
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

/// A statement of a route, action, api or resource.
pub type Stmt = Spanned<StmtKind>;

/// The statements of LANGUAGE.md's route bodies.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StmtKind {
    /// `auth METHOD`
    Auth(AuthMethod),
    /// `scope [any] "S", …`
    Scope {
        /// `scope any`: one of the scopes suffices.
        any: bool,
        /// The scopes.
        scopes: Vec<Str>,
    },
    /// `limit NAME, …`
    Limit(Vec<Ident>),
    /// `body …`
    Body(BodySpec),
    /// `allow [when EXPR]`
    Allow(Option<Expr>),
    /// `deny when EXPR`
    Deny(Expr),
    /// `upstream header "NAME" = EXPR`
    UpstreamHeader {
        /// Header name.
        name: Str,
        /// Its value.
        value: Expr,
    },
}

impl StmtKind {
    /// The statement's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            StmtKind::Auth(_) => "auth",
            StmtKind::Scope { .. } => "scope",
            StmtKind::Limit(_) => "limit",
            StmtKind::Body(_) => "body",
            StmtKind::Allow(_) => "allow",
            StmtKind::Deny(_) => "deny",
            StmtKind::UpstreamHeader { .. } => "upstream header",
        }
    }
}

/// How callers authenticate (LANGUAGE.md, Authentication).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum AuthMethod {
    /// `auth bearer`: a JWT from one of the zone's issuers.
    Bearer,
    /// `auth mtls`: the peer certificate's principal.
    Mtls,
    /// `auth client_secret file "F"`: HTTP Basic client id and secret.
    ClientSecret {
        /// Client id → SHA-256 hex of the secret.
        file: Str,
    },
    /// `auth api_key header "H" file "F"`
    ApiKey {
        /// Header that carries the key.
        header: Str,
        /// SHA-256 hex of each key → claims.
        file: Str,
    },
    /// `auth asserted`: the calling service asserts the subject.
    Asserted,
    /// `auth none`
    None,
}

impl AuthMethod {
    /// The method's keyword.
    pub fn keyword(&self) -> &'static str {
        match self {
            AuthMethod::Bearer => "bearer",
            AuthMethod::Mtls => "mtls",
            AuthMethod::ClientSecret { .. } => "client_secret",
            AuthMethod::ApiKey { .. } => "api_key",
            AuthMethod::Asserted => "asserted",
            AuthMethod::None => "none",
        }
    }
}

/// `body json [SCHEMA] [max SIZE]`, `body any [max SIZE]` or `body none`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum BodySpec {
    /// A JSON body, optionally checked against a schema.
    Json {
        /// Schema name.
        schema: Option<Ident>,
        /// Size cap (default 1 MiB).
        max: Option<Size>,
    },
    /// Any media type, size-capped only.
    Any {
        /// Size cap (default 1 MiB).
        max: Option<Size>,
    },
    /// No body may be sent.
    None,
}

/// An expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
}

/// Expression forms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    /// A string literal.
    Str(String),
    /// A number literal.
    Number {
        /// Its value.
        value: f64,
        /// As written.
        raw: String,
    },
    /// `true` or `false`.
    Bool(bool),
    /// `[a, b]`
    List(Vec<Expr>),
    /// `claim.x`, `header["x-a"]`, `data.tellers`…
    Attr {
        /// The root name.
        root: Spanned<Root>,
        /// Fields and indexes after it.
        path: Vec<Segment>,
    },
    /// Fields or indexes applied to a non-attribute (`lower(x)[0]`).
    Access {
        /// What is indexed.
        base: Box<Expr>,
        /// Fields and indexes.
        path: Vec<Segment>,
    },
    /// `f(a, …)`
    Call {
        /// The function.
        func: Spanned<Func>,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `not e`
    Not(Box<Expr>),
    /// `a and b and …` (two or more operands, none of them an unparenthesised `and`).
    And(Vec<Expr>),
    /// `a or b or …`
    Or(Vec<Expr>),
    /// `a OP b`
    Compare {
        /// The operator.
        op: Spanned<CmpOp>,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
    /// `( e )`, kept so the formatter prints what the author wrote.
    Paren(Box<Expr>),
}

/// A field access or index after an attribute root.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Segment {
    /// `.name` or `[expr]`.
    pub kind: SegmentKind,
    /// Where.
    pub span: Span,
}

/// `.name` or `[expr]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum SegmentKind {
    /// `.name`
    Field(String),
    /// `[expr]`
    Index(Expr),
}

/// The attribute roots of LANGUAGE.md, Expressions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Root {
    /// `claim`: the caller's identity.
    Claim,
    /// `path`: route parameters.
    Path,
    /// `query`: query parameters.
    Query,
    /// `header`: request headers (lower-case names).
    Header,
    /// `body`: the parsed JSON body.
    Body,
    /// `resource`: the resource of a resource check.
    Resource,
    /// `context`: extra context of a resource check.
    Context,
    /// `peer`: the TLS peer (`peer.principal`).
    Peer,
    /// `source`: the network source (`source.ip`).
    Source,
    /// `request`: method, path, host.
    Request,
    /// `data`: static JSON documents.
    Data,
}

impl Root {
    /// Every root.
    pub const ALL: &'static [Root] = &[
        Root::Claim,
        Root::Path,
        Root::Query,
        Root::Header,
        Root::Body,
        Root::Resource,
        Root::Context,
        Root::Peer,
        Root::Source,
        Root::Request,
        Root::Data,
    ];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Root::Claim => "claim",
            Root::Path => "path",
            Root::Query => "query",
            Root::Header => "header",
            Root::Body => "body",
            Root::Resource => "resource",
            Root::Context => "context",
            Root::Peer => "peer",
            Root::Source => "source",
            Root::Request => "request",
            Root::Data => "data",
        }
    }

    /// Parses a root name.
    pub fn parse(name: &str) -> Option<Root> {
        Root::ALL.iter().copied().find(|r| r.as_str() == name)
    }
}

/// Built-in functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Func {
    /// `has(attr)`
    Has,
    /// `starts_with(s, p)`
    StartsWith,
    /// `ends_with(s, p)`
    EndsWith,
    /// `matches(s, "regex")`
    Matches,
    /// `lower(s)`
    Lower,
    /// `len(x)`
    Len,
    /// `in_cidr(ip, "cidr")`
    InCidr,
}

impl Func {
    /// Every function.
    pub const ALL: &'static [Func] =
        &[Func::Has, Func::StartsWith, Func::EndsWith, Func::Matches, Func::Lower, Func::Len, Func::InCidr];

    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Func::Has => "has",
            Func::StartsWith => "starts_with",
            Func::EndsWith => "ends_with",
            Func::Matches => "matches",
            Func::Lower => "lower",
            Func::Len => "len",
            Func::InCidr => "in_cidr",
        }
    }

    /// Parses a function name.
    pub fn parse(name: &str) -> Option<Func> {
        Func::ALL.iter().copied().find(|f| f.as_str() == name)
    }

    /// How many arguments it takes.
    pub fn arity(self) -> usize {
        match self {
            Func::Has | Func::Lower | Func::Len => 1,
            Func::StartsWith | Func::EndsWith | Func::Matches | Func::InCidr => 2,
        }
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
        }
    }
}

/// `test "NAME" { … }`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Test {
    /// Doc comment.
    pub doc: Option<Doc>,
    /// Test name.
    pub name: Str,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// The whole test.
    pub span: Span,
    /// From `{` to `}`.
    pub body: Span,
}

/// One step of a test.
pub type Step = Spanned<StepKind>;

/// Test steps.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StepKind {
    /// `request METHOD "URL" { … }`
    Request(Request),
    /// `check TYPE ACTION { … }`
    Check(Check),
    /// `expect …`
    Expect(Expectation),
    /// `repeat N { … }`
    Repeat {
        /// How many times.
        count: Spanned<u64>,
        /// The steps repeated.
        steps: Vec<Step>,
        /// From `{` to `}`.
        body: Span,
    },
    /// `wait D`: advances the virtual clock.
    Wait(Duration),
}

/// A simulated HTTP request in a test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Request {
    /// The method.
    pub method: Spanned<Method>,
    /// A full URL (`https://host/path?q`) or a path.
    pub url: Str,
    /// Request settings.
    pub items: Vec<Spanned<RequestItem>>,
    /// From `{` to `}` when a block was written.
    pub body: Option<Span>,
}

/// Settings of a test request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum RequestItem {
    /// `ip "ADDR"`: source address.
    Ip(Str),
    /// `peer "PRINCIPAL"`: the client certificate's principal.
    Peer(Str),
    /// `header "NAME" = "VALUE"`
    Header {
        /// Header name.
        name: Str,
        /// Header value.
        value: Str,
    },
    /// `json VALUE`: a JSON body.
    Json(Value),
    /// `body "TEXT" [content_type "T"]`: a raw body.
    Body {
        /// The raw text.
        text: Str,
        /// Its media type.
        content_type: Option<Str>,
    },
    /// `basic "ID", "SECRET"`: HTTP Basic credentials.
    Basic {
        /// Client id.
        client: Str,
        /// Secret.
        secret: Str,
    },
    /// `token …`: a minted bearer token.
    Token(TokenSpec),
}

/// `token [variant] [{ claims }]`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenSpec {
    /// How the token is broken, if it is.
    pub variant: Option<Spanned<TokenVariant>>,
    /// Claims (an object value).
    pub claims: Option<Value>,
}

/// Deliberately broken tokens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TokenVariant {
    /// `expired`
    Expired,
    /// `not_yet_valid`
    NotYetValid,
    /// `wrong_key`: signed by a key the zone does not trust.
    WrongKey,
    /// `alg "NAME"`: signed with another algorithm.
    Alg(Str),
    /// `raw "TEXT"`: sent as written.
    Raw(Str),
}

/// A simulated resource check in a test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Resource type.
    pub resource_type: Ident,
    /// Action.
    pub action: Ident,
    /// Settings.
    pub items: Vec<Spanned<CheckItem>>,
    /// From `{` to `}` when a block was written.
    pub body: Option<Span>,
}

/// Settings of a test resource check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CheckItem {
    /// `ip "ADDR"`
    Ip(Str),
    /// `peer "PRINCIPAL"`
    Peer(Str),
    /// `subject "ID" [{ properties }]`
    Subject {
        /// Subject id.
        id: Str,
        /// Properties (an object).
        properties: Option<Value>,
    },
    /// `resource "ID" [{ properties }]`
    Resource {
        /// Resource id.
        id: Str,
        /// Properties (an object).
        properties: Option<Value>,
    },
    /// `context { … }`
    Context(Value),
    /// `token …`
    Token(TokenSpec),
}

/// `expect …`
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Expectation {
    /// `expect allow`
    Allow,
    /// `expect deny [STATUS [REASON]]`
    Deny {
        /// Expected status.
        status: Option<Spanned<u16>>,
        /// Expected reason.
        reason: Option<Spanned<Reason>>,
    },
    /// `expect header "NAME" = "VALUE"`
    Header {
        /// Header name.
        name: Str,
        /// Expected value.
        value: Str,
    },
}

/// A JSON-like literal value in tests.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Value {
    /// What it is.
    pub kind: ValueKind,
    /// Where.
    pub span: Span,
}

/// JSON-like value forms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ValueKind {
    /// A string.
    Str(String),
    /// A number.
    Number {
        /// Its value.
        value: f64,
        /// As written.
        raw: String,
    },
    /// `true` / `false`
    Bool(bool),
    /// `null`
    Null,
    /// `[…]`
    Array(Vec<Value>),
    /// `{ key: value, … }`
    Object(Vec<(Key, Value)>),
}
