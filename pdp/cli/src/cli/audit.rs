//! `warden audit verify FILE [--jwks FILE]`: checks a chained decision log
//! (`[decision_log] chain = true`): a removed, reordered or edited entry
//! breaks the chain where it happened, and a checkpoint whose signature does
//! not verify with the issuer's key set (`--jwks`, e.g. the service's
//! `/.well-known/jwks.json`) is named. Exit 0 when intact, 1 when not.

use std::path::PathBuf;

use super::out::{errln, outln};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the chain and the signed checkpoints of a decision log.
    Verify {
        /// The decision log (JSON lines).
        file: PathBuf,
        /// The key set that verifies the checkpoints (the issuer's JWKS).
        #[arg(long)]
        jwks: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: &Args) -> bool {
    let AuditCommand::Verify { file, jwks, json } = &args.command;
    let keys = match jwks.as_ref().map(std::fs::read) {
        None => None,
        Some(Ok(bytes)) => match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Ok(v) if v.get("keys").is_some_and(serde_json::Value::is_array) => Some(v),
            _ => {
                errln!(
                    "error: `{}` is not a JWKS (an object with `keys`)",
                    jwks.as_ref().map_or(String::new(), |p| p.display().to_string())
                );
                return false;
            }
        },
        Some(Err(e)) => {
            errln!("error: cannot read `{}`: {e}", jwks.as_ref().map_or(String::new(), |p| p.display().to_string()));
            return false;
        }
    };
    let log = match std::fs::File::open(file) {
        Ok(f) => std::io::BufReader::new(f),
        Err(e) => {
            errln!("error: cannot read `{}`: {e}", file.display());
            return false;
        }
    };
    let v = match warden_server::audit::verify(log, keys.as_ref()) {
        Ok(v) => v,
        Err(e) => {
            errln!("error: cannot read `{}`: {e}", file.display());
            return false;
        }
    };
    if *json {
        match serde_json::to_string_pretty(&v) {
            Ok(text) => outln!("{text}"),
            Err(e) => errln!("error: cannot write JSON: {e}"),
        }
        return v.problems.is_empty() && v.lines > 0;
    }
    for problem in &v.problems {
        errln!("{}: {problem}", file.display());
    }
    for note in &v.notes {
        outln!("note: {note}");
    }
    let range = match (v.first_seq, v.last_seq) {
        (Some(a), Some(b)) => format!("seq {a} to {b}"),
        _ => "no chained entry".to_owned(),
    };
    let signed = if v.unverified_checkpoints > 0 {
        format!("{} checkpoints not verified (no `--jwks`)", v.unverified_checkpoints)
    } else {
        format!(
            "{} checkpoints verified, {} entries after the last one (chain only)",
            v.checkpoints, v.after_last_checkpoint
        )
    };
    let verdict = if v.problems.is_empty() { "intact" } else { "TAMPERED" };
    outln!("{}: {verdict}: {} entries, {range}, {} service starts; {signed}", file.display(), v.lines, v.starts);
    if v.lines == 0 {
        errln!("error: `{}` has no entries", file.display());
        return false;
    }
    v.problems.is_empty()
}
