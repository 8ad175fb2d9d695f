//! The typed AST of a policy file: every node carries its byte span; built by the parser (`parser/`).
//!
//! The AST mirrors the source closely (it keeps parentheses, the order of
//! statements and how names were quoted) so that the formatter can print it
//! back without losing meaning. Meaning is given by the compiler.
//!
//! The node types live in one file per area and are all re-exported here, so
//! every node is `ast::Name`. [`visit`] walks a tree in source order.

use serde::Serialize;

use crate::span::Span;

mod decls;
mod exprs;
mod literals;
mod schema;
mod stmts;
mod testing;
pub mod visit;

pub use decls::*;
pub use exprs::*;
pub use literals::*;
pub use schema::*;
pub use stmts::*;
pub use testing::*;
pub use visit::Visit;

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
    /// `ban NAME = N of OUTCOME per D by KEY for D`
    Ban(Ban),
    /// `schema NAME { … }`
    Schema(Schema),
    /// `data NAME = file "…"`
    Data(Data),
    /// `api NAME in zone Z { … }`
    Api(Api),
    /// `resource TYPE in zone Z { … }`
    Resource(Resource),
    /// `exchange NAME from zone Z { … }`
    Exchange(Exchange),
    /// `test "NAME" { … }`
    Test(Test),
}

impl Decl {
    /// The whole declaration's span (doc comment excluded).
    pub fn span(&self) -> Span {
        match self {
            Decl::Zone(d) => d.span,
            Decl::Limit(d) => d.span,
            Decl::Ban(d) => d.span,
            Decl::Schema(d) => d.span,
            Decl::Data(d) => d.span,
            Decl::Api(d) => d.span,
            Decl::Resource(d) => d.span,
            Decl::Exchange(d) => d.span,
            Decl::Test(d) => d.span,
        }
    }

    /// The declaration's doc comment.
    pub fn doc(&self) -> Option<&Doc> {
        match self {
            Decl::Zone(d) => d.doc.as_ref(),
            Decl::Limit(d) => d.doc.as_ref(),
            Decl::Ban(d) => d.doc.as_ref(),
            Decl::Schema(d) => d.doc.as_ref(),
            Decl::Data(d) => d.doc.as_ref(),
            Decl::Api(d) => d.doc.as_ref(),
            Decl::Resource(d) => d.doc.as_ref(),
            Decl::Exchange(d) => d.doc.as_ref(),
            Decl::Test(d) => d.doc.as_ref(),
        }
    }

    /// The declared name, for every declaration but a test (whose name is a
    /// string: see [`Decl::name_text`]).
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Decl::Zone(d) => Some(&d.name),
            Decl::Limit(d) => Some(&d.name),
            Decl::Ban(d) => Some(&d.name),
            Decl::Schema(d) => Some(&d.name),
            Decl::Data(d) => Some(&d.name),
            Decl::Api(d) => Some(&d.name),
            Decl::Resource(d) => Some(&d.name),
            Decl::Exchange(d) => Some(&d.name),
            Decl::Test(_) => None,
        }
    }

    /// The declared name as text: the identifier, or a test's decoded string.
    pub fn name_text(&self) -> &str {
        match self {
            Decl::Test(t) => &t.name.value,
            _ => self.name().map_or("", |name| name.name.as_str()),
        }
    }

    /// Where the declared name is written (a test's name with its quotes).
    pub fn name_span(&self) -> Span {
        match self {
            Decl::Test(t) => t.name.span,
            _ => self.name().map_or(self.span(), |name| name.span),
        }
    }

    /// The keyword that introduces it (`zone`, `limit`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Decl::Zone(_) => "zone",
            Decl::Limit(_) => "limit",
            Decl::Ban(_) => "ban",
            Decl::Schema(_) => "schema",
            Decl::Data(_) => "data",
            Decl::Api(_) => "api",
            Decl::Resource(_) => "resource",
            Decl::Exchange(_) => "exchange",
            Decl::Test(_) => "test",
        }
    }
}
