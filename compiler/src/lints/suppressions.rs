//! Inline suppression of lints: `// warden: allow W0305 "partners reach this over
//! the VPN"` silences the named lint on the line it stands on (after code) or on
//! the next line with code (alone on its line). A reason is required, only lint
//! warnings (`W03xx`) can be silenced, never an error; a suppression that is
//! malformed (W0313) or silences nothing (W0312) is itself a warning, so one
//! cannot outlive the problem it was written for.

use warden_language::{Code, LineIndex, Span};

use super::{ALL, LintInfo, warn};
use crate::{FileDiagnostic, PolicySet};

/// a suppression comment that silences nothing
pub const UNUSED_SUPPRESSION: LintInfo = LintInfo {
    code: Code("W0312"),
    name: "unused-suppression",
    summary: "a suppression comment that silences nothing",
    explanation: "Flags `// warden: allow CODE \"reason\"` when no warning of that code is on the line it applies to: the line of the comment when code precedes it, else the next line with code. The problem it was written for has gone, or the comment is on the wrong line; left in place it would silence a new problem later. Example: `// warden: allow W0309 \"kept for the migration\"` above a zone that a route now uses.",
    fix: "remove the comment, or move it to the line of the warning",
};

/// a suppression comment that cannot be read
pub const MALFORMED_SUPPRESSION: LintInfo = LintInfo {
    code: Code("W0313"),
    name: "malformed-suppression",
    summary: "a suppression comment that cannot be read",
    explanation: "Flags a comment starting `// warden:` that is not `// warden: allow CODE… \"reason\"` with at least one lint code (`W03xx`, as `warden lint` prints them) and a non-empty reason in double quotes, such as `// warden: allow W0309` (no reason) or `// warden: allow E0202 \"…\"` (an error). It silences nothing: errors cannot be silenced, and a suppression without a reason leaves the next reader guessing.",
    fix: "write `// warden: allow W0305 \"why this is fine here\"`",
};

/// One suppression comment, read.
struct Suppression {
    file: usize,
    /// The comment.
    span: Span,
    /// The 0-based line it applies to.
    line: usize,
    codes: Vec<String>,
    used: bool,
}

/// Applies the suppression comments of `set` to the lint warnings in `out`:
/// removes those silenced, and adds W0312 and W0313 for comments that silence
/// nothing or cannot be read.
pub(super) fn apply(set: &PolicySet, out: &mut Vec<FileDiagnostic>, levels: &super::Levels) {
    let indexes: Vec<LineIndex> = set.files.iter().map(|f| LineIndex::new(&f.text)).collect();
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for ((file, source), lines) in set.files.iter().enumerate().zip(&indexes) {
        for comment in &source.parsed.comments {
            let Some(text) = source.text.get(comment.span.start as usize..comment.span.end as usize) else { continue };
            let Some(rest) = text.strip_prefix("//").map(str::trim_start).and_then(|t| t.strip_prefix("warden:"))
            else {
                continue;
            };
            match parse(rest) {
                Ok(codes) => {
                    let line = target_line(&source.text, lines, comment.span);
                    found.push(Suppression { file, span: comment.span, line, codes, used: false });
                }
                Err(why) => problems.push(FileDiagnostic {
                    file,
                    diagnostic: warden_language::Diagnostic::warning(
                        MALFORMED_SUPPRESSION.code,
                        comment.span,
                        format!("this suppression is not read: {why}"),
                    )
                    .with_help(MALFORMED_SUPPRESSION.fix),
                }),
            }
        }
    }
    if found.is_empty() && problems.is_empty() {
        return;
    }
    out.retain(|d| {
        let line = indexes.get(d.file).map(|i| i.line_of(d.diagnostic.span.start as usize));
        let silenced = found.iter_mut().find(|s| {
            s.file == d.file && Some(s.line) == line && s.codes.iter().any(|c| c == d.diagnostic.code.as_str())
        });
        match silenced {
            Some(s) if !d.diagnostic.is_error() => {
                s.used = true;
                false
            }
            _ => true,
        }
    });
    for s in found.iter().filter(|s| !s.used) {
        // A lint that is off has nothing to silence yet: a comment for it (the
        // fix of an off-by-default lint suggests one) is kept for the day it is
        // turned on, not reported.
        let on: Vec<&str> = s.codes.iter().map(String::as_str).filter(|c| levels.of(c) != super::Level::Off).collect();
        if on.is_empty() {
            continue;
        }
        let codes = on.join(", ");
        warn(out, s.file, &UNUSED_SUPPRESSION, s.span, format!("this suppression of {codes} silences nothing"));
    }
    out.extend(problems);
}

/// The codes of `allow CODE… "reason"` (the text after `warden:`), or why
/// it cannot be read.
fn parse(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let Some(rest) = rest.strip_prefix("allow") else {
        return Err("it must read `warden: allow CODE \"reason\"`".to_owned());
    };
    let (head, quoted) = match rest.split_once('"') {
        Some((head, quoted)) => (head, Some(quoted)),
        None => (rest, None),
    };
    // A comment after the suppression (`… // note`) is not part of it.
    let head = head.split("//").next().unwrap_or("");
    let codes: Vec<String> = head.split([' ', ',', '\t']).filter(|c| !c.is_empty()).map(str::to_owned).collect();
    if codes.is_empty() {
        return Err("it names no lint code".to_owned());
    }
    for code in &codes {
        if !ALL.iter().any(|l| l.code.as_str() == code) {
            return Err(format!("`{code}` is not a lint code (only warnings `W03xx` can be silenced)"));
        }
    }
    // The reason: up to the closing quote; anything after it is another comment.
    match quoted.and_then(|q| q.split_once('"')).map(|(reason, _)| reason.trim()) {
        Some(reason) if !reason.is_empty() => Ok(codes),
        _ => Err("it gives no reason (a non-empty text in double quotes, after the codes)".to_owned()),
    }
}

/// The 0-based line a suppression comment applies to: its own line when code
/// comes before it, else the next line that holds neither only blanks nor
/// only a comment.
fn target_line(text: &str, lines: &LineIndex, comment: Span) -> usize {
    let line = lines.line_of(comment.start as usize);
    let (start, _) = lines.line_range(line, text);
    let before = text.get(start..comment.start as usize).unwrap_or("");
    if !before.trim().is_empty() {
        return line;
    }
    let mut next = line + 1;
    while next < lines.line_count() {
        let (s, e) = lines.line_range(next, text);
        let content = text.get(s..e).unwrap_or("").trim();
        if !content.is_empty() && !content.starts_with("//") {
            return next;
        }
        next += 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn suppressions_read_codes_and_need_a_reason() {
        assert_eq!(parse(" allow W0305 \"over the VPN\""), Ok(vec!["W0305".to_owned()]));
        assert_eq!(parse("allow W0305, W0309 \"both\""), Ok(vec!["W0305".to_owned(), "W0309".to_owned()]));
        // A comment after it is not part of it.
        assert_eq!(parse("allow W0305 \"why\"  // expect: W0312"), Ok(vec!["W0305".to_owned()]));
        for (bad, why) in [
            ("allow W0305", "gives no reason"),
            ("allow W0305  // expect: W0313", "gives no reason"),
            ("allow W0305 \"\"", "gives no reason"),
            ("allow W0305 \"unclosed", "gives no reason"),
            ("allow \"no code\"", "names no lint code"),
            ("allow E0202 \"an error\"", "`E0202` is not a lint code"),
            ("allow W9999 \"unknown\"", "`W9999` is not a lint code"),
            ("deny W0305 \"x\"", "must read"),
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
