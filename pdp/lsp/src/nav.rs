//! Navigation for `warden lsp`: the declared names of a policy set (zones, limits, schemas,
//! data, apis, resources, tests) and where each is used, for hover, definition, references,
//! the outline and completion.
//!
//! Uses are found by walking the typed AST with the shared visitor
//! ([`warden_language::ast::visit`]): every identifier, and the first field
//! after `data` in an expression. A node the AST gains is walked as soon as
//! the visitor knows it; nothing here depends on field names.

use std::collections::HashSet;
use std::path::PathBuf;

use lsp_types::{Position, Uri};
use warden_language::ast::visit::{self, Visit};
use warden_language::ast::{
    ApiItem, BodySpec, Decl, Expr, ExprKind, Field, Ident, PathSegment, Root, Route, SegmentKind, StmtKind, TypeKind,
};
use warden_language::{LineIndex, Parsed, Span};

use crate::documents::{Documents, set_root};
use crate::{from_proto, to_proto};

/// One declaration of a named thing.
pub struct Declared {
    /// Index of the file it is in.
    pub file: usize,
    /// `zone`, `limit`, `ban`, `schema`, `data`, `api`, `resource`, `exchange` or `test`.
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
            out.push(Declared {
                file,
                keyword: decl.keyword(),
                name: decl.name_text().to_owned(),
                name_span: decl.name_span(),
                span: decl.span(),
                doc: decl.doc().map(|d| d.text.clone()),
            });
        }
    }
    out
}

/// Every occurrence of a declared name (tests excluded: their names are
/// strings), in file and source order.
pub fn occurrences(files: &[Parsed], declared: &[Declared]) -> Vec<Occurrence> {
    let names: HashSet<&str> = declared.iter().filter(|d| d.keyword != "test").map(|d| d.name.as_str()).collect();
    let mut out = Vec::new();
    for (file, parsed) in files.iter().enumerate() {
        let mut found = Names::default();
        found.visit_file(&parsed.file);
        out.extend(found.names.into_iter().filter(|(name, _)| names.contains(name)).map(|(name, span)| Occurrence {
            file,
            name: name.to_owned(),
            span,
        }));
    }
    out
}

/// Collects every identifier and every `data.NAME`, in source order.
#[derive(Default)]
struct Names<'a> {
    names: Vec<(&'a str, Span)>,
}

impl<'a> Visit<'a> for Names<'a> {
    fn visit_ident(&mut self, ident: &'a Ident) {
        self.names.push((&ident.name, ident.span));
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let ExprKind::Attr { root, path } = &expr.kind
            && root.node == Root::Data
            && let Some(first) = path.first()
            && let SegmentKind::Field(name) = &first.kind
        {
            // The segment's span covers `.name`; the name is its tail.
            let start = first.span.end().saturating_sub(name.len()).max(first.span.start());
            self.names.push((name, Span::new(start, first.span.end())));
        }
        visit::walk_expr(self, expr);
    }
}

/// A policy set parsed for navigation, seen from one of its documents.
pub(crate) struct Analysis {
    /// The set's directory.
    pub(crate) root: PathBuf,
    /// Every file with its text (open buffers over disk).
    pub(crate) files: Vec<(PathBuf, String)>,
    /// Every file parsed, in the same order.
    pub(crate) asts: Vec<Parsed>,
    /// Index of the document the request is about.
    pub(crate) current: usize,
    /// The declarations of the set.
    pub(crate) declared: Vec<Declared>,
    /// Where declared names are written.
    pub(crate) occurrences: Vec<Occurrence>,
}

impl Analysis {
    /// The parsed files of the set `uri` belongs to, with the index of `uri`'s file.
    pub(crate) fn new(documents: &Documents, uri: &Uri) -> Option<Analysis> {
        let path = from_proto::path(uri)?;
        let set = documents.load(&set_root(&path), &path);
        let current = set.files.iter().position(|(p, _)| *p == path)?;
        let asts: Vec<Parsed> = set.files.iter().map(|(_, t)| warden_language::parse(t)).collect();
        let declared = declarations(&asts);
        let occurrences = occurrences(&asts, &declared);
        Some(Analysis { root: set.root, files: set.files, asts, current, declared, occurrences })
    }

