//! `warden lsp` (`warden-lsp`): a language server on stdio (JSON-RPC, `lsp-server`) over the compiler crate:
//! diagnostics for the whole policy set on open/change/save, formatting, hover (doc
//! comments of names, the type of a `body.x` field, what a diagnostic's code means), go to
//! definition, find references, the outline ([`nav`]) and completion of keywords, declared
//! names, attribute roots, route parameters after `path.` and schema fields after `body.`.
//!
//! The server is synchronous and keeps only the text of open documents;
//! every change re-reads the policy set the document belongs to (open
//! buffers override the files on disk) and runs the same checks and lints
//! as `warden lint`. Nothing reachable from a client message panics: a
//! request with bad parameters gets an `InvalidParams` error, a notification
//! with bad parameters is ignored, and a message that is not JSON-RPC is
//! skipped ([`transport`]).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr as _;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    Diagnostic as LspDiagnostic, DiagnosticSeverity, DidChangeTextDocumentParams, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, DidSaveTextDocumentParams, DocumentFormattingParams, NumberOrString, Position,
    PublishDiagnosticsParams, Range, SaveOptions, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, TextEdit, Uri,
};
use warden_compiler::{FileDiagnostic, lints};
use warden_language::{Diagnostic, LineIndex, Severity};

use warden_project::{FsLoader, collect, read};

mod nav;
mod transport;

