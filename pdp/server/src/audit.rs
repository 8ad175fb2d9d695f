//! The tamper-evident decision log (`[decision_log] chain = true`): every line
//! carries a sequence number (`seq`) and the SHA-256 of the line before it
//! (`prev`, hex; 64 zeros for the first line of a file), so a removed,
//! reordered or edited line breaks the chain at a place `warden audit verify`
//! names. With `[issuer]`, a checkpoint line every `checkpoint_every` lines
//! (and at most `checkpoint_interval_ms` after the last line) carries a JWS,
//! signed with the issuer's active key, over the `seq` and hash of the line
//! before it: whoever holds the log but not the key cannot rewrite it and
//! the chain after it. Each start of the service writes a `log_start` line
//! linked to the file's last line, so a restart is in the chain too.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;

use serde_json::{Value, json};
use sha2::Digest as _;

/// `prev` of a file's first line.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The JWS `typ` of a checkpoint.
pub const CHECKPOINT_TYP: &str = "warden-audit-checkpoint+jwt";

/// How far from its end a file is read to find its last line at start.
const TAIL_BYTES: u64 = 4 << 20;

/// Where the chain stands: the next line's `seq` and `prev`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The next line's sequence number.
    pub seq: u64,
    /// The SHA-256 (hex) of the last line written.
    pub prev: String,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain { seq: 0, prev: GENESIS.to_owned() }
    }
}

/// The SHA-256 of a line (without its newline), hex.
pub fn hash(line: &str) -> String {
    sha2::Sha256::digest(line.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Chain {
    /// The chain of the log file at `path`, to go on from: after its last
    /// complete line (its `seq` + 1, or 0 when that line has none), or from
    /// the start when the file is empty or absent.
    pub fn resume(path: &Path) -> std::io::Result<Chain> {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Chain::default()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut tail)?;
        let text = String::from_utf8_lossy(&tail);
        // The last complete line (a torn last line, from a crash mid-write, is
        // not part of the chain: `verify` reports it).
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None => return Ok(Chain::default()),
        };
        let Some(last) = complete.rsplit('\n').next().filter(|l| !l.is_empty()) else { return Ok(Chain::default()) };
        let seq = serde_json::from_str::<Value>(last).ok().and_then(|v| v.get("seq").and_then(Value::as_u64));
        Ok(Chain { seq: seq.map_or(0, |s| s.saturating_add(1)), prev: hash(last) })
    }

    /// `line` (a JSON object) with `seq` and `prev` put first; the chain moves on.
    pub fn seal(&mut self, line: &str) -> String {
        let rest = line.trim().strip_prefix('{').unwrap_or("}");
        let sep = if rest.trim_start().starts_with('}') { "" } else { "," };
        let sealed = format!("{{\"seq\":{},\"prev\":\"{}\"{sep}{rest}", self.seq, self.prev);
        self.prev = hash(&sealed);
        self.seq = self.seq.saturating_add(1);
        sealed
    }

    /// The `log_start` line of a service start (before sealing).
    pub fn start_line(now_ms: u64) -> String {
        json!({"event": "log_start", "time_ms": now_ms}).to_string()
    }

    /// A checkpoint line (before sealing) over the last line written, signed by `sign`.
    pub fn checkpoint_line(&self, now_ms: u64, sign: &dyn Fn(&Value) -> Result<String, String>) -> Option<String> {
        let covers = json!({"seq": self.seq.checked_sub(1)?, "hash": self.prev, "time_ms": now_ms});
        let jws = match sign(&covers) {
            Ok(jws) => jws,
            Err(e) => {
                eprintln!("warden: a decision log checkpoint cannot be signed ({e})");
                return None;
            }
        };
        Some(json!({"event": "checkpoint", "time_ms": now_ms, "covers": covers, "jws": jws}).to_string())
    }
}

/// What `warden audit verify` found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Verified {
    /// Lines read.
    pub lines: u64,
    /// The first and last `seq`.
    pub first_seq: Option<u64>,
    /// The last `seq`.
    pub last_seq: Option<u64>,
    /// Service starts (`log_start` lines).
    pub starts: u64,
    /// Checkpoints whose signature verified.
    pub checkpoints: u64,
    /// Checkpoints not verified (no key set given).
    pub unverified_checkpoints: u64,
    /// Lines after the last verified checkpoint (covered by the chain only).
    pub after_last_checkpoint: u64,
    /// Said of the file as a whole (it starts mid-chain: rotated).
    pub notes: Vec<String>,
    /// What is wrong, by line (1-based).
    pub problems: Vec<String>,
}

