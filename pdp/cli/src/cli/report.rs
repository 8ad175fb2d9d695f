//! Printing diagnostics: rendered excerpts for people, JSON for tools. The only place that renders them.

use std::io::IsTerminal;

use serde::Serialize;
use warden_language::diagnostic::Located;
use warden_language::{Color, Diagnostic, LineIndex, Severity, render};

use super::out::{errln, outln};

/// Colours on a terminal only, and never when `NO_COLOR` is set.
pub fn stderr_color() -> Color {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() { Color::Always } else { Color::Never }
}

/// Diagnostics of one file.
pub struct FileReport<'a> {
    pub path: String,
    pub source: &'a str,
    pub diagnostics: Vec<Diagnostic>,
}

/// Counts of what was reported.
#[derive(Default, Serialize)]
pub struct Totals {
    pub files: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Totals {
    pub fn add(&mut self, diags: &[Diagnostic]) {
        for d in diags {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
    }
}

/// Prints each diagnostic rendered with its excerpt on stderr.
pub fn human(reports: &[FileReport<'_>]) {
    let color = stderr_color();
    for report in reports {
        for diag in &report.diagnostics {
            errln!("{}", render(diag, &report.path, report.source, color));
        }
    }
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    diagnostics: Vec<Located<'a>>,
    summary: &'a Totals,
}

/// Prints every diagnostic as one JSON document on stdout.
pub fn json(reports: &[FileReport<'_>], totals: &Totals) {
    let mut diagnostics = Vec::new();
    for report in reports {
        let index = LineIndex::new(report.source);
        for diag in &report.diagnostics {
            diagnostics.push(Located::new(diag, &report.path, report.source, &index));
        }
    }
    let out = JsonOutput { diagnostics, summary: totals };
    match serde_json::to_string_pretty(&out) {
        Ok(text) => outln!("{text}"),
        Err(err) => errln!("error: cannot write JSON output: {err}"),
    }
}

/// "1 error", "2 warnings".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") }
}

/// Groups set-level diagnostics by file, one report per file of the set.
pub fn by_file(set: &warden_compiler::PolicySet, diags: Vec<warden_compiler::FileDiagnostic>) -> Vec<FileReport<'_>> {
    let mut reports: Vec<FileReport<'_>> = set
        .files
        .iter()
        .map(|f| FileReport { path: f.path.clone(), source: &f.text, diagnostics: Vec::new() })
        .collect();
    for d in diags {
        if let Some(r) = reports.get_mut(d.file) {
            r.diagnostics.push(d.diagnostic);
        }
    }
    reports
}

/// Reports for the problems of a set that did not load: one per file of it.
pub fn from_problems(problems: &warden_project::Problems) -> Vec<FileReport<'_>> {
    let mut reports: Vec<FileReport<'_>> = problems
        .files
        .iter()
        .map(|f| FileReport { path: f.path.clone(), source: &f.text, diagnostics: Vec::new() })
        .collect();
    for d in &problems.diagnostics {
        if let Some(r) = reports.get_mut(d.file) {
            r.diagnostics.push(d.diagnostic.clone());
        }
    }
    reports
}

/// Prints the summary line of `check` and `lint`.
pub fn summary(dir: &std::path::Path, totals: &Totals) {
    let status = if totals.errors == 0 && totals.warnings == 0 {
        "no problems".to_owned()
    } else {
        format!("{}, {}", plural(totals.errors, "error"), plural(totals.warnings, "warning"))
    };
    outln!("{}: {} checked, {status}", dir.display(), plural(totals.files, "file"));
}

/// Totals over reports.
pub fn totals(reports: &[FileReport<'_>]) -> Totals {
    let mut totals = Totals { files: reports.len(), ..Totals::default() };
    for r in reports {
        totals.add(&r.diagnostics);
    }
    totals
}

/// Reports for a loaded policy set: the set's diagnostics by file, or the
/// read and decode errors of files that could not be loaded.
pub fn reports(
    loaded: &Result<warden_compiler::PolicySet, warden_project::Problems>,
    diags: Vec<warden_compiler::FileDiagnostic>,
) -> Vec<FileReport<'_>> {
    match loaded {
        Ok(set) => by_file(set, diags),
        Err(problems) => from_problems(problems),
    }
}

/// A policy set's directory, what was loaded of it and its diagnostics.
pub type SetResult = (
    std::path::PathBuf,
    Result<warden_compiler::PolicySet, warden_project::Problems>,
    Vec<warden_compiler::FileDiagnostic>,
);

/// Prints the diagnostics of one or more policy sets: rendered excerpts and a
/// summary line per set, or one JSON document for all. True when no errors.
pub fn print_sets(sets: Vec<SetResult>, format: super::OutputFormat) -> bool {
    let mut all: Vec<FileReport<'_>> = Vec::new();
    let mut ok = true;
    for (dir, loaded, diags) in &sets {
        let reports = reports(loaded, diags.clone());
        let totals = totals(&reports);
        ok &= totals.errors == 0;
        if format == super::OutputFormat::Human {
            human(&reports);
            summary(dir, &totals);
        }
        all.extend(reports);
    }
    if format == super::OutputFormat::Json {
        json(&all, &totals(&all));
    }
    ok
}

/// Warnings of the Cedar export: rules Cedar cannot express exactly (`W0401`).
pub fn cedar(diags: &[warden_compiler::cedar::CedarDiagnostic]) {
    for d in diags {
        errln!("{}: warning[{}]: {} (endpoint `{}`)", d.location, d.code, d.message, d.endpoint);
    }
    if !diags.is_empty() {
        errln!(
            "note: an inexpressible deny is exported as an unconditional forbid, an inexpressible allow is left out"
        );
    }
}
