//! Compile speed: generated policy sets of 1,000 routes (20 apis × 50) and
//! 10,000 routes (200 apis × 50), with limits, schemas, scopes, claims rules and
//! upstream headers, from text to decision graph.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

#[path = "common/routes.rs"]
mod routes;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_compiler::{Loader, PolicySet, SourceFile, compile};

/// No referenced files: the generated zone uses a JWKS URL.
struct NoFiles;

impl Loader for NoFiles {
    fn read(&self, _: &str) -> Result<Vec<u8>, String> {
        Err("no files in this benchmark".to_owned())
    }
}

fn bench(c: &mut Criterion) {
    for (apis, per_api, samples) in [(20, 50, 20), (200, 50, 10)] {
        let files = routes::generated(apis, per_api, "jwks url \"https://idp.example/jwks.json\"");
        let routes = apis * per_api;
        let lines: usize = files.iter().map(|(_, t)| t.lines().count()).sum();
        // Sanity: the set compiles, to one endpoint per route, without diagnostics.
        let set = PolicySet { files: files.iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
        let (graph, diags) = compile(&set, &NoFiles).unwrap_or_else(|d| panic!("{d:#?}"));
        assert!(diags.is_empty(), "{diags:#?}");
        assert_eq!(graph.endpoints.len(), routes);
        eprintln!(
            "generated set: {} files, {lines} lines, {} endpoints, {} expressions",
            files.len(),
            graph.endpoints.len(),
            graph.exprs.len()
        );

        let mut g = c.benchmark_group(format!("compile {routes} routes / {apis} apis"));
        g.sample_size(samples);
        if routes > 1_000 {
            g.measurement_time(Duration::from_secs(10));
        }
        g.bench_function("parse + check + lower", |b| {
            b.iter(|| {
                let set =
                    PolicySet { files: files.iter().map(|(p, t)| SourceFile::new(p.clone(), t.clone())).collect() };
                black_box(compile(&set, &NoFiles).unwrap_or_else(|_| panic!("does not compile")))
            })
        });
        g.bench_function("check + lower only (already parsed)", |b| {
            b.iter(|| black_box(compile(&set, &NoFiles).unwrap_or_else(|_| panic!("does not compile"))))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
