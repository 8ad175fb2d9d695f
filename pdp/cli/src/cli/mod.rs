//! Command-line parsing (clap) and dispatch to one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use out::{out, outln};

mod analyze;
mod audit;
mod bans;
mod bundle;
mod check;
mod compile;
mod config;
mod diff;
mod docs;
mod eval;
mod explain;
mod files;
mod fmt;
mod keys;
mod lint;
mod lsp;
mod out;
mod playground;
mod replay;
mod report;
mod serve;
mod test;

/// `warden --version`: the release, the graph format it writes and reads, and
/// how it was built.
static VERSION: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "{} (graph format {}; {}, {}; {})",
        env!("CARGO_PKG_VERSION"),
        warden_compiler::graph::GRAPH_VERSION,
        env!("WARDEN_BUILD_TARGET"),
        env!("WARDEN_BUILD_PROFILE"),
        env!("WARDEN_BUILD_RUSTC"),
    )
});

/// Warden: a policy compiler and decision point for API traffic.
#[derive(Debug, Parser)]
#[command(name = "warden", version = VERSION.as_str(), about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse and check a policy set; print diagnostics with source excerpts.
    Check(check::Args),
    /// Format policy files in the canonical layout (or check that they are).
    Fmt(fmt::Args),
    /// One decision for a check in the JSON format of `/v1/check` (or `/v1/check/resource`).
    Eval(eval::Args),
    /// Run the `test` blocks of a policy set.
    Test(test::Args),
    /// Check a policy set and run the lints (human, JSON or SARIF output).
    Lint(lint::Args),
    /// Compile a policy set to its decision graph (JSON) or a Graphviz picture.
    Compile(compile::Args),
    /// The access matrix of a set: who reaches each endpoint, with what credential, scopes, transport
    /// and network, under which rules; and what it exposes.
    Analyze(analyze::Args),
    /// What a change does to access (two sets, or two git revisions): who gains, who loses. Exit 2 when
    /// access widens.
    Diff(diff::Args),
    /// Judge the decisions of a decision log (with captured inputs) again against another set: every
    /// decision that would change, grouped by endpoint and direction.
    Replay(replay::Args),
    /// Run the decision service: HTTP (JSON check API, AuthZEN, forward auth) and gRPC (warden.v1, Envoy
    /// ext_authz), optionally over TLS or mutual TLS, with hot reload.
    Serve(serve::Args),
    /// Run the language server on stdio: diagnostics, formatting, hover, completion, go to definition,
    /// references and the outline, for editors.
    Lsp(lsp::Args),
    /// Signing keys for `[issuer]` (the tokens this Warden issues).
    Keys(keys::Args),
    /// The tamper-evident decision log: `warden audit verify FILE [--jwks FILE]`.
    Audit(audit::Args),
    /// Policy bundles for `warden serve` (`[bundle]`): build, verify, inspect, push to an OCI registry.
    Bundle(bundle::Args),
    /// `warden serve`'s config file: its JSON Schema, or a file checked.
    Config(config::Args),
    /// The bans in force in a running service, and lifting one: `warden bans list|lift ID [--url URL]`.
    Bans(bans::Args),
    /// What a diagnostic code or lint means, an example and the fix: `warden explain E0209`.
    Explain(explain::Args),
    /// The CLI reference (Markdown) and man pages, generated from this help: `warden docs cli|man DIR`.
    Docs(docs::Args),
    /// Serve the playground (the language, compiler and engine in the browser) on localhost: `warden playground`.
    Playground(playground::Args),
    /// The release, the graph format it writes and reads, and how it was built (as `--version`).
    Version,
    /// A completion script for a shell, on stdout (bash: `warden completions bash > /etc/bash_completion.d/warden`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Output format for diagnostics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Source excerpts with carets, for people.
    #[default]
    Human,
    /// One JSON document, for tools.
    Json,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let ok = match cli.command {
        // `warden test` tells a failed test (1) from tests that could not run
        // (2); `warden eval --fail-on-deny` a denial (3) from no decision (1).
        Command::Test(args) => return exit(test::run(&args)),
        Command::Eval(args) => return exit(eval::run(&args)),
        // `warden diff` tells widened access (2) from a failure (1).
        Command::Diff(args) => return exit(diff::run(&args)),
        Command::Replay(args) => return exit(replay::run(&args)),
        // `warden explain` tells an unknown code (2) from one explained (0).
        Command::Explain(args) => return exit(explain::run(&args)),
        Command::Analyze(args) => analyze::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Keys(args) => keys::run(&args),
        Command::Audit(args) => audit::run(&args),
        Command::Bundle(args) => bundle::run(&args),
        Command::Config(args) => config::run(&args),
        Command::Bans(args) => bans::run(&args),
        Command::Docs(args) => docs::run(&args),
        Command::Playground(args) => playground::run(&args),
        Command::Version => {
            outln!("warden {}", VERSION.as_str());
            true
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "warden", &mut script);
            out!("{}", String::from_utf8_lossy(&script));
            true
        }
    };
    if ok && !out::failed() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// A command's own exit status; a failed write of its output is a failure too.
fn exit(code: u8) -> ExitCode {
    if out::failed() && code == 0 { ExitCode::FAILURE } else { ExitCode::from(code) }
}
