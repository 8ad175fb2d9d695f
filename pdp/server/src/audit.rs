//! The tamper-evident decision log (`[decision_log] chain = true`): every line
//! carries a sequence number (`seq`) and the SHA-256 of the line before it
//! (`prev`, hex; 64 zeros for the first line of a file), so a removed,
//! reordered or edited line breaks the chain at a place `warden audit verify`
//! names. With `[issuer]`, a checkpoint line every `checkpoint_every` lines
//! (and at most `checkpoint_interval_ms` after the last line) carries a JWS,
//! signed with the issuer's active key, over the `seq` and hash of the line
//! before it: whoever holds the log but not the key cannot rewrite it and
//! the chain after it. Each start of the service writes a `log_start` line
//! linked to the file's last line, so a restart is in the chain too; it says
//! how often this run signs (`checkpoint_every`), and each checkpoint signs
//! that and its run's start (`start`, the `seq` of the `log_start`), so
//! checkpoints removed after an edit show as a checkpoint overdue.

use std::io::{BufRead as _, Read as _, Seek as _, SeekFrom};
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

/// The longest line `verify` reads (a longer one is named and skipped).
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// At most this many problems are named; the rest are counted.
const MAX_PROBLEMS: usize = 1_000;

impl Chain {
    /// The chain of the log file at `path`, to go on from: after its last
    /// complete line (its `seq` + 1, or 0 when that line has none), or from
    /// the start when the file is empty or absent; and whether the file ends
    /// in a torn line (a crash mid-write), which the next line must not join.
    /// A file whose last 4 MiB hold no line end is refused: its last line
    /// cannot be found.
    pub fn resume(path: &Path) -> std::io::Result<(Chain, bool)> {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Chain::default(), false)),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let start = len.saturating_sub(TAIL_BYTES);
        file.seek(SeekFrom::Start(start))?;
        let mut tail = Vec::new();
        file.take(TAIL_BYTES).read_to_end(&mut tail)?;
        let torn = tail.last().is_some_and(|b| *b != b'\n');
        let text = String::from_utf8_lossy(&tail);
        // The last complete line (a torn last line is not part of the chain:
        // `verify` notes it).
        let complete = match text.rfind('\n') {
            Some(end) => &text[..end],
            None if start > 0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "no line ends in the last 4 MiB: not a decision log, or its last line is torn beyond repair",
                ));
            }
            None => return Ok((Chain::default(), torn)),
        };
        let Some(last) = complete.rsplit('\n').next().filter(|l| !l.is_empty()) else {
            return Ok((Chain::default(), torn));
        };
        let seq = serde_json::from_str::<Value>(last).ok().and_then(|v| v.get("seq").and_then(Value::as_u64));
        Ok((Chain { seq: seq.map_or(0, |s| s.saturating_add(1)), prev: hash(last) }, torn))
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

    /// The `log_start` line of a service start (before sealing): with
    /// `checkpoint_every` when this run signs checkpoints.
    pub fn start_line(now_ms: u64, checkpoint_every: Option<u64>) -> String {
        let mut line = json!({"event": "log_start", "time_ms": now_ms});
        if let Some(every) = checkpoint_every {
            line["checkpoint_every"] = json!(every);
        }
        line.to_string()
    }

    /// A checkpoint line (before sealing) over the last line written, signed
    /// by `sign`, for the run that started at `start` (its `log_start`'s
    /// `seq`) and signs every `every` lines.
    pub fn checkpoint_line(
        &self,
        now_ms: u64,
        start: u64,
        every: u64,
        sign: &dyn Fn(&Value) -> Result<String, String>,
    ) -> Option<String> {
        let covers = json!({
            "seq": self.seq.checked_sub(1)?, "hash": self.prev, "time_ms": now_ms, "start": start, "every": every,
        });
        let jws = match sign(&covers) {
            Ok(jws) => jws,
            Err(e) => {
                tracing::warn!("a decision log checkpoint cannot be signed ({e})");
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

/// One service start, as `verify` follows it.
struct Run {
    /// The `seq` of its `log_start` (unknown in a file that starts mid-run).
    start: Option<u64>,
    /// A checkpoint is due after this many lines (`None`: it signs none).
    every: Option<u64>,
}

/// Checks a chained decision log: every line's `seq` follows the one before
/// and its `prev` is the hash of the line before; every checkpoint's JWS
/// verifies with a key of `jwks` (when given), covers the line before it and
/// belongs to its run; a run that signs has a checkpoint at least every
/// `checkpoint_every` lines (else checkpoints were removed, say after an
/// edit and a re-chaining). Problems name the line where the chain breaks
/// and say what that means. A line torn by a crash, followed by a service
/// start that goes on from the line before it, is noted, not a problem.
pub fn verify(mut log: impl std::io::BufRead, jwks: Option<&Value>) -> std::io::Result<Verified> {
    let mut out = Verified::default();
    let mut problems = Problems(&mut out.problems, 0);
    let mut previous: Option<(u64, String)> = None; // seq and hash of the last good line
    let mut run: Option<Run> = None;
    let mut since_checkpoint: u64 = 0;
    let mut ever_signed = false;
    let mut torn: Option<u64> = None; // an unreadable line, maybe torn by a crash
    let mut buf = Vec::new();
    let mut n: u64 = 0;
    loop {
        buf.clear();
        let read = (&mut log).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buf)?;
        if read == 0 {
            break;
        }
        n += 1;
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE_BYTES {
            // Skip the rest of this line without holding it.
            let mut skipped = Vec::new();
            loop {
                skipped.clear();
                let more = (&mut log).take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut skipped)?;
                if more == 0 || skipped.last() == Some(&b'\n') {
                    break;
                }
            }
            out.lines += 1;
            problems.push(format!("line {n}: longer than {MAX_LINE_BYTES} bytes: not a line Warden writes"));
            continue;
        }
        let ended = buf.last() == Some(&b'\n');
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if line.is_empty() {
            continue;
        }
        out.lines += 1;
        let entry = std::str::from_utf8(line).ok().and_then(|text| match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(entry)) => Some((text, entry)),
            _ => None,
        });
        let Some((text, entry)) = entry else {
            if !ended {
                out.notes.push(format!("line {n}: the last line is incomplete (being written, or torn by a crash)"));
            } else if let Some(t) = torn.replace(n) {
                problems.push(format!("line {t}: not a chained JSON line (edited?)"));
            }
            continue;
        };
        let (Some(seq), Some(prev)) =
            (entry.get("seq").and_then(Value::as_u64), entry.get("prev").and_then(Value::as_str))
        else {
            problems.push(format!("line {n}: no `seq` and `prev`: not a chained line"));
            continue;
        };
        let event = entry.get("event").and_then(Value::as_str);
        // A torn line is one the service never chained: the start after it links to the line before.
        if let Some(t) = torn.take() {
            let linked = previous.as_ref().is_none_or(|(s, h)| seq == s.saturating_add(1) && prev == h);
            if event == Some("log_start") && linked {
                out.notes.push(format!("line {t}: torn by a crash; the service start at line {n} goes on before it"));
            } else {
                problems.push(format!("line {t}: not a chained JSON line (edited, or torn by a crash)"));
            }
        }
        out.first_seq.get_or_insert(seq);
        out.last_seq = Some(seq);
        match &previous {
            None if prev != GENESIS => {
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
                    problems.push(format!("line {n}: seq {seq} follows seq {last}: {what}"));
                } else if prev != last_hash {
                    problems.push(format!(
                        "line {n}: `prev` is not the hash of the line before: that line was edited, or this one was moved"
                    ));
                }
            }
        }
        match event {
            Some("log_start") => {
                out.starts += 1;
                let every = entry.get("checkpoint_every").and_then(Value::as_u64);
                if every.is_none() && ever_signed {
                    problems.push(format!(
                        "line {n}: this service start signs no checkpoints and an earlier one did: \
                         checkpoints were turned off (rotate the file when you do), or this line was edited"
                    ));
                }
                ever_signed |= every.is_some();
                run = Some(Run { start: Some(seq), every });
                since_checkpoint = 1;
            }
            Some("checkpoint") => {
                since_checkpoint = 0;
                match jwks {
                    Some(keys) => match checkpoint(&entry, keys) {
                        Ok(signed) => {
                            let run = run.get_or_insert(Run { start: None, every: None });
                            if Some(&(signed.seq, signed.hash.clone())) != previous.as_ref() || signed.hash != prev {
                                problems.push(format!(
                                    "line {n}: the checkpoint signs seq {}, which is not the line before it",
                                    signed.seq
                                ));
                            } else if run.start.is_some_and(|s| Some(s) != signed.start) {
                                problems.push(format!(
                                    "line {n}: the checkpoint belongs to another service start than the one before it"
                                ));
                            } else {
                                // A file that starts mid-run learns the run from its first checkpoint.
                                run.every = run.every.or(signed.every);
                                ever_signed |= run.every.is_some();
                                out.checkpoints += 1;
                                out.after_last_checkpoint = 0;
                            }
                        }
                        Err(why) => problems.push(format!("line {n}: the checkpoint does not verify: {why}")),
                    },
                    None => out.unverified_checkpoints += 1,
                }
            }
            _ => {
                since_checkpoint += 1;
                if let Some(every) = run.as_ref().and_then(|r| r.every)
                    && since_checkpoint == every.saturating_add(1)
                {
                    problems.push(format!(
                        "line {n}: no checkpoint in the {every} lines before it (one is due every {every}): \
                         checkpoints were removed, or could not be signed (the service says so in its own log)"
                    ));
                }
            }
        }
        if event != Some("checkpoint") {
            out.after_last_checkpoint += 1;
        }
        previous = Some((seq, hash(text)));
    }
    if let Some(t) = torn {
        problems.push(format!("line {t}: not a chained JSON line (edited, or torn by a crash)"));
    }
    if problems.1 > 0 {
        let more = problems.1;
        out.problems.push(format!("… and {more} more problems"));
    }
    Ok(out)
}

