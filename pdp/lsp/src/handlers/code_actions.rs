//! `textDocument/codeAction`: quick fixes for the lints whose fix is mechanical, on
//! the diagnostics the editor sends back: W0312 (an unused suppression: remove it)
//! and W0307 (a key set over plain http: fetch it over `https://`).

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, Diagnostic, DocumentChanges, NumberOrString,
    OneOf, OptionalVersionedTextDocumentIdentifier, Position, Range, TextDocumentEdit, TextEdit, WorkspaceEdit,
};
use warden_language::LineIndex;

use crate::documents::Documents;
use crate::from_proto;

/// The quick fixes for the diagnostics of the request.
pub(crate) fn code_actions(documents: &Documents, p: &CodeActionParams) -> Option<Vec<CodeActionOrCommand>> {
    let path = from_proto::path(&p.text_document.uri)?;
    let text = documents.text(&path)?;
    let index = LineIndex::new(&text);
    let mut actions = Vec::new();
    for d in &p.context.diagnostics {
        let code = match &d.code {
            Some(NumberOrString::String(code)) => code.as_str(),
            _ => continue,
        };
        let fix = match code {
            "W0312" => remove_suppression(&text, &index, d).map(|e| ("remove the unused suppression", e)),
            "W0307" => https(&text, &index, d).map(|e| ("fetch the key set over https://", e)),
            _ => None,
        };
        let Some((title, edit)) = fix else { continue };
        let change = TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier { uri: p.text_document.uri.clone(), version: None },
            edits: vec![OneOf::Left(edit)],
        };
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: title.to_owned(),
            kind: Some(CodeActionKind::QUICKFIX),
            diagnostics: Some(vec![d.clone()]),
            edit: Some(WorkspaceEdit {
                document_changes: Some(DocumentChanges::Edits(vec![change])),
                ..WorkspaceEdit::default()
            }),
            is_preferred: Some(true),
            ..CodeAction::default()
        }));
    }
    Some(actions)
}

/// Deletes the suppression comment: its whole line when it stands alone,
/// else the comment and the blanks before it.
fn remove_suppression(text: &str, index: &LineIndex, d: &Diagnostic) -> Option<TextEdit> {
    let start = from_proto::offset(text, index, d.range.start);
    let end = from_proto::offset(text, index, d.range.end);
    if !text.get(start..end)?.starts_with("//") {
        return None;
    }
    let line = d.range.start.line;
    let (line_start, _) = index.line_range(line as usize, text);
    let before = text.get(line_start..start)?;
    let range = if before.trim().is_empty() {
        Range { start: Position { line, character: 0 }, end: Position { line: line + 1, character: 0 } }
    } else {
        // The blanks between the code and the comment go too (ASCII: one UTF-16 unit each).
        let blanks = u32::try_from(before.len() - before.trim_end().len()).ok()?;
        let from = Position { line, character: d.range.start.character.checked_sub(blanks)? };
        Range { start: from, end: d.range.end }
    };
    Some(TextEdit { range, new_text: String::new() })
}

/// `"http://…"` → `"https://…"`: the scheme after the opening quote.
fn https(text: &str, index: &LineIndex, d: &Diagnostic) -> Option<TextEdit> {
    let start = from_proto::offset(text, index, d.range.start);
    let literal = text.get(start..)?;
    let scheme = literal.get(1..8)?;
    if !literal.starts_with('"') || !scheme.eq_ignore_ascii_case("http://") {
        return None;
    }
    let at = |character: u32| Position { line: d.range.start.line, character };
    let first = d.range.start.character.checked_add(1)?;
    Some(TextEdit { range: Range { start: at(first), end: at(first + 7) }, new_text: "https://".to_owned() })
}
