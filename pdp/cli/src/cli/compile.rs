//! `warden compile DIR [--emit graph|dot|svg|cedar|cedar-schema] [-o FILE]`: the decision graph as JSON, a
//! Graphviz picture of it, or the rule layer as Cedar policies and schema (docs/cedar.md).

use std::path::PathBuf;

use super::files;
use super::out::{errln, out};
use super::report;
use clap::ValueEnum;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Emit {
    /// The decision graph as JSON.
    #[default]
    Graph,
    /// Graphviz `dot` source: zones → apis → routes → steps.
    Dot,
    /// The same picture as SVG, laid out by Warden itself (no Graphviz needed).
    Svg,
    /// Cedar policies for the rule layer; with `-o FILE` the schema is written
    /// beside it as `FILE` with the extension `.cedarschema`.
    Cedar,
    /// The Cedar schema the exported policies validate against (strict mode).
    CedarSchema,
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
    if files::several_sets(&args.dir, "compile one of them") {
        return false;
    }
    let Some(warden_project::Compiled { set, graph, warnings, .. }) = files::compile_set(&args.dir) else {
        return false;
    };
    report::human(&report::by_file(&set, warnings));
    let text = match args.emit {
        Emit::Graph => match serde_json::to_string_pretty(&graph) {
            Ok(json) => json + "\n",
            Err(err) => {
                errln!("error: cannot serialise the graph: {err}");
                return false;
            }
        },
        Emit::Dot => warden_compiler::dot::to_dot(&graph),
        Emit::Svg => warden_compiler::svg::to_svg(&graph),
        Emit::Cedar | Emit::CedarSchema => {
            let export = warden_compiler::cedar::to_cedar(&graph);
            report::cedar(&export.diagnostics);
            if args.emit == Emit::CedarSchema {
                export.schema
            } else {
                if let Some(path) = &args.output {
                    let schema = path.with_extension("cedarschema");
                    if let Err(err) = std::fs::write(&schema, &export.schema) {
                        errln!("error: cannot write `{}`: {err}", schema.display());
                        return false;
                    }
                }
                export.policies
            }
        }
    };
    match &args.output {
        Some(path) => match std::fs::write(path, text) {
            Ok(()) => true,
            Err(err) => {
                errln!("error: cannot write `{}`: {err}", path.display());
                false
            }
        },
        None => {
            out!("{text}");
            true
        }
    }
}
