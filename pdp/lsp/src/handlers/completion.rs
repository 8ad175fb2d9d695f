//! `textDocument/completion`: keywords, attribute roots and declared names; after `data.`
//! the data lists, after `path.` the route's parameters, after `body.…` the schema's fields.

use lsp_types::{CompletionItem, CompletionItemKind, CompletionParams, CompletionResponse, Documentation};
use warden_language::LineIndex;
use warden_language::ast::{Field, Root, TypeKind};

use super::dotted_chain;
use crate::documents::Documents;
use crate::from_proto;
use crate::nav::{self, Analysis, Declared};

/// What may be written at the cursor.
pub(crate) fn completion(documents: &Documents, p: &CompletionParams) -> Option<CompletionResponse> {
    let set = Analysis::new(documents, &p.text_document_position.text_document.uri)?;
    let text = set.text()?;
    let here = from_proto::offset(text, &LineIndex::new(text), p.text_document_position.position);
    let before = text.get(..here).unwrap_or("");
    let word_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let declared = |d: &Declared| CompletionItem {
        label: d.name.clone(),
        kind: Some(match d.keyword {
            "data" => CompletionItemKind::VARIABLE,
            "limit" => CompletionItemKind::CONSTANT,
            "schema" => CompletionItemKind::STRUCT,
            _ => CompletionItemKind::MODULE,
        }),
        detail: Some(format!("{} {}", d.keyword, d.name)),
        documentation: d.doc.clone().map(Documentation::String),
        ..CompletionItem::default()
    };
    let names = set.declared.iter().filter(|d| d.keyword != "test");
    let field = |name: &str, detail: String, doc: Option<String>| CompletionItem {
        label: name.to_owned(),
        kind: Some(CompletionItemKind::FIELD),
        detail: Some(detail),
        documentation: doc.map(Documentation::String),
        ..CompletionItem::default()
    };
    // `body.` alone does not parse, and a route with a syntax error is left
    // out of the AST: complete against the text with a placeholder field.
    let patched = word_start.ends_with('.').then(|| {
        warden_language::parse(&format!("{}x{}", text.get(..here).unwrap_or(""), text.get(here..).unwrap_or("")))
    });
    let route = patched.as_ref().or(set.asts.get(set.current)).and_then(|ast| nav::route_at(ast, here));
    let chain = dotted_chain(word_start);
    let items: Vec<CompletionItem> = if word_start.ends_with("data.") {
        names.filter(|d| d.keyword == "data").map(declared).collect()
    } else if word_start.ends_with("path.") {
        route.map_or_else(Vec::new, |(r, _)| {
            nav::path_params(r).into_iter().map(|p| field(p, "path parameter".to_owned(), None)).collect()
        })
    } else if let Some(["body", fields @ ..]) = chain.as_deref() {
        // `body.` or `body.a.b.`: the fields of the schema at that depth.
        let schema = route.and_then(|(_, schema)| schema);
        let fields_of = |file: usize, fields: &[Field]| -> Vec<CompletionItem> {
            let text = set.files.get(file).map_or("", |(_, t)| t.as_str());
            fields
                .iter()
                .map(|f| field(&f.name.name, f.ty.span.text(text).to_owned(), f.doc.as_ref().map(|d| d.text.clone())))
                .collect()
        };
        match (schema, fields) {
            (Some(schema), []) => {
                nav::schema_fields(&set.asts, schema).map_or_else(Vec::new, |(file, f)| fields_of(file, f))
            }
            (Some(schema), fields) => nav::resolve_field(&set.asts, schema, fields)
                .and_then(|(_, f)| match &f.ty.kind {
                    TypeKind::Named(inner) => nav::schema_fields(&set.asts, &inner.name),
                    _ => None,
                })
                .map_or_else(Vec::new, |(file, f)| fields_of(file, f)),
            (None, _) => Vec::new(),
        }
    } else if word_start.ends_with('.') {
        Vec::new()
    } else {
        let keyword = |k: &&str| CompletionItem {
            label: (*k).to_owned(),
            kind: Some(CompletionItemKind::KEYWORD),
            ..CompletionItem::default()
        };
        let root = |r: &Root| CompletionItem {
            label: r.as_str().to_owned(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some("attribute root".to_owned()),
            ..CompletionItem::default()
        };
        // Every keyword of the grammar (one list, checked against it) and
        // the word operators.
        warden_language::KEYWORDS
            .iter()
            .chain(warden_language::keywords::WORD_OPERATORS)
            .map(keyword)
            .chain(Root::ALL.iter().map(root))
            .chain(names.map(declared))
            .collect()
    };
    Some(CompletionResponse::Array(items))
}
