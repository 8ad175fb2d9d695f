//! `warden check DIR`: parse and check every policy file; exit 1 when any has errors.

use std::path::PathBuf;

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
    let mut reports = Vec::new();
    for source in &sources {
        let diagnostics = match &source.error {
            Some(err) => vec![err.clone()],
            None => warden_language::check(&source.text).diagnostics,
        };
        totals.add(&diagnostics);
        reports.push(FileReport { path: source.display(), source: &source.text, diagnostics });
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
