//! What the playground page asks, as plain functions from JSON text to JSON
//! text: check and lint, format, run the tests, judge one request, draw the
//! graph. `lib.rs` exports them to JavaScript; the tests call them natively.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{Map, Value, json};
use warden_compiler::graph::{Graph, Method, RouteMatch};
use warden_compiler::lints;
use warden_compiler::{FileDiagnostic, Loader, PolicySet, SourceFile};
use warden_engine::limits::Memory;
use warden_engine::path::normalise;
use warden_engine::run::HttpRequest;
use warden_engine::testing::{self, Covers, Replayer};
use warden_language::span::LineIndex;
use warden_language::{Diagnostic, Severity};

use crate::keys::PageKeys;

/// At most this many files in a set, and this many bytes in all.
pub const MAX_FILES: usize = 200;
pub const MAX_BYTES: usize = 4 << 20;
/// At most this many bytes in a judged request's body.
pub const MAX_BODY: usize = 1 << 20;

/// The example sets of `policies/`, as `[(name, [(path, text)])]`.
const EXAMPLES: &[(&str, &[(&str, &str)])] = include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// `[{"name", "files": [{"path", "text"}]}]`.
pub fn examples() -> String {
    let sets: Vec<Value> = EXAMPLES
        .iter()
        .map(|(name, files)| {
            let files: Vec<Value> = files.iter().map(|(path, text)| json!({"path": path, "text": text})).collect();
            json!({"name": name, "files": files})
        })
        .collect();
    Value::Array(sets).to_string()
}

/// The files of a set as the page sends them: `[{"path", "text"}]`.
struct Files {
    files: Vec<(String, String)>,
}

impl Loader for Files {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let path = path.trim_start_matches("./");
        self.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, text)| text.clone().into_bytes())
            .ok_or_else(|| format!("no file `{path}` in the playground"))
    }
}

