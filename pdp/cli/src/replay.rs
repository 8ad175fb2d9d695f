//! Replay (`warden replay`): the decisions of a decision log with captured
//! inputs (`[decision_log] capture`) judged again against another revision,
//! and every one that would change, grouped by endpoint and direction.
//!
//! A captured token is not in the log (nor any credential): the claims it
//! carried are, and a token with exactly those claims is signed again by a
//! key of the run that the revision's issuer trusts in place of its own (as
//! `warden test` does). So a change of issuer, audience, scope or rule shows,
//! and so does the token's expiry: each input is judged at the time it was
//! logged. What cannot be judged again is counted, with why, never guessed:
//! client secrets and API keys (not captured), tokens refused before their
//! claims were known, DPoP-bound tokens (no proof can be made again), bodies
//! that were not captured, and decisions that were about load rather than
//! policy (429, 503). Rate limits are not
//! replayed: each input is judged with fresh limits.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::sync::Arc;

use base64::Engine as _;
use serde::Serialize;
use serde_json::{Map, Value};
use warden_compiler::graph::Graph;
use warden_engine::decision::Decision;
use warden_engine::limits::{BackendError, Limiter, Outcome as LimitOutcome, Rate};
use warden_engine::run::{Engine, HttpRequest, ResourceRequest};

use warden_engine::testing::Replayer;

use crate::keys::AwsLcKeys;

/// The longest log line read (a line with a captured body of 64 KiB is about 90 KiB).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// How many examples each group keeps.
pub const EXAMPLES: usize = 3;

/// A decision as the log or the replay says it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Allowed.
    pub allow: bool,
    /// Its status.
    pub status: u16,
    /// Its reason.
    pub reason: String,
}

/// One decision that changed.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// The logged decision's id.
    pub decision_id: String,
    /// What was judged (`GET host/path`, `type.action id`).
    pub what: String,
    /// Before.
    pub before: Verdict,
    /// After.
    pub after: Verdict,
}

/// The changes of one endpoint in one direction.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// The endpoint (the deciding rule's endpoint, or what was judged).
    pub endpoint: String,
    /// `allow_to_deny`, `deny_to_allow` or `deny_to_deny` (another reason).
    pub direction: Direction,
    /// How many decisions.
    pub count: usize,
    /// The first few.
    pub examples: Vec<Example>,
}

/// Which way a decision changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Was allowed, would be denied.
    AllowToDeny,
    /// Was denied, would be allowed.
    DenyToAllow,
    /// Denied either way, for another reason or status.
    DenyToDeny,
}

/// What a replay found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Lines read.
    pub lines: usize,
    /// Lines with a captured input.
    pub captured: usize,
    /// Inputs judged again.
    pub replayed: usize,
    /// Inputs not judged again, by why.
    pub skipped: BTreeMap<String, usize>,
    /// Decisions that would change, grouped.
    pub groups: Vec<Group>,
}

impl Summary {
    /// How many decisions changed in `direction`.
    pub fn count(&self, direction: Direction) -> usize {
        self.groups.iter().filter(|g| g.direction == direction).map(|g| g.count).sum()
    }

    fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_owned()).or_default() += 1;
    }
}

/// Admits everything: limits are not replayed (the log's traffic was spread
/// over replicas and time in ways one process cannot redo).
struct Unlimited;

impl Limiter for Unlimited {
    fn consume(&self, _limit: u64, _key: &str, rate: Rate, _now_ms: u64) -> Result<LimitOutcome, BackendError> {
        Ok(LimitOutcome { allowed: true, limit: rate.burst, remaining: rate.burst, reset_ms: 0, retry_after_ms: 0 })
    }

    fn keys(&self) -> usize {
        0
    }

    fn clear(&self) {}
}

