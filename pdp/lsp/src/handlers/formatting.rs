//! `textDocument/formatting`: the whole document replaced by its canonical form.

use lsp_types::{DocumentFormattingParams, Position, Range, TextEdit};
use warden_language::LineIndex;

use crate::documents::Documents;
use crate::{from_proto, to_proto};

/// One edit replacing the whole text, none when it is already canonical, and
/// `None` for a file with errors (the formatter prints only what parsed).
pub(crate) fn formatting(documents: &Documents, p: &DocumentFormattingParams) -> Option<Vec<TextEdit>> {
    let path = from_proto::path(&p.text_document.uri)?;
    let text = documents.text(&path)?;
    let formatted = warden_language::format::format_source(&text).ok()?;
    if formatted == text {
        return Some(Vec::new());
    }
    let range =
        Range { start: Position::new(0, 0), end: to_proto::position(&text, &LineIndex::new(&text), text.len()) };
    Some(vec![TextEdit { range, new_text: formatted }])
}