/// The problems named so far, and how many more were found past the cap.
struct Problems<'a>(&'a mut Vec<String>, u64);

impl Problems<'_> {
    fn push(&mut self, problem: String) {
        if self.0.len() < MAX_PROBLEMS {
            self.0.push(problem);
        } else {
            self.1 += 1;
        }
    }
}

/// What a checkpoint signs.
struct Signed {
    seq: u64,
    hash: String,
    /// Its run's start and checkpoint interval (absent from a checkpoint of an earlier version).
    start: Option<u64>,
    every: Option<u64>,
}

/// What a checkpoint's JWS signs, once its signature verifies with a key of
/// `jwks` (by `kid`).
fn checkpoint(entry: &serde_json::Map<String, Value>, jwks: &Value) -> Result<Signed, String> {
    use base64::Engine as _;
    let jws = entry.get("jws").and_then(Value::as_str).ok_or("no `jws`")?;
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("not a compact JWS".to_owned());
    };
    crate::signing::verify_compact(h, p, sig, jwks, CHECKPOINT_TYP)?;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).ok();
    let payload: Value = b64(p).and_then(|b| serde_json::from_slice(&b).ok()).ok_or("an unreadable payload")?;
    let covers = entry.get("covers");
    if covers != Some(&payload) {
        return Err("its `covers` is not what the signature signs".to_owned());
    }
    let seq = payload.get("seq").and_then(Value::as_u64).ok_or("no `seq` signed")?;
    let hash = payload.get("hash").and_then(Value::as_str).ok_or("no `hash` signed")?;
    let (start, every) = (payload.get("start").and_then(Value::as_u64), payload.get("every").and_then(Value::as_u64));
    Ok(Signed { seq, hash: hash.to_owned(), start, every })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_chained_and_a_restart_goes_on_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        assert_eq!(Chain::resume(&path).unwrap(), (Chain::default(), false));
        let mut chain = Chain::default();
        let a = chain.seal(r#"{"allow":true}"#);
        let b = chain.seal(r#"{"allow":false}"#);
        assert_eq!(a, format!(r#"{{"seq":0,"prev":"{GENESIS}","allow":true}}"#));
        assert_eq!(b, format!(r#"{{"seq":1,"prev":"{}","allow":false}}"#, hash(&a)));
        assert_eq!(chain.seal("{}"), format!(r#"{{"seq":2,"prev":"{}"}}"#, hash(&b)));
        std::fs::write(&path, format!("{a}\n{b}\n{{\"torn")).unwrap();
        // After the last complete line; a torn line is not part of the chain, and is said.
        assert_eq!(Chain::resume(&path).unwrap(), (Chain { seq: 2, prev: hash(&b) }, true));
        // A file of unchained lines: the chain starts after them.
        std::fs::write(&path, "{\"allow\":true}\n").unwrap();
        assert_eq!(Chain::resume(&path).unwrap(), (Chain { seq: 0, prev: hash("{\"allow\":true}") }, false));
        // No line end in the last 4 MiB: refused, not guessed.
        std::fs::write(&path, "x".repeat(TAIL_BYTES as usize + 10)).unwrap();
        assert_eq!(Chain::resume(&path).unwrap_err().kind(), std::io::ErrorKind::InvalidData);
    }

    /// A run signing every 2 lines, as the service writes it: start, then
    /// decisions with a checkpoint after each pair (unsigned here: `verify`
    /// is given no key set, so only their places are checked).
    fn run_of(chain: &mut Chain, decisions: usize) -> Vec<String> {
        let start = chain.seq;
        let mut lines = vec![chain.seal(&Chain::start_line(1, Some(2)))];
        let mut unsigned = 1;
        let checkpoint = |ch: &Chain| ch.checkpoint_line(1, start, 2, &|_| Ok("h.p.s".to_owned())).unwrap();
        for i in 0..decisions {
            if unsigned == 2 {
                let line = checkpoint(chain);
                lines.push(chain.seal(&line));
                unsigned = 0;
            }
            lines.push(chain.seal(&format!(r#"{{"decision_id":"d{i}"}}"#)));
            unsigned += 1;
        }
        lines
    }

    fn verified(lines: &[String]) -> Verified {
        verify(std::io::Cursor::new(lines.join("\n") + "\n"), None).unwrap()
    }

    #[test]
    fn checkpoints_removed_after_a_rechained_edit_are_overdue() {
        let mut chain = Chain::default();
        let lines = run_of(&mut chain, 7);
        let v = verified(&lines);
        assert_eq!((v.problems.len(), v.unverified_checkpoints, v.starts), (0, 3, 1), "{:?}", v.problems);
        // Every checkpoint dropped and the rest re-chained (what someone without the key can do).
        let mut forged = Chain::default();
        let kept: Vec<String> = lines
            .iter()
            .filter(|l| !l.contains("\"checkpoint\""))
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let mut body = v.as_object().unwrap().clone();
                body.remove("seq");
                body.remove("prev");
                forged.seal(&Value::Object(body).to_string())
            })
            .collect();
        let v = verified(&kept);
        assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
        assert!(v.problems[0].starts_with("line 3: no checkpoint in the 2 lines before it"), "{:?}", v.problems);
        // Nor can the start line be made to say it signs none, after a start that did.
        let mut chain = Chain::default();
        let mut two = run_of(&mut chain, 2);
        two.push(chain.seal(&Chain::start_line(2, None)));
        let v = verified(&two);
        assert!(
            v.problems.iter().any(|p| p.contains("signs no checkpoints and an earlier one did")),
            "{:?}",
            v.problems
        );
    }

    #[test]
    fn a_line_torn_by_a_crash_before_a_restart_is_noted_and_garbage_is_not() {
        let mut chain = Chain::default();
        let mut lines = run_of(&mut chain, 2);
        lines.push("{\"seq\":9,\"pr".to_owned());
        // The next start goes on from the line before the torn one.
        lines.extend(run_of(&mut chain, 2));
        let v = verified(&lines);
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert!(v.notes.iter().any(|n| n.starts_with("line 5: torn by a crash")), "{:?}", v.notes);
        // The same line before a decision: not a crash the service went on from.
        let mut chain = Chain::default();
        let mut lines = run_of(&mut chain, 3);
        lines.insert(3, "not json".to_owned());
        let v = verified(&lines);
        assert_eq!(v.problems, ["line 4: not a chained JSON line (edited, or torn by a crash)"]);
    }

    #[test]
    fn verify_reads_bounded_lines_and_names_a_bounded_number_of_problems() {
        let mut text = "x".repeat(MAX_LINE_BYTES + 10);
        text.push('\n');
        for _ in 0..1_500 {
            text.push_str("{}\n");
        }
        let v = verify(std::io::Cursor::new(text), None).unwrap();
        assert_eq!(v.lines, 1_501);
        assert!(v.problems[0].starts_with("line 1: longer than"), "{}", v.problems[0]);
        assert_eq!(v.problems.len(), MAX_PROBLEMS + 1);
        assert_eq!(v.problems.last().map(String::as_str), Some("… and 501 more problems"));
    }
}
