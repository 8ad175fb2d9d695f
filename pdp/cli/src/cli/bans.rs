//! `warden bans list|lift` against a running `warden serve`: the bans in
//! force (`GET /v1/bans`) and lifting one (`DELETE /v1/bans/{id}`). The
//! service answers only callers `[callers]` allows to assert a source (by
//! default, loopback).

use std::time::Duration;

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: BansCommand,
    /// The service's HTTP address.
    #[arg(long, global = true, default_value = "http://127.0.0.1:8181")]
    pub url: String,
}

#[derive(Debug, clap::Subcommand)]
pub enum BansCommand {
    /// The bans in force: id, ban, key, until, offence.
    List {
        /// Print the service's JSON as it is.
        #[arg(long)]
        json: bool,
    },
    /// Lift a ban (its id from `warden bans list`), forgetting its offences.
    Lift {
        /// The ban's id.
        id: String,
    },
}

pub fn run(args: &Args) -> bool {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            errln!("error: cannot start: {e}");
            return false;
        }
    };
    runtime.block_on(ask(args))
}

async fn ask(args: &Args) -> bool {
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(10)).build() {
        Ok(c) => c,
        Err(e) => {
            errln!("error: cannot make an HTTP client: {e}");
            return false;
        }
    };
    let base = args.url.trim_end_matches('/');
    let request = match &args.command {
        BansCommand::List { .. } => client.get(format!("{base}/v1/bans")),
        BansCommand::Lift { id } => {
            let id: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            client.delete(format!("{base}/v1/bans/{id}"))
        }
    };
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            errln!("error: cannot reach `{base}`: {}", e.without_url());
            return false;
        }
    };
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let said = body.get("error").and_then(serde_json::Value::as_str).unwrap_or("");
        errln!("error: `{base}` answered {status}: {said}");
        return false;
    }
    match &args.command {
        BansCommand::List { json: true } => outln!("{body}"),
        BansCommand::List { json: false } => {
            let bans = body.get("bans").and_then(serde_json::Value::as_array).cloned().unwrap_or_default();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
            for b in &bans {
                let until = b.get("until_ms").and_then(serde_json::Value::as_u64).unwrap_or(0);
                outln!(
                    "{}  {}  {}  {} s left  offence {}",
                    b.get("id").and_then(serde_json::Value::as_str).unwrap_or(""),
                    b.get("ban").and_then(serde_json::Value::as_str).unwrap_or("(a ban the set no longer has)"),
                    b.get("key").and_then(serde_json::Value::as_str).unwrap_or(""),
                    (u128::from(until).saturating_sub(now)).div_ceil(1_000),
                    b.get("offences").and_then(serde_json::Value::as_u64).unwrap_or(1)
                );
            }
            outln!("{} bans in force", bans.len());
        }
        BansCommand::Lift { id } => outln!("lifted `{id}`"),
    }
    true
}