/// Reads the page's files: the `.warden` ones make the set, the others are
/// what its policies read (key sets, data, clients).
fn load(files: &str) -> Result<(PolicySet, Files), String> {
    let parsed: Vec<Map<String, Value>> =
        serde_json::from_str(files).map_err(|e| format!("the files are not a JSON list of {{path, text}}: {e}"))?;
    if parsed.len() > MAX_FILES {
        return Err(format!("at most {MAX_FILES} files"));
    }
    let mut out = Vec::with_capacity(parsed.len());
    let mut total = 0;
    for f in parsed {
        let path = f.get("path").and_then(Value::as_str).ok_or("a file without a `path`")?;
        let text = f.get("text").and_then(Value::as_str).ok_or("a file without a `text`")?;
        total += path.len() + text.len();
        if total > MAX_BYTES {
            return Err(format!("the files hold more than {} MiB", MAX_BYTES >> 20));
        }
        if path.is_empty() || path.starts_with('/') || path.split('/').any(|s| s == "..") {
            return Err(format!("`{path}` is not a path inside the set"));
        }
        if out.iter().any(|(p, _): &(String, String)| p == path) {
            return Err(format!("`{path}` is given twice"));
        }
        out.push((path.to_owned(), text.to_owned()));
    }
    // In the order `warden` reads a set from disk (names sorted directory by
    // directory), so the revision is the one `warden compile` prints, however
    // the page lists its files.
    let mut policies: Vec<&(String, String)> = out.iter().filter(|(p, _)| p.ends_with(".warden")).collect();
    policies.sort_by(|a, b| std::path::Path::new(&a.0).cmp(std::path::Path::new(&b.0)));
    let set = PolicySet { files: policies.into_iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
    if set.files.is_empty() {
        return Err("no `.warden` file".to_owned());
    }
    Ok((set, Files { files: out }))
}

/// A diagnostic as the page shows it: file, 1-based positions, code, message, help.
fn diagnostic_json(set: &PolicySet, d: &FileDiagnostic) -> Value {
    let file = set.files.get(d.file);
    let (path, text) = file.map_or(("", ""), |f| (f.path.as_str(), f.text.as_str()));
    located(path, text, &d.diagnostic)
}

fn located(path: &str, text: &str, d: &Diagnostic) -> Value {
    let lines = LineIndex::new(text);
    let start = lines.line_col(text, d.span.start as usize);
    let end = lines.line_col(text, d.span.end as usize);
    json!({
        "path": path,
        "severity": if d.severity == Severity::Error { "error" } else { "warning" },
        "code": d.code.as_str(),
        "message": d.message,
        "help": d.help,
        "line": start.line, "column": start.column,
        "end_line": end.line, "end_column": end.column,
    })
}

/// The set compiled, with its warnings and lints; or every diagnostic.
fn compile(set: &PolicySet, loader: &Files) -> Result<(Graph, Vec<Value>), Vec<Value>> {
    match warden_compiler::compile(set, loader) {
        Ok((graph, warnings)) => {
            let lints = lints::lint(set, &graph);
            let diagnostics = warnings.iter().chain(&lints).map(|d| diagnostic_json(set, d)).collect();
            Ok((graph, diagnostics))
        }
        Err(diagnostics) => Err(diagnostics.iter().map(|d| diagnostic_json(set, d)).collect()),
    }
}

/// An answer that could not be given: `{"ok": false, "error", "diagnostics"}`.
fn failed(error: &str, diagnostics: Vec<Value>) -> String {
    json!({"ok": false, "error": error, "diagnostics": diagnostics}).to_string()
}

/// `warden check` and `warden lint`: `{"ok", "revision", "diagnostics"}`.
pub fn check(files: &str) -> String {
    let (set, loader) = match load(files) {
        Ok(x) => x,
        Err(e) => return failed(&e, Vec::new()),
    };
    match compile(&set, &loader) {
        Ok((graph, diagnostics)) => {
            json!({"ok": true, "revision": graph.revision, "diagnostics": diagnostics}).to_string()
        }
        Err(diagnostics) => json!({"ok": false, "revision": null, "diagnostics": diagnostics}).to_string(),
    }
}

/// `warden fmt` of one file: `{"ok": true, "text"}` or its syntax errors.
pub fn format(text: &str) -> String {
    if text.len() > MAX_BYTES {
        return failed("the file is too large", Vec::new());
    }
    match warden_language::format::format_source(text) {
        Ok(formatted) => json!({"ok": true, "text": formatted}).to_string(),
        Err(diagnostics) => {
            let diagnostics = diagnostics.iter().map(|d| located("", text, d)).collect();
            failed("the file does not parse", diagnostics)
        }
    }
}

/// `warden test`: `{"ok", "diagnostics", "results", "coverage"}`.
pub fn run_tests(files: &str) -> String {
    let (set, loader) = match load(files) {
        Ok(x) => x,
        Err(e) => return failed(&e, Vec::new()),
    };
    let (graph, diagnostics) = match compile(&set, &loader) {
        Ok(x) => x,
        Err(diagnostics) => return failed("the set does not compile", diagnostics),
    };
    let keys = PageKeys::default();
    let report = testing::run(&set, &graph, None, &keys);
    let results: Vec<Value> =
        report.results.iter().map(|r| json!({"name": r.name, "file": r.file, "failures": r.failures})).collect();
    let coverage: Vec<Value> = testing::coverage(&graph, &report)
        .iter()
        .map(|c| {
            json!({
                "kind": if c.kind == Covers::Endpoint { "endpoint" } else { "rule" },
                "id": c.id, "file": c.file, "line": c.line, "covered": c.covered,
            })
        })
        .collect();
    let ok = report.results.iter().all(|r| r.failures.is_empty());
    json!({"ok": ok, "diagnostics": diagnostics, "results": results, "coverage": coverage}).to_string()
}

/// The issuers, to fill in a token's claims: `[{"iss", "audiences"}]`.
pub fn issuers(files: &str) -> String {
    let Ok((set, loader)) = load(files) else { return "[]".to_owned() };
    let Ok((graph, _)) = compile(&set, &loader) else { return "[]".to_owned() };
    let list: Vec<Value> = graph.issuers.iter().map(|i| json!({"iss": i.iss, "audiences": i.audiences})).collect();
    Value::Array(list).to_string()
}

/// The time now, in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    #[cfg(target_arch = "wasm32")]
    return js_sys::Date::now() as u64;
    #[cfg(not(target_arch = "wasm32"))]
    return std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
}

/// One request judged: `{"ok": true, "token", "decision"}`. The request is
/// `{"method", "url", "headers", "body", "claims", "source_ip", "now_ms"}`;
/// with `claims`, a token with those claims (and `iss`, `aud`, `iat`, `exp`
/// filled in when missing) is signed by the page's key for that issuer,
/// which the set trusts in the playground in place of its key set.
pub fn decide(files: &str, request: &str) -> String {
    let (set, loader) = match load(files) {
        Ok(x) => x,
        Err(e) => return failed(&e, Vec::new()),
    };
    let graph = match compile(&set, &loader) {
        Ok((graph, _)) => graph,
        Err(diagnostics) => return failed("the set does not compile", diagnostics),
    };
    match judge(&graph, request) {
        Ok(answer) => answer.to_string(),
        Err(e) => failed(&e, Vec::new()),
    }
}

