//! `test` declarations of the AST: steps, simulated requests and resource checks, expectations.

use serde::Serialize;

use super::{Doc, Duration, Ident, Method, Spanned, Str, Value};
use crate::reason::Reason;
use crate::span::Span;

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
    /// `exchange "AUDIENCE" { … }`
    Exchange(ExchangeCall),
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

/// A token exchange in a test: the audience asked for, and who asks with what
/// (`peer`, `basic`, `header`, `ip`, and the subject `token`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExchangeCall {
    /// The `audience` (or `resource`) of the token asked for.
    pub audience: Str,
    /// Settings, as a request's.
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
    /// `certificate "THUMBPRINT"`: the client certificate the gateway saw
    /// (its SHA-256 thumbprint, base64url).
    Certificate(Str),
    /// `dpop`: the request's token is bound to a DPoP key of the run
    /// (`cnf.jkt`), sent with the `DPoP` scheme and a fresh proof by that key.
    Dpop,
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
