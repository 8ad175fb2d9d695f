//! Reading policy sets from disk: `*.warden` files under a directory (sorted, size-capped,
//! UTF-8 checked), referenced files through a loader that never leaves the set, and
//! [`compile_dir`], which the CLI, the service and the SDK's embedded mode share.

use std::path::{Path, PathBuf};

use warden_language::{Diagnostic, MAX_FILE_BYTES, Span, codes};

/// One policy file as read from disk.
pub struct SourceFile {
    /// The path as shown to the user.
    pub path: PathBuf,
    /// The text, or empty when it could not be read or decoded.
    pub text: String,
    /// A problem reading or decoding it.
    pub error: Option<Diagnostic>,
}

impl SourceFile {
    /// The path as text.
    pub fn display(&self) -> String {
        self.path.display().to_string()
    }
}

/// The `*.warden` files under `root` (or `root` itself when it is a file),
/// in a stable order. Hidden directories and `target` are skipped; symbolic
/// links are not followed, so a link loop cannot hang the walk.
pub fn collect(root: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(root).map_err(|err| format!("cannot read `{}`: {}", root.display(), err))?;
    if meta.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let walker =
        walkdir::WalkDir::new(root).follow_links(false).max_depth(32).sort_by_file_name().into_iter().filter_entry(
            |e| {
                let name = e.file_name().to_string_lossy();
                e.depth() == 0 || !(name.starts_with('.') || (e.file_type().is_dir() && name == "target"))
            },
        );
    let canonical_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    for entry in walker {
        let entry = entry.map_err(|err| format!("cannot walk `{}`: {}", root.display(), err))?;
        if entry.path().extension().is_none_or(|ext| ext != "warden") {
            continue;
        }
        if entry.path_is_symlink() {
            // Followed only when it stays inside the set (mounted ConfigMaps
            // are links); a link out of the set would print foreign text in
            // diagnostics.
            let target = std::fs::canonicalize(entry.path())
                .map_err(|err| format!("cannot follow the link `{}`: {}", entry.path().display(), err))?;
            if !target.starts_with(&canonical_root) || !target.is_file() {
                return Err(format!("`{}` is a link to a file outside the policy set", entry.path().display()));
            }
            out.push(entry.into_path());
        } else if entry.file_type().is_file() {
            out.push(entry.into_path());
        }
    }
    Ok(out)
}

/// Reads one file, turning every failure into a diagnostic.
pub fn read(path: &Path) -> SourceFile {
    let fail = |code, message: String| SourceFile {
        path: path.to_path_buf(),
        text: String::new(),
        error: Some(Diagnostic::error(code, Span::at(0), message)),
    };
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() > MAX_FILE_BYTES as u64 => {
            return fail(
                codes::FILE_TOO_LARGE,
                format!("the file is {} bytes; policy files may be at most {MAX_FILE_BYTES}", meta.len()),
            );
        }
        Ok(_) => {}
        Err(err) => return fail(codes::UNREADABLE, format!("cannot read the file: {err}")),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => return fail(codes::UNREADABLE, format!("cannot read the file: {err}")),
    };
    match warden_language::decode(&bytes) {
        Ok(text) => SourceFile { path: path.to_path_buf(), text: text.to_owned(), error: None },
        // Keep the valid prefix for the excerpt: offsets up to the bad byte are unchanged.
        Err(diag) => SourceFile {
            path: path.to_path_buf(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            error: Some(*diag),
        },
    }
}

/// Reads the files a policy references, relative to the policy set's root,
/// refusing paths that leave it (absolute paths, `..`).
pub struct FsLoader {
    /// The canonical root of the set.
    pub root: PathBuf,
}

impl FsLoader {
    /// The root of the policy set `dir` (its parent when `dir` is a file).
    pub fn for_set(dir: &Path) -> FsLoader {
        let root =
            if dir.is_file() { dir.parent().map(Path::to_path_buf).unwrap_or_default() } else { dir.to_path_buf() };
        let root = if root.as_os_str().is_empty() { PathBuf::from(".") } else { root };
        FsLoader { root: std::fs::canonicalize(&root).unwrap_or(root) }
    }
}

/// Largest referenced file read (data, keys, client lists): 16 MiB.
const MAX_REFERENCED_BYTES: u64 = 16 << 20;

