//! The Warden policy language front end: text → parse tree → typed AST, diagnostics, formatter.
//!
//! ```
//! let parsed = warden_language::parse("limit per_ip = 5 per 1m by source.ip\n");
//! assert!(parsed.diagnostics.is_empty());
//! assert_eq!(parsed.file.decls.len(), 1);
//! ```
//!
//! The pipeline for one file is: [`scan`] (comments, brackets, chunks) →
//! pest grammar (`grammar.pest`) → AST builder ([`parse`]) → structural
//! checks ([`validate`]). The [`format`] module prints an AST back in the
//! one canonical layout. Nothing here does I/O or knows about HTTP.

pub mod ast;
pub mod codes;
pub mod diagnostic;
pub mod format;
pub mod keywords;
mod parser;
pub mod reason;
pub mod scan;
pub mod span;
mod suggest;
pub mod validate;

pub use diagnostic::{Code, Color, Diagnostic, Severity, render};
pub use keywords::KEYWORDS;
pub use parser::{MAX_FILE_BYTES, Parsed, decode, is_identifier, parse};
pub use span::{LineIndex, Span};
pub use suggest::edit_distance;

/// Parses and validates one file: the diagnostics `warden check` shows for it
/// before any cross-file (compiler) checks.
pub fn check(source: &str) -> Parsed {
    let mut parsed = parse(source);
    parsed.diagnostics.extend(validate::file(&parsed.file));
    parsed.diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    parsed
}