    /// The text of the current document.
    pub(crate) fn text(&self) -> Option<&str> {
        self.files.get(self.current).map(|(_, text)| text.as_str())
    }

    /// The occurrence of a declared name at `pos` in the current document.
    pub(crate) fn at(&self, pos: Position) -> Option<&Occurrence> {
        let text = self.text()?;
        let offset = from_proto::offset(text, &LineIndex::new(text), pos);
        at(&self.occurrences, self.current, offset)
    }

    /// Where `span` of file `file` is, for the client.
    pub(crate) fn location(&self, file: usize, span: Span) -> Option<lsp_types::Location> {
        let (path, text) = self.files.get(file)?;
        to_proto::location(path, text, span)
    }
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

    #[test]
    fn zones_named_by_mint_and_exchange_are_uses_and_exchanges_are_declarations() {
        let text = "zone edge {\n  issuer \"https://id.example\" {\n    audience \"a\"\n    jwks file \"k.json\"\n  }\n}\n\
                    zone inner {\n  issuer \"https://edge.example\" {\n    audience \"i\"\n    jwks file \"k.json\"\n  }\n}\n\
                    api a in zone edge {\n  auth bearer\n  route GET \"/x\" {\n    allow\n    mint for zone inner\n  }\n}\n\
                    exchange swap from zone inner {\n  auth mtls\n  allow\n  mint for zone edge\n}\n";
        let parsed = vec![warden_language::parse(text)];
        assert!(parsed[0].diagnostics.is_empty(), "{:?}", parsed[0].diagnostics);
        let declared = declarations(&parsed);
        let names: Vec<(&str, &str)> = declared.iter().map(|d| (d.keyword, d.name.as_str())).collect();
        assert_eq!(names, [("zone", "edge"), ("zone", "inner"), ("api", "a"), ("exchange", "swap")]);
        let found = occurrences(&parsed, &declared);
        let starts =
            |name: &str| -> Vec<usize> { found.iter().filter(|o| o.name == name).map(|o| o.span.start()).collect() };
        let at = |needle: &str| text.find(needle).unwrap_or(0);
        // Declared, then the api's zone, then the zone the exchange mints for.
        assert_eq!(starts("edge"), [at("edge {"), at("edge {\n  auth"), at("edge\n}")]);
        // Declared, the route's mint, the exchange's subject zone.
        assert_eq!(starts("inner"), [at("inner {"), at("inner\n  }"), at("inner {\n  auth")]);
    }

    #[test]
    fn schemas_resources_and_test_checks_are_followed_in_source_order() {
        let text = "schema Payee {\n  iban: string\n}\n\
                    schema Transfer {\n  payee: Payee\n  more: [Payee]\n}\n\
                    resource doc in zone edge {\n  body json Transfer\n  action read {\n    allow\n  }\n}\n\
                    test \"reads\" {\n  check doc read\n  expect allow\n}\n";
        let parsed = vec![warden_language::parse(text)];
        assert!(parsed[0].diagnostics.is_empty(), "{:?}", parsed[0].diagnostics);
        let declared = declarations(&parsed);
        let names: Vec<(&str, &str)> = declared.iter().map(|d| (d.keyword, d.name_span.text(text))).collect();
        assert_eq!(names, [("schema", "Payee"), ("schema", "Transfer"), ("resource", "doc"), ("test", "\"reads\"")]);
        // Only declared names count (`string`, `edge` and the action `read` do not);
        // every use is found, in file and source order.
        let occurrences = occurrences(&parsed, &declared);
        let found: Vec<(&str, usize)> = occurrences.iter().map(|o| (o.name.as_str(), o.span.start())).collect();
        let at = |needle: &str, nth: usize| text.match_indices(needle).nth(nth).map_or(0, |(i, _)| i);
        assert_eq!(
            found,
            [
                ("Payee", at("Payee", 0)),
                ("Transfer", at("Transfer", 0)),
                ("Payee", at("Payee", 1)),
                ("Payee", at("Payee", 2)),
                ("doc", at("doc", 0)),
                ("Transfer", at("Transfer", 1)),
                ("doc", at("doc", 1)),
            ]
        );
    }
}
