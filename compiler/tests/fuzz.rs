//! Generative fuzzing of the compiler entry point: random policy sets (grammar-shaped,
//! with names that sometimes resolve and sometimes not) and random mutations of the
//! example policies, through check, compile, lint and format. Nothing may panic; a
//! compiled graph must round-trip through JSON; formatting must be idempotent.
//!
//! The suite runs a fixed, seeded number of cases. For a long run:
//! `WARDEN_FUZZ_SECONDS=300 cargo test --release -p warden-compiler --test fuzz -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use warden_compiler::graph::Graph;
use warden_compiler::{Loader, PolicySet, SourceFile, compile, lints};
use warden_language::format::format_source;

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Referenced files: a few exist (valid or not), the rest do not.
struct FakeFiles;

impl Loader for FakeFiles {
    fn read(&self, path: &str) -> Result<Vec<u8>, String> {
        match path {
            "keys.json" => Ok(br#"{"keys":[{"kty":"RSA","kid":"a","n":"AQAB","e":"AQAB"}]}"#.to_vec()),
            "data.json" => Ok(br#"{"a": ["x", "y"], "b": 1}"#.to_vec()),
            "clients.json" => {
                Ok(br#"{"c": "0000000000000000000000000000000000000000000000000000000000000000"}"#.to_vec())
            }
            "broken.json" => Ok(b"{".to_vec()),
            _ => Err("no such file".to_owned()),
        }
    }
}

const NAMES: &[&str] = &["edge", "partners", "internal", "a", "b", "per_ip", "S", "T", "tellers"];
const ROOTS: &[&str] = &[
    "claim.sub",
    "claim.roles",
    "path.id",
    "path.other",
    "query.q",
    "header[\"x-a\"]",
    "body.name",
    "body.nope",
    "resource.owner",
    "context.x",
    "peer.principal",
    "source.ip",
    "request.method",
    "data.tellers",
    "data.missing",
];
const LITERALS: &[&str] = &["\"x\"", "1", "-2.5", "true", "false", "[\"a\", \"b\"]", "[]"];
const OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">=", "in", "not in"];
const FUNCS: &[&str] = &["has", "starts_with", "ends_with", "matches", "lower", "len", "in_cidr"];

fn expr(r: &mut Rng, depth: usize) -> String {
    if depth > 3 || r.chance(30) {
        return if r.chance(60) { r.pick(ROOTS).to_owned() } else { r.pick(LITERALS).to_owned() };
    }
    match r.below(6) {
        0 => format!("{} {} {}", expr(r, depth + 1), r.pick(OPS), expr(r, depth + 1)),
        1 => format!("{} and {}", expr(r, depth + 1), expr(r, depth + 1)),
        2 => format!("{} or {}", expr(r, depth + 1), expr(r, depth + 1)),
        3 => format!("not ({})", expr(r, depth + 1)),
        4 => {
            let f = r.pick(FUNCS);
            let second = if r.chance(50) {
                r.pick(&["\"^[a-z]+$\"", "\"10.0.0.0/8\"", "\"(\"", "\"300.1.1.1/8\""]).to_owned()
            } else {
                expr(r, depth + 1)
            };
            if r.chance(50) {
                format!("{f}({})", expr(r, depth + 1))
            } else {
                format!("{f}({}, {second})", expr(r, depth + 1))
            }
        }
        _ => format!("({})", expr(r, depth + 1)),
    }
}

fn stmt(r: &mut Rng) -> String {
    match r.below(9) {
        0 => format!(
            "auth {}",
            r.pick(&[
                "bearer",
                "bearer",
                "none",
                "none",
                "mtls",
                "asserted",
                "client_secret file \"clients.json\"",
                "client_secret file \"missing.json\"",
                "api_key header \"x-k\" file \"broken.json\""
            ])
        ),
        1 => format!("scope {}\"s:{}\"", if r.chance(30) { "any " } else { "" }, r.below(3)),
        2 => format!("limit {}", r.pick(NAMES)),
        3 => format!("body {}", r.pick(&["json", "json S", "json T max 1KiB", "any", "none", "json nope"])),
        4 | 5 => format!("allow when {}", expr(r, 0)),
        6 => "allow".to_owned(),
        7 => format!("deny when {}", expr(r, 0)),
        _ => format!("upstream header \"x-{}\" = {}", r.below(3), expr(r, 1)),
    }
}

/// A valid base that generated declarations can refer to.
const BASE: &str = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks file \"keys.json\"\n    audience \"https://api\"\n  }\n}\n\nlimit per_ip = 5 per 1m by source.ip\n\nschema S {\n  name: string\n}\n\ndata tellers = file \"data.json\"\n\n";

fn policy(r: &mut Rng) -> String {
    let mut out = String::new();
    if r.chance(70) {
        out.push_str(BASE);
    }
    for _ in 0..r.below(8) + 1 {
        match r.below(7) {
            0 => {
                let _ = writeln!(out, "zone {} {{", r.pick(NAMES));
                if r.chance(70) {
                    let _ = write!(
                        out,
                        "  issuer \"{}\" {{\n    jwks {}\n    audience \"https://{}\"\n    algorithms {}\n  }}\n",
                        r.pick(&["https://idp.example", "idp", "https://sts.example"]),
                        r.pick(&[
                            "file \"keys.json\"",
                            "file \"none.json\"",
                            "url \"https://idp/jwks\"",
                            "url \"http://idp/jwks\""
                        ]),
                        r.pick(&["api", "internal"]),
                        r.pick(&["RS256", "RS256, HS256", "ES256"]),
                    );
                }
                for _ in 0..r.below(3) {
                    out.push_str(r.pick(&[
                        "  require tls\n",
                        "  require mtls peer \"spiffe://x/*\"\n",
                        "  network \"10.0.0.0/8\"\n",
                        "  network \"10.0.0.0/99\"\n",
                    ]));
                }
                out.push_str("}\n");
            }
            1 => {
                let _ = writeln!(
                    out,
                    "limit {} = {} per {} by {}",
                    r.pick(NAMES),
                    r.below(10) + 1,
                    r.pick(&["1s", "1m", "500ms"]),
                    r.pick(ROOTS)
                );
            }
            2 => {
                let _ = write!(
                    out,
                    "schema {} {{\n  name: string max_len 5\n  n?: {}\n  next?: {}\n}}\n",
                    r.pick(&["S", "T"]),
                    r.pick(&["integer min 1", "S", "T", "[string]", "enum \"a\", \"b\""]),
                    r.pick(&["S", "T", "U"])
                );
            }
            3 => {
                let _ = writeln!(
                    out,
                    "data {} = file \"{}\"",
                    r.pick(NAMES),
                    r.pick(&["data.json", "broken.json", "none.json"])
                );
            }
            4 => {
                let _ = writeln!(out, "api {} in zone {} {{", r.pick(NAMES), r.pick(NAMES));
                if r.chance(40) {
                    let _ = writeln!(out, "  host \"{}.example\"", r.pick(&["a", "b"]));
                }
                for _ in 0..r.below(3) {
                    let _ = writeln!(out, "  {}", stmt(r));
                }
                for _ in 0..r.below(5) {
                    let _ = writeln!(
                        out,
                        "  route {} \"{}\" {{",
                        r.pick(&["GET", "POST", "ANY", "DELETE"]),
                        r.pick(&["/x", "/x/{id}", "/x/{id}/{*rest}", "/login", "/", "/y/{other}"])
                    );
                    for _ in 0..r.below(5) {
                        let _ = writeln!(out, "    {}", stmt(r));
                    }
                    out.push_str("  }\n");
                }
                out.push_str("}\n");
            }
            5 => {
                let _ = write!(out, "resource {} in zone {} {{\n  {}\n", r.pick(NAMES), r.pick(NAMES), stmt(r));
                for _ in 0..r.below(3) {
                    let _ = write!(
                        out,
                        "  action {} {{\n    {}\n    {}\n  }}\n",
                        r.pick(&["read", "edit"]),
                        stmt(r),
                        stmt(r)
                    );
                }
                out.push_str("}\n");
            }
            _ => {
                let _ = write!(
                    out,
                    "test \"t{}\" {{\n  check {} {}\n  expect allow\n}}\n",
                    r.below(3),
                    r.pick(NAMES),
                    r.pick(&["read", "x"])
                );
            }
        }
        out.push('\n');
    }
    out
}

/// Deletes, duplicates or swaps a few random slices of a valid policy.
fn mutate(r: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..r.below(4) + 1 {
        if bytes.is_empty() {
            break;
        }
        let at = r.below(bytes.len());
        let len = (r.below(20) + 1).min(bytes.len() - at);
        match r.below(4) {
            0 => {
                bytes.drain(at..at + len);
            }
            1 => {
                let copy: Vec<u8> = bytes[at..at + len].to_vec();
                let to = r.below(bytes.len());
                bytes.splice(to..to, copy);
            }
            2 => {
                let pool = b"{}()[]\";\n =.,";
                bytes[at] = pool[r.below(pool.len())];
            }
            _ => bytes.insert(at, [b'"', b'{', b'}', b'\\', 0xC3][r.below(5)]),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn exercise(files: Vec<(String, String)>) -> bool {
    let set = PolicySet { files: files.iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
    for f in &set.files {
        if let Ok(once) = format_source(&f.text) {
            assert_eq!(
                format_source(&once).ok().as_deref(),
                Some(once.as_str()),
                "formatting is not idempotent for:\n{}",
                f.text
            );
        }
    }
    match compile(&set, &FakeFiles) {
        Ok((graph, _)) => {
            let json = serde_json::to_string(&graph).unwrap();
            assert_eq!(serde_json::from_str::<Graph>(&json).unwrap(), graph);
            let _ = lints::lint(&set, &graph);
            let _ = warden_compiler::dot::to_dot(&graph);
            true
        }
        Err(diags) => {
            assert!(diags.iter().any(|d| d.diagnostic.is_error()));
            false
        }
    }
}

#[test]
fn fuzz_the_compiler_entry_point() {
    let seconds: u64 = std::env::var("WARDEN_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let examples: Vec<(String, String)> = [
        "bank/zones.warden",
        "bank/accounts.warden",
        "bank/transfers.warden",
        "identity/auth.warden",
        "todo/todo.warden",
    ]
    .iter()
    .map(|p| {
        (
            p.to_string(),
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies").join(p)).unwrap(),
        )
    })
    .collect();
    let mut r = Rng(0x5EED_0F3A_4DE4);
    let (mut cases, mut compiled) = (0u64, 0u64);
    loop {
        let files = if r.chance(60) {
            (0..r.below(3) + 1).map(|i| (format!("gen{i}.warden"), policy(&mut r))).collect()
        } else {
            let (path, text) = &examples[r.below(examples.len())];
            vec![(path.clone(), mutate(&mut r, text))]
        };
        compiled += u64::from(exercise(files));
        cases += 1;
        if cases >= 1_500 && Instant::now() >= deadline {
            break;
        }
    }
    eprintln!("fuzz: {cases} cases, {compiled} compiled to a graph, no panic");
    // The generator must reach the lowering stage, not only the error paths.
    assert!(compiled > cases / 50, "only {compiled} of {cases} cases compiled");
}
