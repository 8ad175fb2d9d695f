//! `warden eval DIR [REQUEST.json]`: one decision for a check in SERVICE.md's JSON format.

use std::io::Read as _;
use std::path::PathBuf;
use std::sync::Arc;

use warden_compiler::Loader as _;
use warden_compiler::graph::SecretSource;
use warden_pdp::api::{AnyCheck, parse_check};
use warden_pdp::engine::eval::Prepared;
use warden_pdp::engine::jwt::JwksVerifier;
use warden_pdp::engine::limits::Memory;
use warden_pdp::engine::run::Engine;

use super::files;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The policy set directory.
    pub dir: PathBuf,
    /// The check (`/v1/check` or `/v1/check/resource` JSON); stdin when absent.
    pub request: Option<PathBuf>,
}

/// Largest check read (bodies are part of it).
const MAX_CHECK_BYTES: u64 = 16 << 20;

pub fn run(args: &Args) -> bool {
    let Some((_, loader, graph, _)) = files::compile_set(&args.dir) else { return false };
    let mut bytes = Vec::new();
    let read = match &args.request {
        Some(path) => std::fs::File::open(path).and_then(|f| f.take(MAX_CHECK_BYTES).read_to_end(&mut bytes)),
        None => std::io::stdin().take(MAX_CHECK_BYTES).read_to_end(&mut bytes),
    };
    if let Err(err) = read {
        eprintln!("error: cannot read the check: {err}");
        return false;
    }
    let check = match parse_check(&bytes) {
        Ok(check) => check,
        Err(message) => {
            eprintln!("error: {message}");
            return false;
        }
    };
    let secret = |source: &SecretSource| match source {
        SecretSource::File(path) => loader.read(path).ok(),
        SecretSource::Env(var) => std::env::var(var).ok().map(String::into_bytes),
    };
    let verifier = JwksVerifier::new(&graph, &secret);
    let prepared = match Prepared::new(graph) {
        Ok(p) => p,
        Err(err) => {
            eprintln!("error: the graph cannot be loaded: {err}");
            return false;
        }
    };
    let engine = Engine::new(prepared, Arc::new(Memory::new(1_000)), Arc::new(verifier));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let decision = match check {
        AnyCheck::Http(c) => engine.check_http(&c.to_engine(now_ms)),
        AnyCheck::Resource(c) => engine.check_resource(&c.to_engine(now_ms, "https")),
    };
    match serde_json::to_string_pretty(&decision) {
        Ok(text) => {
            println!("{text}");
            true
        }
        Err(err) => {
            eprintln!("error: {err}");
            false
        }
    }
}
