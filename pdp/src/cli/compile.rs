//! `warden compile DIR [--emit graph|dot] [-o FILE]`: the decision graph as JSON, or a Graphviz picture of it.

use std::path::PathBuf;

use clap::ValueEnum;
use warden_compiler::{PolicySet, SourceFile};

use super::files;
use super::report::{self, FileReport};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The decision graph as JSON.
    #[default]
    Graph,
    /// Graphviz `dot` source: zones → apis → routes → steps.
    Dot,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set directory.
    pub dir: PathBuf,
    /// What to produce.
    #[arg(long, value_enum, default_value_t)]
    pub emit: Emit,
    /// Write to this file instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
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
    if sources.iter().any(|s| s.error.is_some()) {
        let reports: Vec<FileReport<'_>> = sources
            .iter()
            .map(|s| FileReport { path: s.display(), source: &s.text, diagnostics: s.error.iter().cloned().collect() })
            .collect();
        report::human(&reports);
        return false;
    }
    let set = PolicySet { files: sources.iter().map(|s| SourceFile::new(s.display(), s.text.clone())).collect() };
    let loader = files::FsLoader::for_set(&args.dir);
    let (graph, warnings) = match warden_compiler::compile(&set, &loader) {
        Ok(ok) => ok,
        Err(diags) => {
            print_diagnostics(&set, diags);
            eprintln!("error: `{}` was not compiled", args.dir.display());
            return false;
        }
    };
    print_diagnostics(&set, warnings);
    let text = match args.emit {
        Emit::Graph => match serde_json::to_string_pretty(&graph) {
            Ok(json) => json + "\n",
            Err(err) => {
                eprintln!("error: cannot serialise the graph: {err}");
                return false;
            }
        },
        Emit::Dot => warden_compiler::dot::to_dot(&graph),
    };
    match &args.output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => true,
            Err(err) => {
                eprintln!("error: cannot write `{}`: {err}", path.display());
                false
            }
        },
        None => {
            print!("{text}");
            true
        }
    }
}

fn print_diagnostics(set: &PolicySet, diags: Vec<warden_compiler::FileDiagnostic>) {
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
    report::human(&reports);
}
