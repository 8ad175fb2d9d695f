//! LSP values → Warden values: UTF-16 positions as byte offsets, `file:` URIs as paths.

use std::path::PathBuf;

use lsp_types::{Position, Uri};
use warden_language::LineIndex;

/// The byte offset of an LSP position (clamped to the line and the text).
pub(crate) fn offset(text: &str, index: &LineIndex, pos: Position) -> usize {
    let line = pos.line as usize;
    if line >= index.line_count() {
        return text.len();
    }
    let (start, end) = index.line_range(line, text);
    let mut units = 0usize;
    for (i, c) in text.get(start..end).unwrap_or("").char_indices() {
        if units >= pos.character as usize {
            return start + i;
        }
        units += c.len_utf16();
    }
    end
}

/// The path of a `file:` URI (other schemes have none).
pub(crate) fn path(uri: &Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}
