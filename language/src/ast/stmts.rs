//! Statements of the AST: what route, action, api and resource bodies hold.

use serde::Serialize;

use super::{Duration, Expr, Ident, Key, Size, Spanned, Str};

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
    /// `ban NAME, …`: denials here count toward these bans.
    Ban(Vec<Ident>),
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
    /// `mint for zone NAME [{ … }]`
    Mint(Mint),
}

/// `mint for zone NAME { claim …; scope …; lifetime …; header … }`: after an
/// allow, a token this Warden signs for the zone behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mint {
    /// The zone the token is for.
    pub zone: Ident,
    /// The `{ … }` block, when written.
    pub body: Option<crate::Span>,
    /// What the block says, in order.
    pub items: Vec<Spanned<MintItem>>,
}

/// One line of a `mint` block.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum MintItem {
    /// `claim NAME = EXPR`: a claim copied into the token.
    Claim {
        /// The claim's name in the token.
        name: Key,
        /// Where its value comes from.
        value: Expr,
    },
    /// `scope "a", …`: the scopes the token may carry (those the caller has).
    Scope(Vec<Str>),
    /// `lifetime DURATION` (60 s when not written).
    Lifetime(Duration),
    /// `header "NAME"`: the upstream header that carries the token, bare
    /// (`authorization: Bearer …` when not written).
    Header(Str),
    /// `bind certificate "THUMBPRINT"`: the token is bound (RFC 8705 `cnf`,
    /// `x5t#S256`) to the certificate with this SHA-256 thumbprint, base64url.
    Bind(Str),
}

impl MintItem {
    /// The item's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            MintItem::Claim { .. } => "claim",
            MintItem::Scope(_) => "scope",
            MintItem::Lifetime(_) => "lifetime",
            MintItem::Header(_) => "header",
            MintItem::Bind(_) => "bind certificate",
        }
    }
}

impl StmtKind {
    /// The statement's keyword, for messages.
    pub fn keyword(&self) -> &'static str {
        match self {
            StmtKind::Auth(_) => "auth",
            StmtKind::Scope { .. } => "scope",
            StmtKind::Limit(_) => "limit",
            StmtKind::Ban(_) => "ban",
            StmtKind::Body(_) => "body",
            StmtKind::Allow(_) => "allow",
            StmtKind::Deny(_) => "deny",
            StmtKind::UpstreamHeader { .. } => "upstream header",
            StmtKind::Mint(_) => "mint",
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
