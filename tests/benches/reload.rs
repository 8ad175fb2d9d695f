//! Reload of a 10,000-route policy set from disk (the compile benchmark's
//! generated set, 200 apis × 50 routes, with a JWKS file), timed through the
//! function `warden serve` runs on each reload, `Service::reload`, and split
//! into its steps: reading the files, parsing them, checking and lowering the
//! set, and building the engine over the graph (`warden_project::engine`, of
//! which `Prepared::new` is timed alone too).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "benchmark setup")]
#![allow(missing_docs, reason = "criterion macros generate undocumented items")]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode, criterion_group, criterion_main};
use warden_engine::eval::Prepared;
use warden_engine::limits::Memory;
use warden_server::state::Service;

const APIS: usize = 200;
const PER_API: usize = 50;

fn bench(c: &mut Criterion) {
    // Under the target directory, not /tmp: some tests scan /tmp for policy files.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    warden_e2e::bench::write_route_set(dir.path(), APIS, PER_API).unwrap();
    let routes = APIS * PER_API;

    // Before timing: the set compiles to one endpoint per route, without
    // diagnostics, and the service publishes it at the compiled revision.
    let compiled = warden_project::compile_dir(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compiled.graph.endpoints.len(), routes);
    assert!(compiled.warnings.is_empty(), "{:#?}", compiled.warnings);
    let service = Service::new(dir.path().to_path_buf(), 1_000, None);
    let revision = service.reload().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(revision, compiled.graph.revision);
    assert_eq!(service.current().map(|l| l.files.len()), Some(APIS + 1));

    let mut g = c.benchmark_group(format!("reload {routes} routes / {APIS} apis"));
    g.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(10));
    g.bench_function("Service::reload (what warden serve runs)", |b| {
        b.iter(|| black_box(service.reload().unwrap_or_else(|e| panic!("{e}"))))
    });
    g.bench_function("1 read the files", |b| {
        b.iter(|| {
            let paths = warden_project::collect(dir.path()).unwrap();
            black_box(paths.iter().map(|p| warden_project::read(p)).collect::<Vec<_>>())
        })
    });
    g.bench_function("1+2 read and parse the files (load_set)", |b| {
        b.iter(|| black_box(warden_project::load_set(dir.path()).unwrap()))
    });
    let set = warden_project::load_set(dir.path()).unwrap();
    g.bench_function("3 check and lower (compile_set)", |b| {
        b.iter_batched(
            || set.clone(),
            |set| {
                black_box(warden_project::compile_set(set, dir.path()).unwrap_or_else(|_| panic!("does not compile")))
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("4 build the engine (warden_project::engine)", |b| {
        b.iter_batched(
            || compiled.graph.clone(),
            |graph| {
                let limiter = Arc::new(Memory::new(1_000));
                black_box(warden_project::engine(graph, &compiled.loader, limiter, None).unwrap())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("4a Prepared::new alone", |b| {
        b.iter_batched(
            || compiled.graph.clone(),
            |graph| black_box(Prepared::new(graph).unwrap()),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
