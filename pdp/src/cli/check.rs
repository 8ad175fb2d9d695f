//! `warden check DIR`: parse and check every policy file; exit 1 when any has errors.

use std::path::PathBuf;

use warden_compiler::{PolicySet, SourceFile};

use super::OutputFormat;
use super::files;
use super::report::{self, FileReport, Totals, plural};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set: a directory of `*.warden` files (or one file).
    pub dir: PathBuf,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
}

pub fn run(args: &Args) -> bool {
    let paths = match files::collect(&args.dir) {
        Ok(paths) if paths.is_empty() => {
            eprintln!("error: no `.warden` files under `{}`", args.dir.display());
            return false;
        }
        Ok(paths) => paths,
        Err(message) => {
            eprintln!("error: {message}");
            return false;
        }
    };
    let sources: Vec<files::SourceFile> = paths.iter().map(|p| files::read(p)).collect();
    let mut totals = Totals { files: sources.len(), ..Totals::default() };
    let mut reports: Vec<FileReport<'_>> = sources
        .iter()
        .map(|s| FileReport { path: s.display(), source: &s.text, diagnostics: s.error.iter().cloned().collect() })
        .collect();
    // Whole-set checks need every file; unreadable ones were reported above.
    if sources.iter().all(|s| s.error.is_none()) {
        let set = PolicySet { files: sources.iter().map(|s| SourceFile::new(s.display(), s.text.clone())).collect() };
        let loader = files::FsLoader::for_set(&args.dir);
        for d in warden_compiler::diagnostics(&set, &loader) {
            if let Some(report) = reports.get_mut(d.file) {
                report.diagnostics.push(d.diagnostic);
            }
        }
    }
    for report in &reports {
        totals.add(&report.diagnostics);
    }
    match args.format {
        OutputFormat::Human => {
            report::human(&reports);
            let status = if totals.errors == 0 && totals.warnings == 0 {
                "no problems".to_owned()
            } else {
                format!("{}, {}", plural(totals.errors, "error"), plural(totals.warnings, "warning"))
            };
            println!("{}: {} checked, {status}", args.dir.display(), plural(totals.files, "file"));
        }
        OutputFormat::Json => report::json(&reports, &totals),
    }
    totals.errors == 0
}
