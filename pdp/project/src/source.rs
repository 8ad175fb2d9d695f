//! Reading a policy set from disk: its `*.warden` files (sorted, size-capped, UTF-8
//! checked, links kept inside the set) and the files its policies reference, through
//! a loader that never leaves the set.

use std::path::{Path, PathBuf};

use warden_language::{Diagnostic, MAX_FILE_BYTES, Span, codes};

use crate::LoadError;

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
pub fn collect(root: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let meta = std::fs::metadata(root).map_err(|source| LoadError::Read { path: root.to_path_buf(), source })?;
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
        let entry = entry.map_err(|source| LoadError::Walk { path: root.to_path_buf(), source })?;
        if entry.path().extension().is_none_or(|ext| ext != "warden") {
            continue;
        }
        if entry.path_is_symlink() {
            // Followed only when it stays inside the set (mounted ConfigMaps
            // are links); a link out of the set would print foreign text in
            // diagnostics.
            let target = std::fs::canonicalize(entry.path())
                .map_err(|source| LoadError::Link { path: entry.path().to_path_buf(), source })?;
            if !target.starts_with(&canonical_root) || !target.is_file() {
                return Err(LoadError::LinkOutside(entry.path().to_path_buf()));
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
