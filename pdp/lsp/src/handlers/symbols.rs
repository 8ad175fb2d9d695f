//! `textDocument/documentSymbol`: the outline, one symbol per declaration of the document.

use lsp_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, SymbolKind};
use warden_language::LineIndex;

use crate::documents::Documents;
use crate::nav::Analysis;
use crate::to_proto::range;

/// The document's declarations in source order, each ranging over the whole
/// declaration with its name selected.
#[expect(deprecated, reason = "`DocumentSymbol::deprecated` must be written out; it stays `None`")]
pub(crate) fn symbols(documents: &Documents, p: &DocumentSymbolParams) -> Option<DocumentSymbolResponse> {
    let set = Analysis::new(documents, &p.text_document.uri)?;
    let text = set.text()?;
    let index = LineIndex::new(text);
    let symbols = set
        .declared
        .iter()
        .filter(|d| d.file == set.current)
        .map(|d| DocumentSymbol {
            name: d.name.clone(),
            detail: Some(d.keyword.to_owned()),
            kind: match d.keyword {
                "zone" | "api" => SymbolKind::NAMESPACE,
                "limit" => SymbolKind::CONSTANT,
                "schema" => SymbolKind::STRUCT,
                "data" => SymbolKind::VARIABLE,
                "resource" => SymbolKind::CLASS,
                _ => SymbolKind::METHOD,
            },
            tags: None,
            deprecated: None,
            range: range(text, &index, d.span.to(d.name_span)),
            selection_range: range(text, &index, d.name_span),
            children: None,
        })
        .collect();
    Some(DocumentSymbolResponse::Nested(symbols))
}
