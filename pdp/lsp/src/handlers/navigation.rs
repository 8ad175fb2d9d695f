//! `textDocument/definition`, `textDocument/references` and `textDocument/rename` (with
//! `prepareRename`) for declared names, across the set.

use lsp_types::{
    DocumentChanges, GotoDefinitionParams, GotoDefinitionResponse, Location, OneOf,
    OptionalVersionedTextDocumentIdentifier, PrepareRenameResponse, ReferenceParams, RenameParams, TextDocumentEdit,
    TextDocumentPositionParams, TextEdit, WorkspaceEdit,
};
use warden_language::Span;

use crate::documents::Documents;
use crate::nav::Analysis;

/// Where the name under the cursor is declared (tests have no uses to jump from).
pub(crate) fn definition(documents: &Documents, p: &GotoDefinitionParams) -> Option<GotoDefinitionResponse> {
    let set = Analysis::new(documents, &p.text_document_position_params.text_document.uri)?;
    let occurrence = set.at(p.text_document_position_params.position)?;
    let locations: Vec<Location> = set
        .declared
        .iter()
        .filter(|d| d.name == occurrence.name && d.keyword != "test")
        .filter_map(|d| set.location(d.file, d.name_span))
        .collect();
    (!locations.is_empty()).then_some(GotoDefinitionResponse::Array(locations))
}

/// Every place the name under the cursor is written, its declarations
/// included when the client asks for them.
pub(crate) fn references(documents: &Documents, p: &ReferenceParams) -> Option<Vec<Location>> {
    let set = Analysis::new(documents, &p.text_document_position.text_document.uri)?;
    let occurrence = set.at(p.text_document_position.position)?;
    let is_declaration = |file: usize, span: Span| set.declared.iter().any(|d| d.file == file && d.name_span == span);
    Some(
        set.occurrences
            .iter()
            .filter(|o| o.name == occurrence.name)
            .filter(|o| p.context.include_declaration || !is_declaration(o.file, o.span))
            .filter_map(|o| set.location(o.file, o.span))
            .collect(),
    )
}

/// The name under the cursor and its range, so the editor offers to rename it.
pub(crate) fn prepare_rename(documents: &Documents, p: &TextDocumentPositionParams) -> Option<PrepareRenameResponse> {
    let set = Analysis::new(documents, &p.text_document.uri)?;
    let occurrence = set.at(p.position)?;
    let location = set.location(occurrence.file, occurrence.span)?;
    Some(PrepareRenameResponse::RangeWithPlaceholder { range: location.range, placeholder: occurrence.name.clone() })
}

/// Every place the name under the cursor is written, in every file of the
/// set, renamed to `new_name`. Refused, with the reason, when the new name
/// is not a name the language accepts or another declaration has it.
pub(crate) fn rename(documents: &Documents, p: &RenameParams) -> Result<Option<WorkspaceEdit>, String> {
    let Some(set) = Analysis::new(documents, &p.text_document_position.text_document.uri) else { return Ok(None) };
    let Some(occurrence) = set.at(p.text_document_position.position) else { return Ok(None) };
    let new_name = p.new_name.as_str();
    let valid = new_name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && new_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid || warden_language::keywords::WORD_OPERATORS.contains(&new_name) || RESERVED.contains(&new_name) {
        return Err(format!(
            "`{new_name}` is not a name (letters, digits and `_`, not starting with a digit, not a reserved word)"
        ));
    }
    if new_name != occurrence.name && set.declared.iter().any(|d| d.name == new_name && d.keyword != "test") {
        return Err(format!("`{new_name}` is declared already"));
    }
    // One edit per file, in the set's file order, its occurrences in source order.
    let mut edits: Vec<TextDocumentEdit> = Vec::new();
    for o in set.occurrences.iter().filter(|o| o.name == occurrence.name) {
        let Some(location) = set.location(o.file, o.span) else { continue };
        let edit = OneOf::Left(TextEdit { range: location.range, new_text: new_name.to_owned() });
        match edits.iter_mut().find(|e| e.text_document.uri == location.uri) {
            Some(file) => file.edits.push(edit),
            None => edits.push(TextDocumentEdit {
                text_document: OptionalVersionedTextDocumentIdentifier { uri: location.uri, version: None },
                edits: vec![edit],
            }),
        }
    }
    Ok(Some(WorkspaceEdit { document_changes: Some(DocumentChanges::Edits(edits)), ..WorkspaceEdit::default() }))
}

/// Words a name cannot be, besides the word operators.
const RESERVED: &[&str] = &["true", "false", "null"];
