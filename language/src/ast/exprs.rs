//! Expressions of the AST: literals, attributes, calls, `not`, n-ary `and`/`or`, comparisons.

use serde::{Deserialize, Serialize};

use super::Spanned;
use crate::span::Span;

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
