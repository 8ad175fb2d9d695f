//! `warden diff OLD NEW` (directories, or bundles from `warden bundle build`)
//! or `warden diff --git REV1..REV2 [DIR]`: what a change
//! does to access, from the two sets' access matrices: who gains access, who
//! loses it, what else changed. Markdown for a pull-request comment by
//! default. Exit 0 when access does not widen, 2 when it does (so CI can ask
//! for a second reviewer), 1 when a set cannot be compiled.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;
use warden_compiler::analysis::{self, diff};

use super::files;
use super::out::{errln, out, outln};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// Tables of gains, losses and other changes, for a pull-request comment.
    #[default]
    Markdown,
    /// One line per change: `+` gains, `-` loses, `~` other.
    Human,
    /// One JSON document.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Two policy set directories or bundles, old then new; with `--git`, the set's
    /// directory in the repository (default: the current directory).
    pub paths: Vec<PathBuf>,
    /// Compare two revisions of a git repository: `REV1..REV2`, or `REV` for
    /// that revision against the working tree.
    #[arg(long, value_name = "REV1..REV2")]
    pub git: Option<String>,
    /// How to print the changes.
    #[arg(long, value_enum, default_value_t)]
    pub format: DiffFormat,
}

/// The most files and bytes read from one revision.
const MAX_FILES: usize = 10_000;
const MAX_BYTES: u64 = 256 << 20;

pub fn run(args: &Args) -> u8 {
    let mut temporary = Vec::new();
    let code = compare(args, &mut temporary);
    for dir in temporary {
        let _ = std::fs::remove_dir_all(dir);
    }
    code
}

fn compare(args: &Args, temporary: &mut Vec<PathBuf>) -> u8 {
    let (old, new) = match (&args.git, args.paths.as_slice()) {
        (None, [old, new]) => {
            // A bundle (`warden bundle build`) stands for the set it carries.
            let mut unpacked = Vec::new();
            for path in [old, new] {
                match unpack(path, temporary) {
                    Ok(dir) => unpacked.push(dir),
                    Err(why) => {
                        errln!("error: {why}");
                        return 1;
                    }
                }
            }
            let [old, new] = <[PathBuf; 2]>::try_from(unpacked).unwrap_or_default();
            (old, new)
        }
        (None, _) => {
            errln!("error: `warden diff` takes two policy set directories (old, new), or `--git REV1..REV2 [DIR]`");
            return 1;
        }
        (Some(range), paths) if paths.len() <= 1 => {
            let dir = paths.first().cloned().unwrap_or_else(|| PathBuf::from("."));
            let (from, to) = match range.split_once("..") {
                Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.starts_with('.') => (a, Some(b)),
                None if !range.is_empty() => (range.as_str(), None),
                _ => {
                    errln!("error: `--git` takes `REV1..REV2` or one revision, not `{range}`");
                    return 1;
                }
            };
            let old = match checkout(&dir, from, temporary) {
                Ok(d) => d,
                Err(why) => {
                    errln!("error: {why}");
                    return 1;
                }
            };
            let new = match to.map(|to| checkout(&dir, to, temporary)).transpose() {
                Ok(d) => d.unwrap_or(dir),
                Err(why) => {
                    errln!("error: {why}");
                    return 1;
                }
            };
            (old, new)
        }
        (Some(_), _) => {
            errln!("error: with `--git`, name at most one directory (the set's, in the repository)");
            return 1;
        }
    };
    let mut matrices = Vec::new();
    for dir in [&old, &new] {
        if files::several_sets(dir, "compare one set at a time") {
            return 1;
        }
        let Some(compiled) = files::compile_set(dir) else { return 1 };
        let mut matrix = analysis::matrix(&compiled.graph, Some(&compiled.set));
        matrix.relative_to(&dir.display().to_string());
        matrices.push(matrix);
    }
    let [before, after] = matrices.as_slice() else { return 1 };
    let d = diff::diff(before, after);
    match args.format {
        DiffFormat::Markdown => out!("{}", diff::markdown(&d)),
        DiffFormat::Human => out!("{}", diff::human(&d)),
        DiffFormat::Json => match serde_json::to_string_pretty(&d) {
            Ok(text) => outln!("{text}"),
            Err(err) => {
                errln!("error: cannot write JSON: {err}");
                return 1;
            }
        },
    }
    if d.widens() { 2 } else { 0 }
}

