//! Diagnostics: what every stage (scanner, parser, validator, compiler, linter) reports,
//! and the one renderer that prints them with the source line and a caret.

use std::fmt::Write as _;

use serde::Serialize;

use crate::span::{LineIndex, Span};

/// A stable diagnostic code such as `E0101` (errors) or `W0201` (lints).
///
/// Codes never change meaning once released; each crate defines its own in a
/// `codes` module so that users and tools can search for them and match on
/// them (`--format json`, SARIF). Nothing suppresses a lint by its code yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Code(pub &'static str);

impl Code {
    /// The code as written, for example `E0101`.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy set cannot be compiled.
    Error,
    /// A lint: the policy compiles but is probably wrong or unsafe.
    Warning,
}

/// A secondary location that explains the primary one ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What it shows, lower case, no trailing period.
    pub message: String,
}

/// One problem found in one file.
///
/// Messages are lower case without a trailing period, with user input in
/// backticks; `help` says how to fix it where that helps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// Where it is.
    pub span: Span,
    /// Short text under the caret; defaults to nothing.
    pub label: Option<String>,
    /// Further locations in the same file.
    pub related: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a code, a span and a message.
    pub fn error(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            span,
            label: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// A warning (lint) with a code, a span and a message.
    pub fn warning(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(code, span, message) }
    }

    /// Adds the text shown under the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a secondary location.
    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.related.push(Label { span, message: message.into() });
        self
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Whether rendered diagnostics use ANSI colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// Plain text (files, pipes, snapshots).
    Never,
    /// ANSI colours (a terminal).
    Always,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

/// Renders one diagnostic the way the CLI prints it: `file:line:column`
/// first, then the source lines with carets under the span, then help.
///
/// ```text
/// bank/edge.warden:3:12: error[E0101]: unterminated string
///   |
/// 3 |   audience "https://api
///   |            ^^^^^^^^^^^^ the string is never closed
///   |
///   = help: close the string with `"` on the same line
/// ```
pub fn render(diag: &Diagnostic, path: &str, source: &str, color: Color) -> String {
    let index = LineIndex::new(source);
    let paint = Paint { on: color == Color::Always };
    let pos = index.line_col(source, diag.span.start());
    let (kind, kind_color) = match diag.severity {
        Severity::Error => ("error", "1;31"),
        Severity::Warning => ("warning", "1;33"),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {}: {}",
        paint.wrap("1", &format!("{path}:{}:{}", pos.line, pos.column)),
        paint.wrap(kind_color, &format!("{kind}[{}]", diag.code)),
        paint.wrap("1", &diag.message),
    );

    // Every labelled line, primary first on ties, in line order.
    let mut marks: Vec<(usize, Span, char, Option<&str>)> =
        vec![(index.line_of(diag.span.start()), diag.span, '^', diag.label.as_deref())];
    for label in &diag.related {
        marks.push((index.line_of(label.span.start()), label.span, '-', Some(label.message.as_str())));
    }
    marks.sort_by_key(|&(line, span, mark, _)| (line, mark != '^', span.start));
    let width = marks.iter().map(|&(line, ..)| (line + 1).to_string().len()).max().unwrap_or(1);
    let pad = " ".repeat(width);
    let bar = paint.wrap("1;34", "|");
    let _ = writeln!(out, "{pad} {bar}");
    let mut last_line = None;
    for (line, span, mark, label) in marks {
        let (start, end) = index.line_range(line, source);
        let text = source.get(start..end).unwrap_or("");
        if last_line != Some(line) {
            if let Some(prev) = last_line
                && line > prev + 1
            {
                let _ = writeln!(out, "{}", paint.wrap("1;34", &format!("{pad}...")));
            }
            let _ = writeln!(
                out,
                "{} {bar} {}",
                paint.wrap("1;34", &format!("{:>width$}", line + 1)),
                text.replace('\t', "    ").trim_end()
            );
            last_line = Some(line);
        }
        // Columns in display cells: tabs widen to four, other characters to one.
        let cells = |s: &str| -> usize { s.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum() };
        let lead = source.get(start..span.start().clamp(start, end)).unwrap_or("");
        let covered = source.get(span.start().clamp(start, end)..span.end().clamp(start, end)).unwrap_or("");
        let carets = cells(covered).max(1);
        let underline = mark.to_string().repeat(carets);
        let underline = match label {
            Some(label) if !label.is_empty() => format!("{underline} {label}"),
            _ => underline,
        };
        let underline_color = if mark == '^' { kind_color } else { "1;34" };
        let _ = writeln!(out, "{pad} {bar} {}{}", " ".repeat(cells(lead)), paint.wrap(underline_color, &underline));
    }
    if let Some(help) = &diag.help {
        let _ = writeln!(out, "{pad} {bar}");
        let _ = writeln!(out, "{pad} {} {}", paint.wrap("1;34", "="), paint.wrap("1", &format!("help: {help}")));
    }
    out
}

/// A diagnostic flattened for machine-readable output (`--format json`).
#[derive(Clone, Debug, Serialize)]
pub struct Located<'a> {
    /// Path of the file as given on the command line.
    pub file: &'a str,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end.
    pub end_column: usize,
    /// The diagnostic.
    #[serde(flatten)]
    pub diagnostic: &'a Diagnostic,
}

impl<'a> Located<'a> {
    /// Resolves the diagnostic's span against its file.
    pub fn new(diagnostic: &'a Diagnostic, file: &'a str, source: &str, index: &LineIndex) -> Located<'a> {
        let start = index.line_col(source, diagnostic.span.start());
        let end = index.line_col(source, diagnostic.span.end());
        Located { file, line: start.line, column: start.column, end_line: end.line, end_column: end.column, diagnostic }
    }
}
