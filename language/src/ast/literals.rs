//! The leaves of the AST: identifiers, string and number literals, keys, durations, sizes,
//! and the JSON-like values of test requests.

use crate::span::Span;
use serde::Serialize;

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