/// Replays every line of `log` against `graph`.
pub fn replay(log: impl BufRead, graph: &Graph) -> Result<Summary, String> {
    let replayer = Replayer::new(graph, &AwsLcKeys);
    let engine = replayer.engine(Arc::new(Unlimited))?;
    let mut summary = Summary::default();
    let mut groups: BTreeMap<(String, Direction), Group> = BTreeMap::new();
    let mut reader = log;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(reader.by_ref(), MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read the log: {e}"))?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE_BYTES {
            // Skip the rest of an over-long line.
            summary.lines += 1;
            summary.skip("line longer than 1 MiB");
            if !line.ends_with(b"\n") {
                skip_line(&mut reader).map_err(|e| format!("cannot read the log: {e}"))?;
            }
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = serde_json::from_slice::<Value>(&line);
        // A shadow candidate's disagreement or an event (a ban, a service
        // start, a checkpoint) is not a decision: not counted.
        if parsed.as_ref().is_ok_and(|v| v.get("shadow").is_some() || v.get("event").is_some()) {
            continue;
        }
        summary.lines += 1;
        let Ok(Value::Object(entry)) = parsed else {
            summary.skip("not a decision log line");
            continue;
        };
        let Some(Value::Object(input)) = entry.get("input") else {
            summary.skip("no captured input");
            continue;
        };
        summary.captured += 1;
        let Some(before) = verdict(&entry) else {
            summary.skip("not a decision log line");
            continue;
        };
        if before.status == 429 || before.status == 503 {
            summary.skip("rate limited or unavailable at the time (about load, not policy)");
            continue;
        }
        let now_ms = entry.get("time_ms").and_then(Value::as_u64).unwrap_or(0);
        let d = match judge(&replayer, &engine, input, now_ms) {
            Ok(d) => d,
            Err(why) => {
                summary.skip(why);
                continue;
            }
        };
        summary.replayed += 1;
        let after = Verdict { allow: d.allow, status: d.status, reason: d.reason.as_str().to_owned() };
        let direction = match (before.allow, after.allow) {
            (true, false) => Direction::AllowToDeny,
            (false, true) => Direction::DenyToAllow,
            (false, false) if before.reason != after.reason || before.status != after.status => Direction::DenyToDeny,
            _ => continue,
        };
        let endpoint = d
            .rule
            .as_deref()
            .or_else(|| entry.get("rule").and_then(Value::as_str))
            .map_or_else(|| what(input), |r| r.split('#').next().unwrap_or(r).to_owned());
        let group = groups.entry((endpoint.clone(), direction)).or_insert_with(|| Group {
            endpoint,
            direction,
            count: 0,
            examples: Vec::new(),
        });
        group.count += 1;
        if group.examples.len() < EXAMPLES {
            let decision_id = entry.get("decision_id").and_then(Value::as_str).unwrap_or("").to_owned();
            group.examples.push(Example { decision_id, what: what(input), before, after });
        }
    }
    let mut groups: Vec<Group> = groups.into_values().collect();
    groups.sort_by_key(|g| (g.direction, std::cmp::Reverse(g.count)));
    summary.groups = groups;
    Ok(summary)
}

/// Reads past the end of the current line, a buffer at a time (never the whole line).
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        if let Some(end) = buf.iter().position(|b| *b == b'\n') {
            reader.consume(end + 1);
            return Ok(());
        }
        let n = buf.len();
        reader.consume(n);
    }
}

fn verdict(entry: &Map<String, Value>) -> Option<Verdict> {
    Some(Verdict {
        allow: entry.get("allow")?.as_bool()?,
        status: u16::try_from(entry.get("status")?.as_u64()?).ok()?,
        reason: entry.get("reason")?.as_str()?.to_owned(),
    })
}