/// Serves one client over stdin and stdout until it says `exit` (or closes
/// stdin); `false` when the session could not start or ended in error.
pub fn run() -> bool {
    let (connection, reader, writer) = match transport::stdio() {
        Ok(io) => io,
        Err(err) => {
            eprintln!("error: cannot start the language server: {err}");
            return false;
        }
    };
    let capabilities = match serde_json::to_value(capabilities()) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("error: cannot describe the server: {err}");
            return false;
        }
    };
    if let Err(err) = connection.initialize(capabilities) {
        eprintln!("error: the client did not initialise the session: {err}");
        return false;
    }
    let mut server = Server::default();
    let ok = server.main_loop(&connection);
    drop(connection);
    // The reader may be blocked on stdin after `exit`; only the writer is
    // waited for, so every answer is out before the process ends.
    drop(reader);
    writer.join().is_ok() && ok
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::FULL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..TextDocumentSyncOptions::default()
        })),
        document_formatting_provider: Some(lsp_types::OneOf::Left(true)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp_types::OneOf::Left(true)),
        references_provider: Some(lsp_types::OneOf::Left(true)),
        document_symbol_provider: Some(lsp_types::OneOf::Left(true)),
        completion_provider: Some(lsp_types::CompletionOptions {
            trigger_characters: Some(vec![".".to_owned()]),
            ..lsp_types::CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}

/// The open documents (their unsaved text) and, per policy set, the files
/// diagnostics were last published for, so that fixed files are cleared.
#[derive(Default)]
struct Server {
    open: HashMap<PathBuf, String>,
    published: HashMap<PathBuf, Vec<PathBuf>>,
}

impl Server {
    /// Serves until `shutdown` and `exit`, or until the client goes away.
    fn main_loop(&mut self, connection: &Connection) -> bool {
        for message in &connection.receiver {
            match message {
                Message::Request(request) => {
                    match connection.handle_shutdown(&request) {
                        Ok(true) => return true,
                        Ok(false) => {}
                        Err(err) => {
                            eprintln!("error: {err}");
                            return false;
                        }
                    }
                    let response = self.request(request);
                    if connection.sender.send(Message::Response(response)).is_err() {
                        return false;
                    }
                }
                Message::Notification(notification) => {
                    for out in self.notification(notification) {
                        if connection.sender.send(Message::Notification(out)).is_err() {
                            return false;
                        }
                    }
                }
                Message::Response(_) => {}
            }
        }
        // The client closed the stream without `shutdown`.
        false
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            "textDocument/formatting" => {
                params::<DocumentFormattingParams>(&request).map(|p| self.format(&p)).and_then(encode)
            }
            "textDocument/hover" => params::<lsp_types::HoverParams>(&request).map(|p| self.hover(&p)).and_then(encode),
            "textDocument/definition" => {
                params::<lsp_types::GotoDefinitionParams>(&request).map(|p| self.definition(&p)).and_then(encode)
            }
            "textDocument/references" => {
                params::<lsp_types::ReferenceParams>(&request).map(|p| self.references(&p)).and_then(encode)
            }
            "textDocument/completion" => {
                params::<lsp_types::CompletionParams>(&request).map(|p| self.complete(&p)).and_then(encode)
            }
            "textDocument/documentSymbol" => {
                params::<lsp_types::DocumentSymbolParams>(&request).map(|p| self.symbols(&p)).and_then(encode)
            }
            _ => Err((ErrorCode::MethodNotFound, format!("`{}` is not supported", request.method))),
        };
        respond(id, result)
    }

    fn notification(&mut self, notification: Notification) -> Vec<Notification> {
        if notification.method == "workspace/didChangeWatchedFiles" {
            // A file changed on disk (a branch switch, another editor): re-check each set once.
            let Some(p) = note::<lsp_types::DidChangeWatchedFilesParams>(&notification) else { return Vec::new() };
            let mut roots: Vec<PathBuf> = Vec::new();
            let mut out = Vec::new();
            for path in p.changes.iter().filter_map(|c| to_path(&c.uri)) {
                let root = set_root(&path);
                if !roots.contains(&root) {
                    roots.push(root);
                    out.extend(self.diagnose(&path));
                }
            }
            return out;
        }
        let Some(path) = (match notification.method.as_str() {
            "textDocument/didOpen" => note::<DidOpenTextDocumentParams>(&notification).and_then(|p| {
                let path = to_path(&p.text_document.uri)?;
                self.open.insert(path.clone(), p.text_document.text);
                Some(path)
            }),
            "textDocument/didChange" => note::<DidChangeTextDocumentParams>(&notification).and_then(|p| {
                let path = to_path(&p.text_document.uri)?;
                // Full synchronisation: the last change holds the whole text.
                let text = p.content_changes.into_iter().last()?.text;
                self.open.insert(path.clone(), text);
                Some(path)
            }),
            "textDocument/didSave" => {
                note::<DidSaveTextDocumentParams>(&notification).and_then(|p| to_path(&p.text_document.uri))
            }
            "textDocument/didClose" => note::<DidCloseTextDocumentParams>(&notification).and_then(|p| {
                let path = to_path(&p.text_document.uri)?;
                self.open.remove(&path);
                Some(path)
            }),
            _ => None,
        }) else {
            return Vec::new();
        };
        self.diagnose(&path)
    }

    /// The text of a file: the open buffer, else the file on disk.
    fn text(&self, path: &Path) -> Option<String> {
        match self.open.get(path) {
            Some(text) => Some(text.clone()),
            None => {
                let source = read(path);
                source.error.is_none().then_some(source.text)
            }
        }
    }

    fn format(&self, p: &DocumentFormattingParams) -> Option<Vec<TextEdit>> {
        let path = to_path(&p.text_document.uri)?;
        let text = self.text(&path)?;
        // A file with errors is left alone: the formatter prints only what parsed.
        let formatted = warden_language::format::format_source(&text).ok()?;
        if formatted == text {
            return Some(Vec::new());
        }
        let range = Range { start: Position::new(0, 0), end: position(&text, &LineIndex::new(&text), text.len()) };
        Some(vec![TextEdit { range, new_text: formatted }])
    }

    /// The parsed files of the set `uri` belongs to, with the index of `uri`'s file.
    fn parsed(&self, uri: &Uri) -> Option<Parsed> {
        let path = to_path(uri)?;
        let set = self.load(&set_root(&path), &path);
        let current = set.files.iter().position(|(p, _)| *p == path)?;
        let parsed: Vec<warden_language::Parsed> = set.files.iter().map(|(_, t)| warden_language::parse(t)).collect();
        let declared = nav::declarations(&parsed);
        let occurrences = nav::occurrences(&parsed, &declared);
        Some(Parsed { root: set.root, files: set.files, asts: parsed, current, declared, occurrences })
    }

    /// The declarations of the name under the cursor (kind, name, doc
    /// comment), then what the diagnostic under the cursor means, if any.
    fn hover(&self, p: &lsp_types::HoverParams) -> Option<lsp_types::Hover> {
        let at = &p.text_document_position_params;
        let set = self.parsed(&at.text_document.uri)?;
        let (_, text) = set.files.get(set.current)?;
        let index = LineIndex::new(text);
        let mut sections = Vec::new();
        let mut span = None;
        if let Some((occurrence, _)) = set.at(at.position) {
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
        let here = offset(text, &index, at.position);
        if span.is_none()
            && let Some((section, field_span)) = body_field(&set, here)
        {
            sections.push(section);
            span = Some(field_span);
        }
        if let Some((explanation, diagnostic_span)) = self.explain(&set, here) {
            sections.push(explanation);
            span = span.or(Some(diagnostic_span));
        }
        let span = span?;
        Some(lsp_types::Hover {
            contents: lsp_types::HoverContents::Markup(lsp_types::MarkupContent {
                kind: lsp_types::MarkupKind::Markdown,
                value: sections.join("\n\n---\n\n"),
            }),
            range: Some(range(text, &index, span)),
        })
    }

    /// What the diagnostic at byte `here` of the current file means (a lint's
    /// full documentation, an error's summary), and its span.
    fn explain(&self, set: &Parsed, here: usize) -> Option<(String, warden_language::Span)> {
        let loaded = LoadedSet { root: set.root.clone(), files: set.files.clone(), unreadable: Vec::new() };
        let (_, d) = loaded
            .diagnostics()
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

    /// Keywords, attribute roots and declared names; after `data.` only data lists.
    fn complete(&self, p: &lsp_types::CompletionParams) -> Option<lsp_types::CompletionResponse> {
        use lsp_types::{CompletionItem, CompletionItemKind};
        let set = self.parsed(&p.text_document_position.text_document.uri)?;
        let (_, text) = set.files.get(set.current)?;
        let here = offset(text, &LineIndex::new(text), p.text_document_position.position);
        let before = text.get(..here).unwrap_or("");
        let word_start = before.trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let declared = |d: &nav::Declared| CompletionItem {
            label: d.name.clone(),
            kind: Some(match d.keyword {
                "data" => CompletionItemKind::VARIABLE,
                "limit" => CompletionItemKind::CONSTANT,
                "schema" => CompletionItemKind::STRUCT,
                _ => CompletionItemKind::MODULE,
            }),
            detail: Some(format!("{} {}", d.keyword, d.name)),
            documentation: d.doc.clone().map(lsp_types::Documentation::String),
            ..CompletionItem::default()
        };
        let names = set.declared.iter().filter(|d| d.keyword != "test");
        let field = |name: &str, detail: String, doc: Option<String>| CompletionItem {
            label: name.to_owned(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(detail),
            documentation: doc.map(lsp_types::Documentation::String),
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
            let fields_of = |file: usize, fields: &[warden_language::ast::Field]| -> Vec<CompletionItem> {
                let text = set.files.get(file).map_or("", |(_, t)| t.as_str());
                fields
                    .iter()
                    .map(|f| {
                        field(&f.name.name, f.ty.span.text(text).to_owned(), f.doc.as_ref().map(|d| d.text.clone()))
                    })
                    .collect()
            };
            match (schema, fields) {
                (Some(schema), []) => {
                    nav::schema_fields(&set.asts, schema).map_or_else(Vec::new, |(file, f)| fields_of(file, f))
                }
                (Some(schema), fields) => nav::resolve_field(&set.asts, schema, fields)
                    .and_then(|(_, f)| match &f.ty.kind {
                        warden_language::ast::TypeKind::Named(inner) => nav::schema_fields(&set.asts, &inner.name),
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
            let root = |r: &warden_language::ast::Root| CompletionItem {
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
                .chain(warden_language::ast::Root::ALL.iter().map(root))
                .chain(names.map(declared))
                .collect()
        };
        Some(lsp_types::CompletionResponse::Array(items))
    }

    fn definition(&self, p: &lsp_types::GotoDefinitionParams) -> Option<lsp_types::GotoDefinitionResponse> {
        let set = self.parsed(&p.text_document_position_params.text_document.uri)?;
        let (occurrence, _) = set.at(p.text_document_position_params.position)?;
        let locations: Vec<lsp_types::Location> = set
            .declared
            .iter()
            .filter(|d| d.name == occurrence.name && d.keyword != "test")
            .filter_map(|d| set.location(d.file, d.name_span))
            .collect();
        (!locations.is_empty()).then_some(lsp_types::GotoDefinitionResponse::Array(locations))
    }

    fn references(&self, p: &lsp_types::ReferenceParams) -> Option<Vec<lsp_types::Location>> {
        let set = self.parsed(&p.text_document_position.text_document.uri)?;
        let (occurrence, _) = set.at(p.text_document_position.position)?;
        let is_declaration = |file: usize, span: warden_language::Span| {
            set.declared.iter().any(|d| d.file == file && d.name_span == span)
        };
        Some(
            set.occurrences
                .iter()
                .filter(|o| o.name == occurrence.name)
                .filter(|o| p.context.include_declaration || !is_declaration(o.file, o.span))
                .filter_map(|o| set.location(o.file, o.span))
                .collect(),
        )
    }

    #[expect(deprecated, reason = "`DocumentSymbol::deprecated` must be written out; it stays `None`")]
    fn symbols(&self, p: &lsp_types::DocumentSymbolParams) -> Option<lsp_types::DocumentSymbolResponse> {
        let set = self.parsed(&p.text_document.uri)?;
        let (_, text) = set.files.get(set.current)?;
        let index = LineIndex::new(text);
        let symbols = set
            .declared
            .iter()
            .filter(|d| d.file == set.current)
            .map(|d| lsp_types::DocumentSymbol {
                name: d.name.clone(),
                detail: Some(d.keyword.to_owned()),
                kind: match d.keyword {
                    "zone" | "api" => lsp_types::SymbolKind::NAMESPACE,
                    "limit" => lsp_types::SymbolKind::CONSTANT,
                    "schema" => lsp_types::SymbolKind::STRUCT,
                    "data" => lsp_types::SymbolKind::VARIABLE,
                    "resource" => lsp_types::SymbolKind::CLASS,
                    _ => lsp_types::SymbolKind::METHOD,
                },
                tags: None,
                deprecated: None,
                range: range(text, &index, d.span.to(d.name_span)),
                selection_range: range(text, &index, d.name_span),
                children: None,
            })
            .collect();
        Some(lsp_types::DocumentSymbolResponse::Nested(symbols))
    }

    /// Checks the policy set `path` belongs to and publishes diagnostics for
    /// each of its files (an empty list clears a file's old ones).
    fn diagnose(&mut self, path: &Path) -> Vec<Notification> {
        let root = set_root(path);
        let set = self.load(&root, path);
        let mut by_file: BTreeMap<PathBuf, Vec<LspDiagnostic>> = BTreeMap::new();
        for (file, _) in &set.files {
            by_file.insert(file.clone(), Vec::new());
        }
        for (file, diagnostic) in set.diagnostics() {
            if let Some((file_path, text)) = set.files.get(file) {
                let index = LineIndex::new(text);
                let lsp = to_lsp(&diagnostic, text, &index, file_path);
                by_file.entry(file_path.clone()).or_default().push(lsp);
            }
        }
        let previous = self.published.insert(root, by_file.keys().cloned().collect()).unwrap_or_default();
        for gone in previous {
            by_file.entry(gone).or_default();
        }
        by_file
            .into_iter()
            .filter_map(|(file, diagnostics)| {
                let uri = to_uri(&file)?;
                Some(Notification::new(
                    "textDocument/publishDiagnostics".to_owned(),
                    PublishDiagnosticsParams { uri, diagnostics, version: None },
                ))
            })
            .collect()
    }

    /// The files of the set under `root` (open buffers over disk), plus
    /// `path` itself when it is open but not saved there yet.
    fn load(&self, root: &Path, path: &Path) -> LoadedSet {
        let mut paths = collect(root).unwrap_or_default();
        if !paths.iter().any(|p| p == path) && self.open.contains_key(path) {
            paths.push(path.to_path_buf());
        }
        let mut files = Vec::new();
        let mut unreadable = Vec::new();
        for p in paths {
            match self.open.get(&p) {
                Some(text) => files.push((p, text.clone())),
                None => {
                    let source = read(&p);
                    if let Some(err) = source.error {
                        unreadable.push((files.len(), err));
                    }
                    files.push((p, source.text));
                }
            }
        }
        LoadedSet { root: root.to_path_buf(), files, unreadable }
    }
}

/// The dotted names before a trailing `.` (`… body.payee.` → `["body", "payee"]`).
fn dotted_chain(before: &str) -> Option<Vec<&str>> {
    let before = before.strip_suffix('.')?;
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let chain = before.get(start..)?;
    (!chain.is_empty()).then(|| chain.split('.').collect())
}

/// Hover over a field of `body.…` in a route with a JSON schema: its type and doc comment.
fn body_field(set: &Parsed, here: usize) -> Option<(String, warden_language::Span)> {
    let (_, text) = set.files.get(set.current)?;
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
    Some((section, warden_language::Span::new(word_start, end)))
}

/// A policy set parsed for navigation.
struct Parsed {
    root: PathBuf,
    files: Vec<(PathBuf, String)>,
    asts: Vec<warden_language::Parsed>,
    /// Index of the document the request is about.
    current: usize,
    declared: Vec<nav::Declared>,
    occurrences: Vec<nav::Occurrence>,
}

impl Parsed {
    /// The occurrence of a declared name at `pos` in the current document, and that document's text.
    fn at(&self, pos: Position) -> Option<(&nav::Occurrence, &str)> {
        let (_, text) = self.files.get(self.current)?;
        let at = offset(text, &LineIndex::new(text), pos);
        Some((nav::at(&self.occurrences, self.current, at)?, text.as_str()))
    }

    fn location(&self, file: usize, span: warden_language::Span) -> Option<lsp_types::Location> {
        let (path, text) = self.files.get(file)?;
        Some(lsp_types::Location { uri: to_uri(path)?, range: range(text, &LineIndex::new(text), span) })
    }
}

/// One policy set as the editor sees it.
struct LoadedSet {
    root: PathBuf,
    files: Vec<(PathBuf, String)>,
    /// Files that could not be read or decoded: their diagnostics alone are shown.
    unreadable: Vec<(usize, Diagnostic)>,
}

impl LoadedSet {
    /// Errors and lints, as `warden lint` reports them.
    fn diagnostics(&self) -> Vec<(usize, Diagnostic)> {
        if !self.unreadable.is_empty() {
            return self.unreadable.clone();
        }
        let set = warden_compiler::PolicySet {
            files: self
                .files
                .iter()
                .map(|(path, text)| warden_compiler::SourceFile::new(path.display().to_string(), text.clone()))
                .collect(),
        };
        let loader = FsLoader::for_set(&self.root);
        let diags: Vec<FileDiagnostic> = match warden_compiler::compile(&set, &loader) {
            Ok((graph, mut diags)) => {
                diags.extend(lints::lint(&set, &graph));
                diags
            }
            Err(diags) => diags,
        };
        diags.into_iter().map(|d| (d.file, d.diagnostic)).collect()
    }
}

/// The root of the policy set holding `path`: its directory, or the highest
/// ancestor reached through directories that directly hold `.warden` files
/// (so a file in `bank/tests/` belongs to the `bank` set).
fn set_root(path: &Path) -> PathBuf {
    let holds_policies = |dir: &Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "warden"))
        })
    };
    let mut root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    for _ in 0..32 {
        match root.parent() {
            Some(parent) if !parent.as_os_str().is_empty() && holds_policies(parent) => root = parent.to_path_buf(),
            _ => break,
        }
    }
    root
}

fn to_lsp(d: &Diagnostic, text: &str, index: &LineIndex, path: &Path) -> LspDiagnostic {
    let mut message = d.message.clone();
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    LspDiagnostic {
        range: range(text, index, d.span),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_owned())),
        source: Some("warden".to_owned()),
        message,
        // Secondary labels ("first declared here") are in the same file.
        related_information: to_uri(path).filter(|_| !d.related.is_empty()).map(|uri| {
            d.related
                .iter()
                .map(|label| lsp_types::DiagnosticRelatedInformation {
                    location: lsp_types::Location { uri: uri.clone(), range: range(text, index, label.span) },
                    message: label.message.clone(),
                })
                .collect()
        }),
        ..LspDiagnostic::default()
    }
}

