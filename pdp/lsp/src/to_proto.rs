//! Warden values → LSP values: byte spans as UTF-16 ranges, diagnostics, file URIs and locations.

use std::path::Path;
use std::str::FromStr as _;

use lsp_types::{Diagnostic as LspDiagnostic, DiagnosticSeverity, NumberOrString, Position, Range, Uri};
use warden_language::{Diagnostic, LineIndex, Severity, Span};

/// The LSP diagnostic of a Warden one: code, severity, help appended to the
/// message, secondary labels as related information in the same file.
pub(crate) fn diagnostic(d: &Diagnostic, text: &str, index: &LineIndex, path: &Path) -> LspDiagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    LspDiagnostic {
        range: range(text, index, d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_owned())),
        source: Some("warden".to_owned()),
        message,
        // Secondary labels ("first declared here") are in the same file.
        related_information: uri(path).filter(|_| !d.related.is_empty()).map(|uri| {
            d.related
                .iter()
                .map(|label| lsp_types::DiagnosticRelatedInformation {
                    location: lsp_types::Location { uri: uri.clone(), range: range(text, index, label.span) },
                    message: label.message.clone(),
                })
                .collect()
        }),
        ..LspDiagnostic::default()
    }
}

/// The LSP range of a byte span.
pub(crate) fn range(text: &str, index: &LineIndex, span: Span) -> Range {
    Range { start: position(text, index, span.start()), end: position(text, index, span.end()) }
}

/// The LSP position of a byte offset: 0-based line and UTF-16 code units
/// into it (what LSP clients count by default).
pub(crate) fn position(text: &str, index: &LineIndex, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = index.line_of(offset);
    let (start, _) = index.line_range(line, text);
    let column = text.get(start.min(offset)..offset).map_or(0, |s| s.encode_utf16().count());
    Position::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

/// The `file:` URI of a path.
pub(crate) fn uri(path: &Path) -> Option<Uri> {
    Uri::from_str(url::Url::from_file_path(path).ok()?.as_str()).ok()
}

/// Where `span` of the file at `path` (whose text is `text`) is.
pub(crate) fn location(path: &Path, text: &str, span: Span) -> Option<lsp_types::Location> {
    Some(lsp_types::Location { uri: uri(path)?, range: range(text, &LineIndex::new(text), span) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::from_proto::offset;

    #[test]
    fn a_diagnostic_keeps_its_code_help_and_related_labels() {
        let text = "limit a = 5 per 1m by source.ip\nlimit a = 6 per 1m by source.ip\n";
        let d = Diagnostic::error(warden_language::Code("E0201"), Span::new(38, 39), "twice")
            .with_help("rename one")
            .with_related(Span::new(6, 7), "first declared here");
        let lsp = diagnostic(&d, text, &LineIndex::new(text), Path::new("/p/x.warden"));
        assert_eq!(lsp.code, Some(NumberOrString::String("E0201".to_owned())));
        assert_eq!(lsp.message, "twice\nhelp: rename one");
        assert_eq!(lsp.range, Range { start: Position::new(1, 6), end: Position::new(1, 7) });
        let related = lsp.related_information.unwrap_or_default();
        assert_eq!(related.len(), 1);
        assert_eq!(related[0].message, "first declared here");
        assert_eq!(related[0].location.range, Range { start: Position::new(0, 6), end: Position::new(0, 7) });
        assert_eq!(related[0].location.uri.as_str(), "file:///p/x.warden");
    }

    #[test]
    fn positions_count_utf16_units_and_round_trip() {
        // `é` is one UTF-16 unit and two bytes; `𝄞` is two units and four bytes.
        let text = "a\né𝄞x\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap_or(0);
        assert_eq!(position(text, &index, x), Position::new(1, 3));
        assert_eq!(offset(text, &index, Position::new(1, 3)), x);
        // Past the end of a line clamps to the line's end; past the last line to the text's end.
        assert_eq!(offset(text, &index, Position::new(0, 99)), 1);
        assert_eq!(offset(text, &index, Position::new(99, 0)), text.len());
        // An offset inside a character moves back to its start.
        assert_eq!(position(text, &index, 3), Position::new(1, 0));
    }
}
