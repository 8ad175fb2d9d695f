//! Navigation for `warden lsp`: the declared names of a policy set (zones, limits, schemas,
//! data, apis, resources) and where each is used, for hover, definition, references and the outline.
//!
//! Uses are found in the AST, not the text: every identifier node (`{name, span}`
//! in the AST's serialised form) and the first field after `data` in an
//! expression. Serialising keeps this independent of the AST's many node types.

use serde_json::Value;
use warden_language::ast::{ApiItem, BodySpec, Decl, Field, PathSegment, Route, StmtKind, TypeKind};
use warden_language::{Parsed, Span};

/// One declaration of a named thing.
pub struct Declared {
    /// Index of the file it is in.
    pub file: usize,
    /// `zone`, `limit`, `schema`, `data`, `api`, `resource` or `test`.
    pub keyword: &'static str,
    /// Its name.
    pub name: String,
    /// The name as written.
    pub name_span: Span,
    /// The whole declaration.
    pub span: Span,
    /// Its `///` doc comment.
    pub doc: Option<String>,
}

/// One written occurrence of a name (a declaration's own name included).
pub struct Occurrence {
    /// Index of the file it is in.
    pub file: usize,
    /// The name.
    pub name: String,
    /// Where.
    pub span: Span,
}

/// The declarations of every file, in file and source order.
pub fn declarations(files: &[Parsed]) -> Vec<Declared> {
    let mut out = Vec::new();
    for (file, parsed) in files.iter().enumerate() {
        for decl in &parsed.file.decls {
            let (name, name_span) = match decl {
                Decl::Zone(d) => (d.name.name.clone(), d.name.span),
                Decl::Limit(d) => (d.name.name.clone(), d.name.span),
                Decl::Schema(d) => (d.name.name.clone(), d.name.span),
                Decl::Data(d) => (d.name.name.clone(), d.name.span),
                Decl::Api(d) => (d.name.name.clone(), d.name.span),
                Decl::Resource(d) => (d.name.name.clone(), d.name.span),
                Decl::Test(d) => (d.name.value.clone(), d.name.span),
            };
            out.push(Declared {
                file,
                keyword: decl.keyword(),
                name,
                name_span,
                span: decl.span(),
                doc: decl.doc().map(|d| d.text.clone()),
            });
        }
    }
    out
}

/// Every occurrence of a declared name (tests excluded: their names are strings).
pub fn occurrences(files: &[Parsed], declared: &[Declared]) -> Vec<Occurrence> {
    let names: std::collections::HashSet<&str> =
        declared.iter().filter(|d| d.keyword != "test").map(|d| d.name.as_str()).collect();
    let mut out = Vec::new();
    for (file, parsed) in files.iter().enumerate() {
        let Ok(tree) = serde_json::to_value(&parsed.file) else { continue };
        let mut found = Vec::new();
        walk(&tree, &mut found);
        out.extend(
            found.into_iter().filter(|(name, _)| names.contains(name.as_str())).map(|(name, span)| Occurrence {
                file,
                name,
                span,
            }),
        );
    }
    out
}

/// Collects identifier nodes and `data.NAME` fields from a serialised AST.
fn walk(value: &Value, out: &mut Vec<(String, Span)>) {
    match value {
        Value::Object(map) => {
            if map.len() == 2
                && let (Some(Value::String(name)), Some(Value::String(span))) = (map.get("name"), map.get("span"))
                && let Some(span) = parse_span(span)
            {
                out.push((name.clone(), span));
                return;
            }
            if let Some(Value::Object(attr)) = map.get("Attr")
                && attr.get("root").and_then(|r| r.get("node")) == Some(&Value::String("Data".to_owned()))
                && let Some(first) = attr.get("path").and_then(|p| p.get(0))
                && let Some(Value::String(name)) = first.get("kind").and_then(|k| k.get("Field"))
                && let Some(span) = first.get("span").and_then(Value::as_str).and_then(parse_span)
            {
                // The segment's span covers `.name`; the name is its tail.
                let start = span.end().saturating_sub(name.len()).max(span.start());
                out.push((name.clone(), Span::new(start, span.end())));
            }
            for v in map.values() {
                walk(v, out);
            }
        }
        Value::Array(items) => {
            for v in items {
                walk(v, out);
            }
        }
        _ => {}
    }
}

