//! `textDocument/definition` and `textDocument/references` for declared names, across the set.

use lsp_types::{GotoDefinitionParams, GotoDefinitionResponse, Location, ReferenceParams};
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