/// `path` when it is a directory; a bundle file's set unpacked into a new
/// temporary directory (its files checked against its manifest; its
/// signature is `warden bundle verify`'s business).
fn unpack(path: &Path, temporary: &mut Vec<PathBuf>) -> Result<PathBuf, String> {
    if !path.is_file() || path.extension().is_some_and(|e| e == "warden") {
        return Ok(path.to_path_buf());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let bundle = warden_server::bundle::Bundle::open(&bytes, None).map_err(|e| format!("`{}`: {e}", path.display()))?;
    let dir = temporary_dir(temporary)?;
    let set = dir.join("set");
    bundle.extract(&set).map_err(|e| format!("cannot unpack `{}`: {e}", path.display()))?;
    Ok(set)
}

/// A new directory only its owner reads, removed when `diff` ends.
fn temporary_dir(temporary: &mut Vec<PathBuf>) -> Result<PathBuf, String> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let out = std::env::temp_dir().join(format!("warden-diff-{}-{nanos}-{}", std::process::id(), temporary.len()));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    {
        // The policy files (and credential tables) are the owner's to read.
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(&out).map_err(|e| format!("cannot create `{}`: {e}", out.display()))?;
    temporary.push(out.clone());
    Ok(out)
}

/// `git` in `dir`, its standard output; `Err` with its message.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `git` ({e}): `--git` needs git installed"))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        return Err(format!("`git {}` failed: {}", args.join(" "), said.trim()));
    }
    Ok(out.stdout)
}

/// The files of the set at `dir` as of revision `rev`, written into a new
/// temporary directory (added to `temporary`), which is returned.
fn checkout(dir: &Path, rev: &str, temporary: &mut Vec<PathBuf>) -> Result<PathBuf, String> {
    if rev.starts_with('-') {
        return Err(format!("`{rev}` is not a revision"));
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).trim_end_matches('\n').to_owned();
    let prefix = text(git(dir, &["rev-parse", "--show-prefix"])?);
    let root = PathBuf::from(text(git(dir, &["rev-parse", "--show-toplevel"])?));
    let listing = git(&root, &["ls-tree", "-r", "-z", "--name-only", rev, "--", &format!("./{prefix}")])?;
    let names: Vec<String> =
        listing.split(|b| *b == 0).filter(|n| !n.is_empty()).map(|n| String::from_utf8_lossy(n).into_owned()).collect();
    if names.is_empty() {
        return Err(format!("`{}` holds no files at `{rev}`", dir.display()));
    }
    if names.len() > MAX_FILES {
        return Err(format!("`{}` holds more than {MAX_FILES} files at `{rev}`", dir.display()));
    }
    let out = temporary_dir(temporary)?;
    let mut total = 0u64;
    for name in names {
        let Some(relative) = name.strip_prefix(&prefix) else { continue };
        let relative = Path::new(relative);
        if relative.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(format!("`{name}` at `{rev}` is not a plain path"));
        }
        let object = format!("{rev}:{name}");
        // The size first: a huge blob is refused before it is read.
        let size: u64 =
            String::from_utf8_lossy(&git(&root, &["cat-file", "-s", &object])?).trim().parse().unwrap_or(u64::MAX);
        total = total.saturating_add(size);
        if total > MAX_BYTES {
            return Err(format!("`{}` at `{rev}` is larger than {MAX_BYTES} bytes", dir.display()));
        }
        let bytes = git(&root, &["cat-file", "blob", &object])?;
        let path = out.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create `{}`: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
    }
    Ok(out)
}