fn parse_span(text: &str) -> Option<Span> {
    let (start, end) = text.split_once("..")?;
    Some(Span::new(start.parse().ok()?, end.parse().ok()?))
}

/// The occurrence at byte `offset` of `file`, if any.
pub fn at(occurrences: &[Occurrence], file: usize, offset: usize) -> Option<&Occurrence> {
    occurrences.iter().find(|o| o.file == file && o.span.start() <= offset && offset <= o.span.end())
}

/// The route of an api in `parsed` whose block holds byte `offset`, and the
/// schema its JSON body is checked against (the route's `body`, else the api's).
pub fn route_at(parsed: &Parsed, offset: usize) -> Option<(&Route, Option<&str>)> {
    parsed.file.decls.iter().find_map(|decl| {
        let Decl::Api(api) = decl else { return None };
        let route = api.items.iter().find_map(|item| match item {
            ApiItem::Route(r) if r.span.start() <= offset && offset <= r.span.end() => Some(r),
            _ => None,
        })?;
        let schema = body_schema(route.stmts.iter().map(|s| &s.node)).or_else(|| {
            body_schema(api.items.iter().filter_map(|i| match i {
                ApiItem::Stmt(s) => Some(&s.node),
                _ => None,
            }))
        });
        Some((route, schema))
    })
}

fn body_schema<'a>(mut stmts: impl Iterator<Item = &'a StmtKind>) -> Option<&'a str> {
    stmts.find_map(|s| match s {
        StmtKind::Body(BodySpec::Json { schema: Some(name), .. }) => Some(name.name.as_str()),
        _ => None,
    })
}

/// The names of a route's path parameters (`{id}` and `{*rest}`).
pub fn path_params(route: &Route) -> Vec<&str> {
    route
        .template
        .iter()
        .filter_map(|s| match s {
            PathSegment::Param(name) | PathSegment::Tail(name) => Some(name.as_str()),
            PathSegment::Literal(_) => None,
        })
        .collect()
}

/// The fields of the schema named `schema`, with the index of its file.
pub fn schema_fields<'a>(files: &'a [Parsed], schema: &str) -> Option<(usize, &'a [Field])> {
    files.iter().enumerate().find_map(|(file, parsed)| {
        parsed.file.decls.iter().find_map(|d| match d {
            Decl::Schema(s) if s.name.name == schema => Some((file, s.fields.as_slice())),
            _ => None,
        })
    })
}

/// Follows `fields` (the part after `body.`) through nested schemas from
/// `schema`: the last field and the index of the file it is declared in.
pub fn resolve_field<'a>(files: &'a [Parsed], schema: &str, fields: &[&str]) -> Option<(usize, &'a Field)> {
    let (mut file, mut current) = schema_fields(files, schema)?;
    let mut found = None;
    for name in fields {
        if let Some((_, previous)) = found {
            let next: &Field = previous;
            let TypeKind::Named(inner) = &next.ty.kind else { return None };
            (file, current) = schema_fields(files, &inner.name)?;
        }
        found = Some((file, current.iter().find(|f| f.name.name == *name)?));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_in_declarations_statements_and_data_expressions() {
        let text = "data tellers = file \"t.json\"\nlimit per_ip = 5 per 1m by source.ip\n\
                    zone edge {\n  issuer \"https://id.example\" {\n    audience \"a\"\n    jwks file \"k.json\"\n  }\n}\n\
                    api a in zone edge {\n  host \"h\"\n  limit per_ip\n  route GET \"/x\" {\n    allow when claim.sub in data.tellers\n  }\n}\n";
        let parsed = vec![warden_language::parse(text)];
        assert!(parsed[0].diagnostics.is_empty(), "{:?}", parsed[0].diagnostics);
        let declared = declarations(&parsed);
        let names: Vec<&str> = declared.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["tellers", "per_ip", "edge", "a"]);
        let found = occurrences(&parsed, &declared);
        let spans =
            |name: &str| -> Vec<&str> { found.iter().filter(|o| o.name == name).map(|o| o.span.text(text)).collect() };
        assert_eq!(spans("tellers"), ["tellers", "tellers"]);
        assert_eq!(spans("per_ip"), ["per_ip", "per_ip"]);
        assert_eq!(spans("edge"), ["edge", "edge"]);
        let use_of_data = text.rfind("tellers").unwrap_or(0);
        assert_eq!(at(&found, 0, use_of_data + 2).map(|o| o.name.as_str()), Some("tellers"));
    }
}
