//! `textDocument/hover`: the declarations of the name under the cursor with their doc
//! comments, the type of a `body.x` field, and what the diagnostic under the cursor means.

use lsp_types::{Hover, HoverContents, HoverParams, MarkupContent, MarkupKind};
use warden_compiler::lints;
use warden_language::{LineIndex, Span};

use super::dotted_chain;
use crate::diagnostics::check;
use crate::documents::{Documents, LoadedSet};
use crate::nav::{self, Analysis};
use crate::{from_proto, to_proto};

/// The declarations of the name under the cursor (kind, name, doc
/// comment), then what the diagnostic under the cursor means, if any.
pub(crate) fn hover(documents: &Documents, p: &HoverParams) -> Option<Hover> {
    let at = &p.text_document_position_params;
    let set = Analysis::new(documents, &at.text_document.uri)?;
    let text = set.text()?;
    let index = LineIndex::new(text);
    let mut sections = Vec::new();
    let mut span = None;
    if let Some(occurrence) = set.at(at.position) {
        for d in set.declared.iter().filter(|d| d.name == occurrence.name && d.keyword != "test") {
            let mut section = format!("```warden\n{} {}\n```", d.keyword, d.name);
            if let Some(doc) = &d.doc {
                section.push_str("\n\n");
                section.push_str(doc);
            }
            sections.push(section);
        }
        span = Some(occurrence.span);
    }
    let here = from_proto::offset(text, &index, at.position);
    if span.is_none()
        && let Some((section, field_span)) = body_field(&set, here)
    {
        sections.push(section);
        span = Some(field_span);
    }
    if let Some((explanation, diagnostic_span)) = explain(&set, here) {
        sections.push(explanation);
        span = span.or(Some(diagnostic_span));
    }
    let span = span?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: sections.join("\n\n---\n\n"),
        }),
        range: Some(to_proto::range(text, &index, span)),
    })
}

/// What the diagnostic at byte `here` of the current file means (a lint's
/// full documentation, an error's summary), and its span.
fn explain(set: &Analysis, here: usize) -> Option<(String, Span)> {
    let loaded = LoadedSet { root: set.root.clone(), files: set.files.clone(), unreadable: Vec::new() };
    let (_, d) = check(&loaded)
        .into_iter()
        .find(|(file, d)| *file == set.current && d.span.start() <= here && here <= d.span.end())?;
    let code = d.code.as_str();
    let value = match lints::info(code) {
        Some(lint) => {
            format!("**{code}** `{}`: {}\n\n{}\n\n**Fix:** {}", lint.name, lint.summary, lint.explanation, lint.fix)
        }
        None => {
            let summary = warden_language::codes::ALL
                .iter()
                .chain(warden_compiler::codes::ALL.iter())
                .find(|(c, _)| c.as_str() == code)
                .map_or("a policy error", |(_, s)| s);
            format!("**{code}**: {summary}")
        }
    };
    Some((value, d.span))
}

/// Hover over a field of `body.…` in a route with a JSON schema: its type and doc comment.
fn body_field(set: &Analysis, here: usize) -> Option<(String, Span)> {
    let text = set.text()?;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let end = here + text.get(here..)?.find(|c: char| !ident(c)).unwrap_or(text.len() - here);
    let word_start = text.get(..here)?.trim_end_matches(ident).len();
    let chain = dotted_chain(text.get(..word_start)?)?;
    let ["body", fields @ ..] = chain.as_slice() else { return None };
    let name = text.get(word_start..end)?;
    let mut path: Vec<&str> = fields.to_vec();
    path.push(name);
    let (_, schema) = nav::route_at(set.asts.get(set.current)?, here)?;
    let (file, field) = nav::resolve_field(&set.asts, schema?, &path)?;
    let field_text = set.files.get(file).map_or("", |(_, t)| t.as_str());
    let mut section = format!(
        "```warden\nbody.{}{}: {}\n```",
        path.join("."),
        if field.optional { "?" } else { "" },
        field.ty.span.text(field_text)
    );
    if let Some(doc) = &field.doc {
        section.push_str("\n\n");
        section.push_str(&doc.text);
    }
    Some((section, Span::new(word_start, end)))
}