fn text(input: &Map<String, Value>, name: &str) -> String {
    input.get(name).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn opt_text(input: &Map<String, Value>, name: &str) -> Option<String> {
    input.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// What an input judged, in a few words.
fn what(input: &Map<String, Value>) -> String {
    if text(input, "kind") == "resource" {
        format!("{}.{} {}", text(input, "resource_type"), text(input, "action"), text(input, "resource_id"))
    } else {
        let target = text(input, "target");
        format!("{} {}{}", text(input, "method"), text(input, "host"), target.split(['?', '#']).next().unwrap_or(""))
    }
}

/// The claims to sign again, when the input's credential was a token.
fn token(replayer: &Replayer<'_>, input: &Map<String, Value>) -> Result<Option<String>, &'static str> {
    match input.get("credential").and_then(Value::as_str) {
        None => Ok(None),
        Some("bearer") => {
            let Some(Value::Object(claims)) = input.get("claims") else {
                // Refused before its claims were known (expired, forged…):
                // what it was is not in the log.
                return Err("token refused before its claims were known (not captured)");
            };
            if claims.get("cnf").and_then(|c| c.get("jkt")).is_some() {
                return Err("DPoP-bound token (no proof can be made again)");
            }
            replayer.token(claims).map(Some).map_err(|_| "token claims that cannot be signed again")
        }
        Some("dpop") => Err("DPoP-bound token (no proof can be made again)"),
        Some(_) => Err("client secret or API key (credentials are not captured)"),
    }
}

/// Judges `input` again at `now_ms`.
fn judge(
    replayer: &Replayer<'_>,
    engine: &Engine,
    input: &Map<String, Value>,
    now_ms: u64,
) -> Result<Decision, &'static str> {
    let token = token(replayer, input)?;
    let ip = |name: &str| input.get(name).and_then(Value::as_str).and_then(|t| t.parse().ok());
    if text(input, "kind") == "resource" {
        let subject = input.get("subject").and_then(Value::as_object).map(|s| {
            let id = s.get("id").and_then(Value::as_str).unwrap_or("").to_owned();
            (id, s.get("properties").and_then(Value::as_object).cloned().unwrap_or_default())
        });
        let req = ResourceRequest {
            resource_type: text(input, "resource_type"),
            resource_id: text(input, "resource_id"),
            properties: input.get("properties").and_then(Value::as_object).cloned().unwrap_or_default(),
            action: text(input, "action"),
            subject,
            token,
            context: input.get("context").filter(|c| !c.is_null()).cloned(),
            scheme: text(input, "scheme"),
            peer: opt_text(input, "peer"),
            source_ip: ip("source_ip"),
            now_ms,
        };
        return Ok(engine.check_resource(&req));
    }
    if input.get("body_omitted") == Some(&Value::Bool(true)) {
        return Err("body not captured (`capture = \"request_and_body\"` keeps bodies up to 64 KiB)");
    }
    let mut headers: Vec<(String, String)> = input
        .get("headers")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|p| Some((p.get(0)?.as_str()?.to_owned(), p.get(1)?.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    if let Some(t) = &token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    let body = match input.get("body").and_then(Value::as_str) {
        Some(b) => Some(
            base64::engine::general_purpose::STANDARD.decode(b).map_err(|_| "a captured body that is not base64")?,
        ),
        None => None,
    };
    let req = HttpRequest {
        method: text(input, "method"),
        scheme: text(input, "scheme"),
        host: text(input, "host"),
        target: text(input, "target"),
        headers,
        body,
        source_ip: ip("source_ip"),
        peer: opt_text(input, "peer"),
        certificate: opt_text(input, "certificate"),
        now_ms,
        asserted: input.get("asserted").and_then(Value::as_object).cloned(),
        bearer: None,
        resource: input.get("resource").filter(|r| !r.is_null()).cloned(),
        context: input.get("context").filter(|c| !c.is_null()).cloned(),
    };
    Ok(engine.check_http(&req))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use warden_compiler::{Loader, PolicySet, SourceFile, compile};

    use super::*;

    struct NoFiles;

    impl Loader for NoFiles {
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            Err(path.to_owned())
        }
    }

    const SET: &str = r#"zone z {
  require tls
}

api a in zone z {
  host "a.example"
  auth none

  route GET "/open" {
    allow
  }

  route POST "/form" {
    body json
    allow when body.ok == true
  }
}

zone s {
  require mtls
}

resource doc in zone s {
  auth asserted

  action read {
    allow when resource.owner == claim.sub
  }
}
"#;

    fn graph(text: &str) -> Graph {
        let set = PolicySet { files: vec![SourceFile::new("p.warden".to_owned(), text.to_owned())] };
        compile(&set, &NoFiles).unwrap().0
    }

    fn line(allow: bool, status: u16, reason: &str, input: Value) -> String {
        json!({"time_ms": 1_800_000_000_000u64, "decision_id": "d", "allow": allow, "status": status,
            "reason": reason, "input": input})
        .to_string()
    }

    fn http(method: &str, target: &str, extra: Value) -> Value {
        let mut input = json!({"kind": "http", "method": method, "scheme": "https", "host": "a.example",
            "target": target, "headers": [["content-type", "application/json"]], "credential": null});
        if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
            i.extend(e.clone());
        }
        input
    }

    #[test]
    fn what_cannot_be_judged_again_is_counted_with_why() {
        let g = graph(SET);
        let body = base64::engine::general_purpose::STANDARD.encode(br#"{"ok": false}"#);
        let lines = [
            line(true, 200, "allowed", http("GET", "/open", json!({}))),
            // Logged as allowed, but the captured body fails the rule: a change.
            line(true, 200, "allowed", http("POST", "/form", json!({"body": body}))),
            line(true, 200, "allowed", http("POST", "/form", json!({"body_omitted": true}))),
            line(false, 429, "rate_limited", http("GET", "/open", json!({}))),
            line(true, 200, "allowed", http("GET", "/open", json!({"credential": "basic"}))),
            line(true, 200, "allowed", http("GET", "/open", json!({"credential": "dpop"}))),
            json!({"time_ms": 1, "allow": true, "status": 200, "reason": "allowed"}).to_string(),
            "not json".to_owned(),
            json!({"decision_id": "d", "shadow": {"allow": false}, "live": {"allow": true}}).to_string(),
            format!("{{\"pad\": \"{}\"}}", "x".repeat(MAX_LINE_BYTES)),
            line(
                false,
                403,
                "no_allow_rule",
                json!({"kind": "resource", "resource_type": "doc", "resource_id": "1",
                "properties": {"owner": "alice"}, "action": "read", "subject": {"id": "alice", "properties": {}},
                "scheme": "https", "peer": "spiffe://x"}),
            ),
        ];
        let log = lines.join("\n") + "\n";
        let s = replay(log.as_bytes(), &g).unwrap();
        assert_eq!((s.lines, s.captured, s.replayed), (10, 7, 3), "{s:#?}");
        let skipped: Vec<(&str, usize)> = s.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        assert_eq!(
            skipped,
            [
                ("DPoP-bound token (no proof can be made again)", 1),
                ("body not captured (`capture = \"request_and_body\"` keeps bodies up to 64 KiB)", 1),
                ("client secret or API key (credentials are not captured)", 1),
                ("line longer than 1 MiB", 1),
                ("no captured input", 1),
                ("not a decision log line", 1),
                ("rate limited or unavailable at the time (about load, not policy)", 1),
            ]
        );
        let groups: Vec<(&str, Direction, usize)> =
            s.groups.iter().map(|g| (g.endpoint.as_str(), g.direction, g.count)).collect();
        assert_eq!(groups, [("a.POST /form", Direction::AllowToDeny, 1), ("doc.read", Direction::DenyToAllow, 1)]);
        assert_eq!(s.groups[1].examples[0].what, "doc.read 1");
    }
}
