//! Finding and reading policy files: `*.warden` under a directory, sorted, size-capped, UTF-8 checked.

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
    for entry in walker {
        let entry = entry.map_err(|err| format!("cannot walk `{}`: {}", root.display(), err))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|ext| ext == "warden") {
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
    pub root: PathBuf,
}

impl FsLoader {
    /// The root of the policy set `dir` (its parent when `dir` is a file).
    pub fn for_set(dir: &Path) -> FsLoader {
        let root =
            if dir.is_file() { dir.parent().map(Path::to_path_buf).unwrap_or_default() } else { dir.to_path_buf() };
        FsLoader { root }
    }
}

/// Largest referenced file read (data, keys, client lists): 16 MiB.
const MAX_REFERENCED_BYTES: u64 = 16 << 20;

impl warden_compiler::Loader for FsLoader {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        let rel = Path::new(path);
        if rel.is_absolute()
            || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir))
        {
            return Err("paths must stay inside the policy set (no absolute paths, no `..`)".to_owned());
        }
        let full = self.root.join(rel);
        let meta = std::fs::metadata(&full).map_err(|err| io_reason(&err))?;
        if !meta.is_file() {
            return Err("not a regular file".to_owned());
        }
        if meta.len() > MAX_REFERENCED_BYTES {
            return Err(format!("{} bytes is more than the {MAX_REFERENCED_BYTES} allowed", meta.len()));
        }
        std::fs::read(&full).map_err(|err| io_reason(&err))
    }
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_owned(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

/// Reads the policy set under `dir`. Prints why and returns `None` when there
/// is nothing to read; returns `Err` with the files when some cannot be read
/// or decoded (their diagnostics are in `error`).
pub fn load_set(dir: &Path) -> Option<Result<warden_compiler::PolicySet, Vec<SourceFile>>> {
    let paths = match collect(dir) {
        Ok(paths) if paths.is_empty() => {
            eprintln!("error: no `.warden` files under `{}`", dir.display());
            return None;
        }
        Ok(paths) => paths,
        Err(message) => {
            eprintln!("error: {message}");
            return None;
        }
    };
    let sources: Vec<SourceFile> = paths.iter().map(|p| read(p)).collect();
    if sources.iter().any(|s| s.error.is_some()) {
        return Some(Err(sources));
    }
    let files = sources.into_iter().map(|s| warden_compiler::SourceFile::new(s.display(), s.text)).collect();
    Some(Ok(warden_compiler::PolicySet { files }))
}

/// The policy sets under `dir`: `dir` itself when it holds `.warden` files
/// directly (or is a file); otherwise each subdirectory that holds any, so
/// that `warden check policies/` checks every example set on its own.
pub fn policy_sets(dir: &Path) -> Vec<PathBuf> {
    let direct = |d: &Path| {
        std::fs::read_dir(d)
            .map(|entries| {
                entries.filter_map(Result::ok).any(|e| {
                    e.file_type().is_ok_and(|t| t.is_file()) && e.path().extension().is_some_and(|x| x == "warden")
                })
            })
            .unwrap_or(false)
    };
    if !dir.is_dir() || direct(dir) {
        return vec![dir.to_path_buf()];
    }
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.')
                })
                .map(|e| e.path())
                .filter(|p| collect(p).is_ok_and(|files| !files.is_empty()))
                .collect()
        })
        .unwrap_or_default();
    subdirs.sort();
    if subdirs.is_empty() { vec![dir.to_path_buf()] } else { subdirs }
}
