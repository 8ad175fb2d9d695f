//! The pre-parse scanner: finds comments, unterminated strings, unbalanced or too deeply
//! nested brackets, and cuts a file into top-level chunks that are parsed one by one.
//!
//! Parsing chunk by chunk is how one file with several mistakes reports more
//! than the first: a broken declaration does not hide the ones after it. The
//! scanner is linear and iterative, so hostile input (10 MB of `{`) costs one
//! pass and one diagnostic, never a deep recursion.

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Deepest bracket nesting (`{`, `(`, `[` together) a file may have.
///
/// Real policies nest five or six levels; the limit keeps every recursive
/// stage (parser, AST builder, formatter, compiler) far from the stack's end.
pub const MAX_NESTING: usize = 64;

/// Keywords that start a top-level declaration.
pub const DECL_KEYWORDS: &[&str] = &["zone", "limit", "ban", "schema", "data", "api", "resource", "exchange", "test"];

/// A `//` comment (doc comments included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Comment {
    /// From `//` to the end of the line (line terminator excluded).
    pub span: Span,
    /// A `///` doc comment (but not `////…`).
    pub doc: bool,
}

/// A slice of the file that holds whole top-level declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// The scanner already reported a problem here; the parser skips it.
    pub broken: bool,
}

/// What the scanner found.
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// Every comment, in order.
    pub comments: Vec<Comment>,
    /// Chunks covering the file, in order.
    pub chunks: Vec<Chunk>,
    /// Problems found while scanning.
    pub diagnostics: Vec<Diagnostic>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn closer_for(open: u8) -> u8 {
    match open {
        b'{' => b'}',
        b'(' => b')',
        _ => b']',
    }
}

/// Scans a whole file.
pub fn scan(source: &str) -> Scan {
    let mut out = Scan::default();
    let mut start = 0;
    while start < source.len() {
        match scan_region(source, start, &mut out) {
            Some(next) if next > start => {
                // The region ran to the end of the file; what it found past the
                // resume point is found again by the next region. (Everything of
                // earlier regions lies before `start`, so it stays.)
                out.comments.retain(|c| c.span.start() < next);
                out.diagnostics.retain(|d| d.span.start() < next);
                start = next;
            }
            _ => break,
        }
    }
    if out.chunks.is_empty() {
        out.chunks.push(Chunk { start: 0, end: source.len(), broken: false });
    }
    out
}