/// The LSP range of a byte span.
pub(crate) fn range(text: &str, index: &LineIndex, span: warden_language::Span) -> Range {
    Range { start: position(text, index, span.start()), end: position(text, index, span.end()) }
}

/// The LSP position of a byte offset: 0-based line and UTF-16 code units
/// into it (what LSP clients count by default).
pub(crate) fn position(text: &str, index: &LineIndex, offset: usize) -> Position {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line = index.line_of(offset);
    let (start, _) = index.line_range(line, text);
    let column = text.get(start.min(offset)..offset).map_or(0, |s| s.encode_utf16().count());
    Position::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

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

fn to_path(uri: &Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

fn to_uri(path: &Path) -> Option<Uri> {
    Uri::from_str(url::Url::from_file_path(path).ok()?.as_str()).ok()
}

type Outcome = Result<serde_json::Value, (ErrorCode, String)>;

fn encode<R: serde::Serialize>(r: R) -> Outcome {
    serde_json::to_value(r).map_err(|err| (ErrorCode::InternalError, format!("cannot encode the answer: {err}")))
}

fn params<P: serde::de::DeserializeOwned>(request: &Request) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(request.params.clone())
        .map_err(|err| (ErrorCode::InvalidParams, format!("bad parameters for `{}`: {err}", request.method)))
}

fn note<P: serde::de::DeserializeOwned>(notification: &Notification) -> Option<P> {
    serde_json::from_value(notification.params.clone()).ok()
}

fn respond(id: RequestId, result: Outcome) -> Response {
    match result {
        Ok(value) => Response::new_ok(id, value),
        Err((code, message)) => Response::new_err(id, code as i32, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_keeps_its_code_help_and_related_labels() {
        let text = "limit a = 5 per 1m by source.ip\nlimit a = 6 per 1m by source.ip\n";
        let d = Diagnostic::error(warden_language::Code("E0201"), warden_language::Span::new(38, 39), "twice")
            .with_help("rename one")
            .with_related(warden_language::Span::new(6, 7), "first declared here");
        let lsp = to_lsp(&d, text, &LineIndex::new(text), Path::new("/p/x.warden"));
        assert_eq!(lsp.code, Some(NumberOrString::String("E0201".to_owned())));
        assert_eq!(lsp.message, "twice\nhelp: rename one");
        assert_eq!(lsp.range, Range { start: Position::new(1, 6), end: Position::new(1, 7) });
        let related = lsp.related_information.unwrap_or_default();
        assert_eq!(related.len(), 1);
        assert_eq!(related[0].message, "first declared here");
        assert_eq!(related[0].location.range, Range { start: Position::new(0, 6), end: Position::new(0, 7) });
        assert_eq!(related[0].location.uri.as_str(), "file:///p/x.warden");
    }

    #[test]
    fn positions_count_utf16_units_and_round_trip() {
        // `é` is one UTF-16 unit and two bytes; `𝄞` is two units and four bytes.
        let text = "a\né𝄞x\n";
        let index = LineIndex::new(text);
        let x = text.find('x').unwrap_or(0);
        assert_eq!(position(text, &index, x), Position::new(1, 3));
        assert_eq!(offset(text, &index, Position::new(1, 3)), x);
        // Past the end of a line clamps to the line's end; past the last line to the text's end.
        assert_eq!(offset(text, &index, Position::new(0, 99)), 1);
        assert_eq!(offset(text, &index, Position::new(99, 0)), text.len());
        // An offset inside a character moves back to its start.
        assert_eq!(position(text, &index, 3), Position::new(1, 0));
    }
}
