//! `warden lint PATH… [--format human|json|sarif] [--deny-warnings]`: errors and lints of
//! policy sets (a directory's sets, a file's set), SARIF 2.1.0 for code scanning.

use std::path::PathBuf;

use clap::ValueEnum;
use serde_json::{Value, json};
use warden_compiler::lints;
use warden_language::{LineIndex, Severity};

use super::OutputFormat;
use super::files;
use super::out::{errln, outln};
use super::report::{self, FileReport};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LintFormat {
    /// Source excerpts with carets.
    #[default]
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Policy sets: a set's directory, a directory of sets, or a `.warden`
    /// file (its whole set is linted; each set once however often named).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// How to print diagnostics.
    #[arg(long, value_enum, default_value_t)]
    pub format: LintFormat,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub deny_warnings: bool,
}

pub fn run(args: &Args) -> bool {
    // A set's `warden.toml` that cannot be read fails the run (after saying why).
    let bad_settings = std::cell::Cell::new(false);
    let (sets, unloadable) = files::load_sets(&args.paths, |dir, set, loader| {
        let levels = warden_project::lint_levels(dir).unwrap_or_else(|why| {
            errln!("error: {why}");
            bad_settings.set(true);
            lints::Levels::default()
        });
        match warden_compiler::compile(set, loader) {
            Ok((graph, mut diags)) => {
                diags.extend(lints::lint_at(set, &graph, &levels));
                diags
            }
            Err(diags) => diags,
        }
    });
    let warnings = sets.iter().flat_map(|(_, _, d)| d).any(|d| !d.diagnostic.is_error());
    let ok = match args.format {
        LintFormat::Human => report::print_sets(sets, OutputFormat::Human),
        LintFormat::Json => report::print_sets(sets, OutputFormat::Json),
        LintFormat::Sarif => {
            let reports: Vec<FileReport<'_>> =
                sets.iter().flat_map(|(_, loaded, diags)| report::reports(loaded, diags.clone())).collect();
            match serde_json::to_string_pretty(&sarif(&reports)) {
                Ok(text) => outln!("{text}"),
                Err(err) => errln!("error: cannot write SARIF: {err}"),
            }
            report::totals(&reports).errors == 0
        }
    };
    let refused_warnings = args.deny_warnings && warnings;
    let failed = unloadable || bad_settings.get() || refused_warnings;
    ok && !failed
}

/// A SARIF 2.1.0 log: one run, the rules that fired (lints with their full
/// documentation), one result per diagnostic with a physical location.
fn sarif(reports: &[FileReport<'_>]) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<String> = Vec::new();
    let mut results = Vec::new();
    for report in reports {
        let index = LineIndex::new(report.source);
        for d in &report.diagnostics {
            let id = d.code.as_str().to_owned();
            let rule_index = match rule_ids.iter().position(|r| *r == id) {
                Some(i) => i,
                None => {
                    rules.push(rule(&id));
                    rule_ids.push(id.clone());
                    rule_ids.len() - 1
                }
            };
            let start = index.line_col(report.source, d.span.start());
            let end =
                index.line_col(report.source, d.span.end().max(d.span.start() + 1).min(report.source.len().max(1)));
            let message = match &d.help {
                Some(help) => format!("{} ({help})", d.message),
                None => d.message.clone(),
            };
            results.push(json!({
                "ruleId": id,
                "ruleIndex": rule_index,
                "level": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": report.path.replace('\\', "/") },
                        "region": {
                            "startLine": start.line,
                            "startColumn": start.column,
                            "endLine": end.line.max(start.line),
                            "endColumn": if end.line > start.line { end.column } else { end.column.max(start.column + 1) },
                        }
                    }
                }]
            }));
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "warden",
                    "version": env!("CARGO_PKG_VERSION"),
                    // No `informationUri` or `helpUri`: Warden has no web
                    // page yet; each rule carries its whole explanation.
                    "rules": rules,
                }
            },
            "results": results,
        }]
    })
}

fn rule(id: &str) -> Value {
    if let Some(lint) = lints::info(id) {
        return json!({
            "id": id,
            "name": lint.name,
            "shortDescription": { "text": lint.summary },
            "fullDescription": { "text": lint.explanation },
            "help": {
                "text": lint.fix,
                "markdown": format!("{}\n\n{}\n\n**Fix:** {}", lint.summary, lint.explanation, lint.fix),
            },
            "defaultConfiguration": { "level": "warning" },
        });
    }
    let summary = warden_language::codes::ALL
        .iter()
        .chain(warden_compiler::codes::ALL.iter())
        .find(|(code, _)| code.as_str() == id)
        .map_or("a policy error", |(_, s)| s);
    json!({
        "id": id,
        "shortDescription": { "text": summary },
        "defaultConfiguration": { "level": "error" },
    })
}
