//! `warden analyze DIR [--format human|json|markdown]`: the access matrix of a
//! set (who reaches each endpoint, with what credential, scopes, transport and
//! network, under which rules) and the findings about what it exposes.

use std::path::PathBuf;

use clap::ValueEnum;
use serde_json::json;
use warden_compiler::{analysis, lints};
use warden_language::LineIndex;
use warden_language::diagnostic::Located;

use super::files;
use super::out::{errln, out, outln};
use super::report;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// A block per endpoint, the findings after.
    #[default]
    Human,
    /// One JSON document: `matrix` and `findings`.
    Json,
    /// Markdown tables, for a review or a wiki.
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set directory.
    pub dir: PathBuf,
    /// How to print it.
    #[arg(long, value_enum, default_value_t)]
    pub format: AnalyzeFormat,
}

pub fn run(args: &Args) -> bool {
    if files::several_sets(&args.dir, "analyze one of them") {
        return false;
    }
    let Some(warden_project::Compiled { set, graph, .. }) = files::compile_set(&args.dir) else {
        return false;
    };
    let levels = match warden_project::lint_levels(&args.dir) {
        Ok(levels) => levels,
        Err(why) => {
            errln!("error: {why}");
            return false;
        }
    };
    // The set's levels, with the exposure lints on unless it chose otherwise.
    let findings = lints::lint_at(&set, &graph, &levels.with_exposure());
    let matrix = analysis::matrix(&graph, Some(&set));
    match args.format {
        AnalyzeFormat::Human => {
            out!("{}", analysis::human(&matrix));
            report::human(&report::by_file(&set, findings.clone()));
            outln!(
                "{}: {} endpoints, {}",
                args.dir.display(),
                matrix.endpoints.len(),
                report::plural(findings.len(), "finding")
            );
        }
        AnalyzeFormat::Json => {
            let located: Vec<Located<'_>> = findings
                .iter()
                .filter_map(|f| {
                    let file = set.files.get(f.file)?;
                    Some(Located::new(&f.diagnostic, &file.path, &file.text, &LineIndex::new(&file.text)))
                })
                .collect();
            match serde_json::to_string_pretty(&json!({"matrix": matrix, "findings": located})) {
                Ok(text) => outln!("{text}"),
                Err(err) => {
                    errln!("error: cannot write JSON: {err}");
                    return false;
                }
            }
        }
        AnalyzeFormat::Markdown => {
            out!("{}", analysis::markdown(&matrix));
            if !findings.is_empty() {
                outln!("\n## Findings\n");
                for f in &findings {
                    let Some(file) = set.files.get(f.file) else { continue };
                    let at = LineIndex::new(&file.text).line_col(&file.text, f.diagnostic.span.start());
                    let name = lints::info(f.diagnostic.code.as_str()).map_or("", |l| l.name);
                    outln!(
                        "- **{} {name}** `{}:{}`: {}",
                        f.diagnostic.code.as_str(),
                        file.path,
                        at.line,
                        f.diagnostic.message.replace('|', "\\|")
                    );
                }
            }
        }
    }
    true
}
