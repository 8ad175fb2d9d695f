//! Schemas of the AST: fields, types and their constraints.

use serde::{Deserialize, Serialize};

use super::{Doc, Ident, Key, Number, Spanned, Str};
use crate::span::Span;

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