/// Scans from `start` to the end of the file, pushing chunks. Returns where to
/// resume when an unclosed bracket forced a cut (recovery), or `None` when done.
fn scan_region(source: &str, start: usize, out: &mut Scan) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = start;
    let mut stack: Vec<(u8, usize, usize)> = Vec::new(); // (opener, offset, indent of its line)
    let mut chunk_start = start;
    let mut chunk_broken = false;
    let mut line_begin = start;
    let mut first_on_line = true;
    let mut indent = 0usize;
    // Line starts inside an unclosed block whose first token is a declaration
    // keyword in column 0: where to resume if the block never closes.
    let mut recovery: Vec<usize> = Vec::new();
    // An opener whose closer sits at another indentation: the likely culprit
    // when a bracket is missing.
    let mut suspicious: Option<(usize, usize)> = None;

    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' => {
                i += 1;
                line_begin = i;
                first_on_line = true;
                indent = 0;
            }
            b' ' | b'\t' | b'\r' => {
                if first_on_line {
                    indent += 1;
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = source[i..].find('\n').map_or(source.len(), |n| i + n);
                let end = if end > i && bytes.get(end - 1) == Some(&b'\r') { end - 1 } else { end };
                let text = &source[i..end];
                out.comments.push(Comment {
                    span: Span::new(i, end),
                    doc: text.starts_with("///") && !text.starts_with("////"),
                });
                i = end;
            }
            b'"' => {
                first_on_line = false;
                let mut j = i + 1;
                let closed = loop {
                    match bytes.get(j) {
                        None | Some(b'\n') => break false,
                        Some(b'"') => break true,
                        Some(b'\\') if matches!(bytes.get(j + 1), Some(b'\n') | None) => {
                            j += 1;
                            break false;
                        }
                        Some(b'\\') => j += 2,
                        Some(_) => j += 1,
                    }
                };
                if closed {
                    i = j + 1;
                } else {
                    let mut end = j.min(source.len());
                    if end > i && bytes.get(end - 1) == Some(&b'\r') {
                        end -= 1;
                    }
                    out.diagnostics.push(
                        Diagnostic::error(codes::UNTERMINATED_STRING, Span::new(i, end), "unterminated string")
                            .with_label("this string is never closed")
                            .with_help(
                                "close the string with `\"` on the same line; write a newline inside a string as `\\n`",
                            ),
                    );
                    chunk_broken = true;
                    // The line most likely meant to open a block (`issuer "x {`):
                    // count that `{` so the block's `}` does not look unmatched.
                    if source[i..end].trim_end().ends_with('{') {
                        stack.push((b'{', end.saturating_sub(1), indent));
                    }
                    i = j;
                }
            }
            b'{' | b'(' | b'[' => {
                first_on_line = false;
                stack.push((b, i, indent));
                if stack.len() > MAX_NESTING {
                    out.diagnostics.push(
                        Diagnostic::error(
                            codes::NESTING_TOO_DEEP,
                            Span::new(i, i + 1),
                            format!("brackets nest deeper than {MAX_NESTING} levels"),
                        )
                        .with_label("too deep")
                        .with_help("split the expression or block into smaller parts"),
                    );
                    // Give up on the rest of the file: its structure is unknown.
                    out.chunks.push(Chunk { start: chunk_start, end: source.len(), broken: true });
                    return None;
                }
                i += 1;
            }
            b'}' | b')' | b']' => {
                let at_line_start = first_on_line;
                first_on_line = false;
                match stack.pop() {
                    None => {
                        out.diagnostics.push(
                            Diagnostic::error(
                                codes::UNBALANCED,
                                Span::new(i, i + 1),
                                format!("unmatched `{}`", b as char),
                            )
                            .with_label("nothing to close here")
                            .with_help("remove it, or add the opening bracket it was meant to close"),
                        );
                        chunk_broken = true;
                    }
                    Some((open, at, open_indent)) => {
                        if closer_for(open) != b {
                            out.diagnostics.push(
                                Diagnostic::error(
                                    codes::UNBALANCED,
                                    Span::new(i, i + 1),
                                    format!("mismatched `{}`: expected `{}`", b as char, closer_for(open) as char),
                                )
                                .with_label("does not match")
                                .with_related(Span::new(at, at + 1), format!("`{}` opened here", open as char)),
                            );
                            chunk_broken = true;
                        } else if at_line_start && indent != open_indent && suspicious.is_none() {
                            suspicious = Some((at, i));
                        }
                    }
                }
                i += 1;
            }
            _ => {
                if first_on_line && is_ident_start(b) {
                    let mut j = i;
                    while bytes.get(j).is_some_and(|&c| is_ident_char(c)) {
                        j += 1;
                    }
                    let word = &source[i..j];
                    if DECL_KEYWORDS.contains(&word) {
                        if stack.is_empty() {
                            if line_begin > chunk_start {
                                out.chunks.push(Chunk { start: chunk_start, end: line_begin, broken: chunk_broken });
                                chunk_start = line_begin;
                                chunk_broken = false;
                            }
                        } else if i == line_begin {
                            recovery.push(line_begin);
                        }
                    }
                    first_on_line = false;
                    i = j;
                } else {
                    first_on_line = false;
                    // Skip the rest of a UTF-8 character in one step.
                    i += source[i..].chars().next().map_or(1, char::len_utf8);
                }
            }
        }
    }

    let Some(&(open, at, _)) = stack.first() else {
        out.chunks.push(Chunk { start: chunk_start, end: source.len(), broken: chunk_broken });
        return None;
    };
    let mut diag = Diagnostic::error(codes::UNBALANCED, Span::new(at, at + 1), format!("unclosed `{}`", open as char))
        .with_label("this is never closed")
        .with_help(format!("add the missing `{}`", closer_for(open) as char));
    if let Some((inner, _closer)) = suspicious.filter(|&(inner, _)| inner > at) {
        diag = diag.with_related(
            Span::new(inner, inner + 1),
            format!(
                "this block is closed by a `{}` that is indented differently; a bracket may be missing before it",
                closer_for(bytes.get(inner).copied().unwrap_or(b'{')) as char
            ),
        );
    }
    out.diagnostics.push(diag);
    // Recovery: resume at the first declaration in column 0 after the opener.
    match recovery.into_iter().find(|&r| r > at) {
        Some(resume) => {
            out.chunks.push(Chunk { start: chunk_start, end: resume, broken: true });
            Some(resume)
        }
        None => {
            out.chunks.push(Chunk { start: chunk_start, end: source.len(), broken: true });
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_top_level_declarations() {
        let src = "zone a {\n  issuer \"x\" {}\n}\n// c\nlimit l = 1 per 1s by source.ip\napi b in zone a {\n}\n";
        let scan = scan(src);
        let starts: Vec<_> = scan.chunks.iter().map(|c| &src[c.start..c.end]).collect();
        assert_eq!(starts.len(), 3, "{starts:?}");
        assert!(starts[1].starts_with("limit"));
        assert!(starts[2].starts_with("api"));
        assert_eq!(scan.comments.len(), 1);
        assert!(scan.diagnostics.is_empty());
    }

    #[test]
    fn strings_and_comments_hide_brackets() {
        let src = "zone a { // {{{\n  network \"{[(\"\n}\n";
        let scan = scan(src);
        assert!(scan.diagnostics.is_empty(), "{:?}", scan.diagnostics);
        assert_eq!(scan.chunks.len(), 1);
    }

    #[test]
    fn unclosed_brace_recovers_at_next_column_zero_declaration() {
        let src = "api a in zone z {\n  route GET \"/x\" {\n    allow\n}\nzone z {\n}\n";
        let scan = scan(src);
        assert_eq!(scan.diagnostics.len(), 1);
        assert_eq!(scan.diagnostics[0].code, codes::UNBALANCED);
        assert_eq!(scan.chunks.len(), 2);
        assert!(scan.chunks[0].broken);
        assert!(!scan.chunks[1].broken);
        assert!(src[scan.chunks[1].start..].starts_with("zone z"));
    }

    #[test]
    fn recovery_reports_each_problem_once_and_keeps_comments_in_order() {
        let src = "api a in zone z { // one\n  route GET \"/x\" {\n    allow\n  }\nzone z { // two\n  network \"10.0.0.0/8\n}\n";
        let scan = scan(src);
        let codes: Vec<_> = scan.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, [codes::UNBALANCED, codes::UNTERMINATED_STRING]);
        assert_eq!(scan.comments.len(), 2);
        assert!(scan.comments[0].span.start < scan.comments[1].span.start);
    }

    #[test]
    fn deep_nesting_stops_early() {
        let src = "{".repeat(1_000_000);
        let scan = scan(&src);
        assert_eq!(scan.diagnostics.len(), 1);
        assert_eq!(scan.diagnostics[0].code, codes::NESTING_TOO_DEEP);
    }
}