/// Checks a chained decision log: every line's `seq` follows the one before
/// and its `prev` is the hash of the line before; every checkpoint's JWS
/// verifies with a key of `jwks` (when given) and covers the line before it.
/// Problems name the line where the chain breaks and say what that means.
pub fn verify(log: impl std::io::BufRead, jwks: Option<&Value>) -> std::io::Result<Verified> {
    let mut out = Verified::default();
    let mut previous: Option<(u64, String)> = None; // seq and hash of the line before
    for (index, line) in log.split(b'\n').enumerate() {
        let line = line?;
        let n = index as u64 + 1;
        if line.is_empty() {
            continue;
        }
        out.lines += 1;
        out.after_last_checkpoint += 1;
        let Ok(text) = std::str::from_utf8(&line) else {
            out.problems.push(format!("line {n}: not UTF-8 text (edited?)"));
            previous = None;
            continue;
        };
        let entry = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(entry)) => entry,
            _ => {
                out.problems.push(format!("line {n}: not a JSON object (edited, or torn by a crash)"));
                previous = None;
                continue;
            }
        };
        let (Some(seq), Some(prev)) =
            (entry.get("seq").and_then(Value::as_u64), entry.get("prev").and_then(Value::as_str))
        else {
            out.problems.push(format!("line {n}: no `seq` and `prev`: not a chained line"));
            previous = None;
            continue;
        };
        out.first_seq.get_or_insert(seq);
        out.last_seq = Some(seq);
        match &previous {
            None if (n == 1 || out.lines == 1) && prev != GENESIS => {
                out.notes.push(format!("the file starts mid-chain, at seq {seq} (a rotated log?)"));
            }
            None => {}
            Some((last, last_hash)) => {
                if seq != last.saturating_add(1) {
                    let what = if seq > last.saturating_add(1) {
                        format!(
                            "{} entr{} removed before it",
                            seq - last - 1,
                            if seq - last - 1 == 1 { "y was" } else { "ies were" }
                        )
                    } else {
                        "entries were reordered or repeated".to_owned()
                    };
                    out.problems.push(format!("line {n}: seq {seq} follows seq {last}: {what}"));
                } else if prev != last_hash {
                    out.problems.push(format!(
                        "line {n}: `prev` is not the hash of line {}: that line was edited, or this one was moved",
                        n - 1
                    ));
                }
            }
        }
        match entry.get("event").and_then(Value::as_str) {
            Some("log_start") => out.starts += 1,
            Some("checkpoint") => match jwks {
                Some(keys) => match checkpoint(&entry, keys) {
                    Ok((covered_seq, covered_hash)) => {
                        if Some(&(covered_seq, covered_hash.clone())) != previous.as_ref() || covered_hash != prev {
                            out.problems.push(format!(
                                "line {n}: the checkpoint signs seq {covered_seq}, which is not the line before it"
                            ));
                        } else {
                            out.checkpoints += 1;
                            out.after_last_checkpoint = 0;
                        }
                    }
                    Err(why) => out.problems.push(format!("line {n}: the checkpoint does not verify: {why}")),
                },
                None => out.unverified_checkpoints += 1,
            },
            _ => {}
        }
        previous = Some((seq, hash(text)));
    }
    Ok(out)
}

/// The `seq` and hash a checkpoint's JWS signs, once its signature verifies
/// with a key of `jwks` (by `kid`).
fn checkpoint(entry: &serde_json::Map<String, Value>, jwks: &Value) -> Result<(u64, String), String> {
    use base64::Engine as _;
    let jws = entry.get("jws").and_then(Value::as_str).ok_or("no `jws`")?;
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not a compact JWS".to_owned());
    };
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok();
    let header: Value = b64(h).and_then(|b| serde_json::from_slice(&b).ok()).ok_or("an unreadable header")?;
    if header.get("typ").and_then(Value::as_str) != Some(CHECKPOINT_TYP) {
        return Err(format!("its `typ` is not `{CHECKPOINT_TYP}`"));
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or("no `kid`")?;
    let jwk = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| keys.iter().find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)))
        .ok_or_else(|| format!("no key `{kid}` in the key set"))?;
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(jwk.clone()).map_err(|_| format!("key `{kid}` is not a JWK"))?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("ES256") => jsonwebtoken::Algorithm::ES256,
        Some("EdDSA") => jsonwebtoken::Algorithm::EdDSA,
        Some("RS256") => jsonwebtoken::Algorithm::RS256,
        _ => return Err("an algorithm Warden does not sign with".to_owned()),
    };
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|_| format!("key `{kid}` cannot verify"))?;
    let message = format!("{h}.{p}");
    if !jsonwebtoken::crypto::verify(sig, message.as_bytes(), &key, alg).unwrap_or(false) {
        return Err(format!("the signature is not key `{kid}`'s"));
    }
    let payload: Value = b64(p).and_then(|b| serde_json::from_slice(&b).ok()).ok_or("an unreadable payload")?;
    let covers = entry.get("covers");
    if covers != Some(&payload) {
        return Err("its `covers` is not what the signature signs".to_owned());
    }
    let seq = payload.get("seq").and_then(Value::as_u64).ok_or("no `seq` signed")?;
    let hash = payload.get("hash").and_then(Value::as_str).ok_or("no `hash` signed")?;
    Ok((seq, hash.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_chained_and_a_restart_goes_on_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        assert_eq!(Chain::resume(&path).unwrap(), Chain::default());
        let mut chain = Chain::default();
        let a = chain.seal(r#"{"allow":true}"#);
        let b = chain.seal(r#"{"allow":false}"#);
        assert_eq!(a, format!(r#"{{"seq":0,"prev":"{GENESIS}","allow":true}}"#));
        assert_eq!(b, format!(r#"{{"seq":1,"prev":"{}","allow":false}}"#, hash(&a)));
        assert_eq!(chain.seal("{}"), format!(r#"{{"seq":2,"prev":"{}"}}"#, hash(&b)));
        std::fs::write(&path, format!("{a}\n{b}\n{{\"torn")).unwrap();
        // After the last complete line; a torn line is not part of the chain.
        assert_eq!(Chain::resume(&path).unwrap(), Chain { seq: 2, prev: hash(&b) });
        // A file of unchained lines: the chain starts after them.
        std::fs::write(&path, "{\"allow\":true}\n").unwrap();
        assert_eq!(Chain::resume(&path).unwrap(), Chain { seq: 0, prev: hash("{\"allow\":true}") });
    }
}
