//! Compile speed: a generated policy set of 1,000 routes across 20 apis (with limits,
//! schemas, scopes, claims rules and upstream headers), from text to decision graph.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};

/// No referenced files: the generated zone uses a JWKS URL.
struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("no files in this benchmark".to_owned())
    }
}

/// 20 files, one api each, 50 routes per api: 1,000 routes.
fn generated() -> Vec<(String, String)> {
    let mut files = vec![(
        "common.warden".to_owned(),
        "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"https://idp.example/jwks.json\"\n    audience \"https://api.example\"\n  }\n  require tls\n}\n\nlimit per_ip = 100 per 1s by source.ip\nlimit per_client = 1000 per 1m burst 2000 by claim.client_id\n\nschema Item {\n  name: string max_len 100 pattern \"^[a-z0-9-]+$\"\n  count: integer min 0 max 1000\n  tags?: [string max_len 20] max_items 10\n}\n".to_owned(),
    )];
    for api in 0..20 {
        let mut text = format!(
            "api svc{api} in zone edge {{\n  host \"svc{api}.example\"\n  prefix \"/v1\"\n  auth bearer\n  limit per_ip, per_client\n"
        );
        for route in 0..50 {
            let method = ["GET", "POST", "PUT", "DELETE", "PATCH"][route % 5];
            let body = if method == "POST" || method == "PUT" { "    body json Item max 16KiB\n" } else { "" };
            let _ = write!(
                text,
                "\n  route {method} \"/res{route}/{{id}}/items/{{item}}\" {{\n    scope \"svc{api}:res{route}\"\n{body}    allow when claim.customer_id == path.id and claim.tier in [\"gold\", \"silver\"]\n    allow when \"admin\" in claim.roles\n    deny when claim.account_state == \"frozen\"\n    upstream header \"x-customer-id\" = claim.customer_id\n  }}\n"
            );
        }
        text.push_str("}\n");
        files.push((format!("svc{api}.warden"), text));
    }
    files
}

fn bench(c: &mut Criterion) {
    let files = generated();
    let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
    // Sanity: the set compiles, to 1,000 routes, without diagnostics.
    let set = PolicySet { files: files.iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
    let (graph, diags) = compile(&set, &NoFiles).unwrap_or_else(|d| panic!("{d:#?}"));
    assert!(diags.is_empty());
    assert_eq!(graph.endpoints.len(), 1_000);
    eprintln!(
        "generated set: {} files, {lines} lines, {} endpoints, {} expressions",
        files.len(),
        graph.endpoints.len(),
        graph.exprs.len()
    );

    c.bench_function("parse + check + lower, 1000 routes / 20 apis", |b| {
        b.iter(|| {
            let set = PolicySet { files: files.iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
            black_box(compile(&set, &NoFiles).unwrap_or_else(|_| panic!("does not compile")))
        })
    });
    c.bench_function("check + lower only (already parsed), 1000 routes / 20 apis", |b| {
        b.iter(|| black_box(compile(&set, &NoFiles).unwrap_or_else(|_| panic!("does not compile"))))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