impl warden_compiler::Loader for FsLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        use std::io::Read as _;
        let rel = Path::new(path);
        if rel.is_absolute()
            || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
        {
            return Err("paths must stay inside the policy set (no absolute paths, no `..`)".to_owned());
        }
        // Links are resolved first: a link that leads out of the set is refused,
        // so a policy cannot pull a file from elsewhere into the graph.
        let full = std::fs::canonicalize(self.root.join(rel)).map_err(|err| io_reason(&err))?;
        if !full.starts_with(&self.root) {
            return Err("the path leads outside the policy set through a symbolic link".to_owned());
        }
        let file = std::fs::File::open(&full).map_err(|err| io_reason(&err))?;
        let meta = file.metadata().map_err(|err| io_reason(&err))?;
        if !meta.is_file() {
            return Err("not a regular file".to_owned());
        }
        let mut bytes = Vec::new();
        file.take(MAX_REFERENCED_BYTES + 1).read_to_end(&mut bytes).map_err(|err| io_reason(&err))?;
        if bytes.len() as u64 > MAX_REFERENCED_BYTES {
            return Err(format!("the file is larger than the {MAX_REFERENCED_BYTES} bytes allowed"));
        }
        Ok(bytes)
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

/// A policy set read and compiled from a directory.
pub struct Compiled {
    /// The sources.
    pub set: warden_compiler::PolicySet,
    /// Reads the files the sources refer to.
    pub loader: FsLoader,
    /// The decision graph.
    pub graph: warden_compiler::graph::Graph,
    /// Lints and other warnings.
    pub warnings: Vec<warden_compiler::FileDiagnostic>,
}

/// Why a directory did not compile: the rendered diagnostics (file, line,
/// column, message, excerpt), as `warden check` prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads and compiles the policy set under `dir` without printing anything.
pub fn compile_dir(dir: &Path) -> Result<Compiled, LoadError> {
    let paths = collect(dir).map_err(LoadError)?;
    if paths.is_empty() {
        return Err(LoadError(format!("no `.warden` files under `{}`", dir.display())));
    }
    let sources: Vec<SourceFile> = paths.iter().map(|p| read(p)).collect();
    let mut rendered = String::new();
    for s in &sources {
        if let Some(d) = &s.error {
            rendered.push_str(&warden_language::render(d, &s.display(), &s.text, warden_language::Color::Never));
        }
    }
    if !rendered.is_empty() {
        return Err(LoadError(rendered));
    }
    let set = warden_compiler::PolicySet {
        files: sources.into_iter().map(|s| warden_compiler::SourceFile::new(s.display(), s.text)).collect(),
    };
    let loader = FsLoader::for_set(dir);
    match warden_compiler::compile(&set, &loader) {
        Ok((graph, warnings)) => Ok(Compiled { set, loader, graph, warnings }),
        Err(diags) => {
            let mut out = String::new();
            for d in &diags {
                let (name, text) = set.files.get(d.file).map_or(("?", ""), |f| (f.path.as_str(), f.text.as_str()));
                out.push_str(&warden_language::render(&d.diagnostic, name, text, warden_language::Color::Never));
            }
            Err(LoadError(out))
        }
    }
}

/// Verified tokens the engine of [`engine`] keeps.
pub const TOKEN_CACHE_ENTRIES: usize = 100_000;

/// The engine over a compiled graph: HS* secrets read from the set's files or the
/// environment, JWKS files from the graph, `jwks url` documents through `fetcher`
/// (none: URL issuers hold no keys and their tokens are refused `key_unknown`), a
/// bounded verified-token cache, and `limiter` for rate limits. The CLI and the
/// service build engines only here. URL keys are not fetched here: see
/// [`warden_engine::jwt::JwksVerifier::refresh_due`] (reachable as
/// [`warden_engine::run::Engine::jwks`]).
pub fn engine(
    graph: warden_compiler::graph::Graph,
    loader: &FsLoader,
    limiter: std::sync::Arc<dyn warden_engine::limits::Limiter>,
    fetcher: Option<std::sync::Arc<dyn warden_engine::jwt::JwksFetcher>>,
) -> Result<warden_engine::run::Engine, String> {
    use warden_compiler::Loader as _;
    use warden_compiler::graph::SecretSource;
    let secret = |source: &SecretSource| match source {
        SecretSource::File(path) => loader.read(path).ok(),
        SecretSource::Env(var) => std::env::var(var).ok().map(String::into_bytes),
    };
    let mut jwks = warden_engine::jwt::JwksVerifier::new(&graph, &secret);
    if let Some(fetcher) = fetcher {
        jwks = jwks.with_fetcher(fetcher);
    }
    let jwks = std::sync::Arc::new(jwks);
    let verifier = warden_engine::token_cache::CachingVerifier::new(jwks.clone(), TOKEN_CACHE_ENTRIES);
    let prepared = warden_engine::eval::Prepared::new(graph).map_err(|e| format!("the graph cannot be loaded: {e}"))?;
    Ok(warden_engine::run::Engine::new(prepared, limiter, std::sync::Arc::new(verifier)).with_jwks(jwks))
}
