//! `warden eval DIR [REQUEST.json] [--fail-on-deny]`: one decision for a check in
//! SERVICE.md's JSON format. Exit status: 0 a decision was made (either way), 1 no
//! decision (the set or the check is broken), 3 a denial with `--fail-on-deny`.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use warden_compiler::graph::KeySource;
use warden_engine::limits::Memory;
use warden_server::api::{AnyCheck, Bounds, SourcePart, parse_check};

use super::files;
use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set directory.
    pub dir: PathBuf,
    /// The check (`/v1/check` or `/v1/check/resource` JSON); stdin when absent.
    pub request: Option<PathBuf>,
    /// Exit with status 3 when the decision is a denial (the decision is
    /// printed all the same), so a script or CI step can assert an allow.
    #[arg(long)]
    pub fail_on_deny: bool,
}

/// No decision was made.
const NO_DECISION: u8 = 1;
/// Denied, with `--fail-on-deny`.
pub const DENIED: u8 = 3;

/// Largest check read (bodies are part of it).
const MAX_CHECK_BYTES: u64 = 16 << 20;

/// The exit status (see the module's documentation).
pub fn run(args: &Args) -> u8 {
    if files::several_sets(&args.dir, "evaluate the check against one of them") {
        return NO_DECISION;
    }
    let Some(warden_project::Compiled { loader, graph, .. }) = files::compile_set(&args.dir) else {
        return NO_DECISION;
    };
    let mut bytes = Vec::new();
    let read = match &args.request {
        Some(path) => std::fs::File::open(path).and_then(|f| f.take(MAX_CHECK_BYTES).read_to_end(&mut bytes)),
        None => std::io::stdin().take(MAX_CHECK_BYTES).read_to_end(&mut bytes),
    };
    if let Err(err) = read {
        errln!("error: cannot read the check: {err}");
        return NO_DECISION;
    }
    let check = match parse_check(&bytes) {
        Ok(check) => check,
        Err(message) => {
            errln!("error: {message}");
            return NO_DECISION;
        }
    };
    // `warden eval` stays offline and repeatable: `jwks url` keys are not fetched,
    // so tokens of those issuers are refused `key_unknown` (as by a service that
    // could not reach the issuer). Say so rather than let it look like a bad token.
    let url_issuers: std::collections::BTreeSet<&str> = graph
        .issuers
        .iter()
        .filter(|i| matches!(i.keys, Some(KeySource::Url { .. })))
        .map(|i| i.iss.as_str())
        .collect();
    for iss in url_issuers {
        errln!(
            "note: `warden eval` does not fetch `jwks url` keys; tokens of issuer `{iss}` are refused `key_unknown`"
        );
    }
    let engine = match warden_project::engine(graph, &loader, Arc::new(Memory::new(1_000)), None) {
        Ok(e) => e,
        Err(err) => {
            errln!("error: {err}");
            return NO_DECISION;
        }
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // `warden eval` is the PDP's own process: the check's `source` is taken as
    // given, and a resource check is judged as `https` (docs/serve.md, callers).
    let decision = match check {
        AnyCheck::Http(c) => {
            let source = c.source.as_ref().map(SourcePart::asserted).unwrap_or_default();
            c.into_engine(source, now_ms, &Bounds::default()).map(|r| engine.check_http(&r))
        }
        AnyCheck::Resource(c) => {
            let source = c.source.as_ref().map(SourcePart::asserted).unwrap_or_default();
            c.into_engine(source, "https", now_ms).map(|r| engine.check_resource(&r))
        }
    };
    let decision = match decision {
        Ok(d) => d,
        Err(message) => {
            errln!("error: {message}");
            return NO_DECISION;
        }
    };
    match serde_json::to_string_pretty(&decision) {
        Ok(text) => outln!("{text}"),
        Err(err) => {
            errln!("error: {err}");
            return NO_DECISION;
        }
    }
    if args.fail_on_deny && !decision.allow { DENIED } else { 0 }
}