fn judge(graph: &Graph, request: &str) -> Result<Value, String> {
    let r: Map<String, Value> = serde_json::from_str(request).map_err(|e| format!("the request is not JSON: {e}"))?;
    let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").trim().to_owned();
    let now_ms = r.get("now_ms").and_then(Value::as_u64).unwrap_or_else(now_ms);
    let method = text("method").to_ascii_uppercase();
    if method.is_empty() {
        return Err("the request has no method".to_owned());
    }
    let url = text("url");
    let (scheme, host, target) = if url.starts_with('/') {
        // A path alone goes to the first host whose routes have it.
        let host = graph
            .routes
            .hosts
            .iter()
            .filter_map(|h| h.host.clone())
            .find(|h| endpoint(graph, &method, h, &url).is_some())
            .unwrap_or_else(|| "localhost".to_owned());
        ("https".to_owned(), host, url.clone())
    } else {
        let parsed = url::Url::parse(&url).map_err(|e| format!("`{url}` is not a URL or a path: {e}"))?;
        let host = parsed.host_str().ok_or("the URL has no host")?;
        let host = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let target = match parsed.query() {
            Some(q) => format!("{}?{q}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        (parsed.scheme().to_owned(), host, target)
    };
    let mut headers: Vec<(String, String)> = match r.get("headers") {
        Some(Value::Object(h)) => {
            h.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_owned())).collect()
        }
        _ => Vec::new(),
    };
    let body = r.get("body").and_then(Value::as_str).filter(|b| !b.is_empty()).map(|b| b.as_bytes().to_vec());
    if body.as_ref().is_some_and(|b| b.len() > MAX_BODY) {
        return Err(format!("the body is larger than {} MiB", MAX_BODY >> 20));
    }
    let source_ip = match text("source_ip") {
        ip if ip.is_empty() => None,
        ip => Some(ip.parse::<IpAddr>().map_err(|e| format!("`{ip}` is not an IP address: {e}"))?),
    };
    let keys = PageKeys::default();
    let replayer = Replayer::new(graph, &keys);
    let token = match r.get("claims") {
        Some(Value::Object(claims)) => {
            let claims = filled(graph, claims, &method, &host, &target, now_ms);
            if !claims.contains_key("iss") {
                return Err("this set trusts no token issuer, so no token can be signed for it: \
                            send the request without claims"
                    .to_owned());
            }
            let token = replayer.token(&claims)?;
            headers.retain(|(n, _)| n != "authorization");
            headers.push(("authorization".to_owned(), format!("Bearer {token}")));
            Some(token)
        }
        _ => None,
    };
    let engine = replayer.engine(Arc::new(Memory::new(10_000)))?;
    let req = HttpRequest { method, scheme, host, target, headers, body, source_ip, now_ms, ..HttpRequest::default() };
    let d = engine.check_http(&req);
    let headers: Map<String, Value> = d.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Ok(json!({
        "ok": true,
        "token": token,
        "decision": {
            "allow": d.allow, "status": d.status, "reason": d.reason.as_str(), "detail": d.detail,
            "rule": d.rule.as_deref(), "headers": headers, "revision": &*d.revision,
        },
    }))
}

/// The endpoint a request reaches, if any.
fn endpoint(graph: &Graph, method: &str, host: &str, target: &str) -> Option<u32> {
    let path = normalise(target).ok()?;
    match graph.routes.lookup(host, Method::parse(method)?, &path.segments) {
        RouteMatch::Found { endpoint, .. } => Some(endpoint),
        _ => None,
    }
}

/// The claims, with `iss` (an issuer of the zone the request reaches, else
/// the first), `aud` (its first audience), `iat` and `exp` when missing.
fn filled(
    graph: &Graph,
    claims: &Map<String, Value>,
    method: &str,
    host: &str,
    target: &str,
    now_ms: u64,
) -> Map<String, Value> {
    let mut claims = claims.clone();
    let zone_issuer = endpoint(graph, method, host, target)
        .and_then(|e| graph.endpoints.get(e as usize))
        .and_then(|e| graph.zones.get(e.zone as usize))
        .and_then(|z| z.issuers.first())
        .and_then(|&i| graph.issuers.get(i as usize));
    let issuer = match claims.get("iss").and_then(Value::as_str) {
        Some(iss) => graph.issuers.iter().find(|i| i.iss == iss),
        None => zone_issuer.or_else(|| graph.issuers.first()),
    };
    if let Some(issuer) = issuer {
        claims.entry("iss").or_insert_with(|| Value::String(issuer.iss.clone()));
        if let Some(aud) = issuer.audiences.first() {
            claims.entry("aud").or_insert_with(|| Value::String(aud.clone()));
        }
    }
    let now = now_ms / 1000;
    claims.entry("iat").or_insert(json!(now));
    claims.entry("exp").or_insert(json!(now + 300));
    claims
}

/// The decision graph as SVG: `{"ok": true, "svg"}`.
pub fn graph_svg(files: &str) -> String {
    let (set, loader) = match load(files) {
        Ok(x) => x,
        Err(e) => return failed(&e, Vec::new()),
    };
    match compile(&set, &loader) {
        Ok((graph, _)) => json!({"ok": true, "svg": warden_compiler::svg::to_svg(&graph)}).to_string(),
        Err(diagnostics) => failed("the set does not compile", diagnostics),
    }
}
