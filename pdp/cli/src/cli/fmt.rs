//! `warden fmt [--check] PATH…`: rewrite policy files in the canonical layout, or report which differ.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use warden_language::format::format_source;

use super::files;
use super::out::{errln, out, outln};
use super::report::{self, FileReport};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files or directories to format; `-` formats stdin to stdout.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Change nothing; exit 1 when a file is not formatted.
    #[arg(long)]
    pub check: bool,
}

pub fn run(args: &Args) -> bool {
    let mut ok = true;
    for path in &args.paths {
        if path == Path::new("-") {
            ok &= stdin_to_stdout();
            continue;
        }
        let files = match files::collect(path) {
            Ok(files) => files,
            Err(message) => {
                errln!("error: {message}");
                ok = false;
                continue;
            }
        };
        for file in files {
            ok &= one(&file, args.check);
        }
    }
    ok
}

fn one(path: &Path, check: bool) -> bool {
    let source = files::read(path);
    if let Some(err) = source.error.clone() {
        report::human(&[FileReport { path: source.display(), source: &source.text, diagnostics: vec![err] }]);
        return false;
    }
    let formatted = match format_source(&source.text) {
        Ok(text) => text,
        Err(diagnostics) => {
            report::human(&[FileReport { path: source.display(), source: &source.text, diagnostics }]);
            errln!("{}: not formatted: fix the errors first", source.display());
            return false;
        }
    };
    if formatted == source.text {
        return true;
    }
    if check {
        outln!("would reformat {}", source.display());
        return false;
    }
    match write_atomically(path, &formatted) {
        Ok(()) => {
            outln!("formatted {}", source.display());
            true
        }
        Err(err) => {
            errln!("error: cannot write `{}`: {err}", source.display());
            false
        }
    }
}

/// Writes through a temporary file in the same directory and renames it over
/// the original, so an interrupted write never leaves half a policy behind.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.warden-fmt.{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn stdin_to_stdout() -> bool {
    let mut bytes = Vec::new();
    if let Err(err) = std::io::stdin().take(warden_language::MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes) {
        errln!("error: cannot read stdin: {err}");
        return false;
    }
    let text = match warden_language::decode(&bytes) {
        Ok(text) => text,
        Err(diag) => {
            report::human(&[FileReport { path: "<stdin>".to_owned(), source: "", diagnostics: vec![*diag] }]);
            return false;
        }
    };
    match format_source(text) {
        Ok(formatted) => {
            out!("{formatted}");
            true
        }
        Err(diagnostics) => {
            report::human(&[FileReport { path: "<stdin>".to_owned(), source: text, diagnostics }]);
            false
        }
    }
}
