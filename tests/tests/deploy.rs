//! The deployment files under `deploy/` hold together: the config the image
//! and the manifests carry parses, the example policy set compiles, the
//! Helm chart's default config and policies are the same ones, and the
//! binary the image carries (the static musl build `./test.sh` makes, as
//! `deploy/Dockerfile` does: no container runtime can run an image on the
//! test machines), started with that config as the pod starts it
//! (addresses set from the environment, `WARDEN__…`), answers the probes
//! the Deployment declares, on the port it declares, and serves checks.
//! `docs/config.schema.json` is the schema of the config `warden serve`
//! reads, and every example config (these, and each TOML block of the docs)
//! validates against it with an independent validator (Python's
//! `jsonschema`), while what Warden refuses the schema refuses too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use warden_server::config::Config;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy().join(path)).unwrap()
}

/// The block scalar under `key: |` at the top level of a YAML text (its lines, unindented).
fn block(yaml: &str, key: &str) -> String {
    let mut lines = yaml.lines().skip_while(|l| l.trim() != format!("{key}: |"));
    lines.next().unwrap_or_else(|| panic!("no `{key}: |` block"));
    let body: Vec<&str> = lines.take_while(|l| l.is_empty() || l.starts_with("  ")).collect();
    let indent = body.iter().filter(|l| !l.is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    body.iter().map(|l| l.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n").trim_end().to_owned() + "\n"
}

#[test]
fn the_config_and_policies_the_image_and_the_chart_carry_are_valid_and_the_same() {
    let toml = read("kubernetes/warden.toml");
    let config = Config::parse(&toml, Path::new("deploy/kubernetes/warden.toml")).unwrap();
    assert_eq!(config.policies, PathBuf::from("/etc/warden/policies"));
    assert_eq!(config.diagnostics.addr.map(|a| a.port()), Some(9090));
    // The image installs this file and serves it by default.
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("install -m 0644 deploy/kubernetes/warden.toml /out/etc/warden/warden.toml"));
    assert!(dockerfile.contains(r#"CMD ["serve", "--config", "/etc/warden/warden.toml"]"#));
    assert!(dockerfile.contains("FROM scratch") && dockerfile.contains("USER 65532:65532"));
    // The chart's defaults: the same settings (comments aside) and the same policy.
    let values = read("helm/warden/values.yaml");
    let chart_config = Config::parse(&block(&values, "config"), Path::new("values.yaml config")).unwrap();
    assert_eq!(format!("{chart_config:?}"), format!("{config:?}"));
    let chart_policy = block(&values, "main.warden");
    let example = read("kubernetes/policies/main.warden");
    let without_comments = |t: &str| {
        t.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n").trim().to_owned()
    };
    assert_eq!(without_comments(&chart_policy), without_comments(&example));
    let compiled = warden_project::compile_dir(&deploy().join("kubernetes/policies")).unwrap();
    assert!(compiled.warnings.iter().all(|w| !w.diagnostic.is_error()));
}

/// The binary the image carries: `warden` built for `x86_64-unknown-linux-musl`
/// in release, as `deploy/Dockerfile` builds it (`./test.sh` builds it first).
/// It must be static, for an image `FROM scratch` has no dynamic loader.
fn image_binary() -> PathBuf {
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("cargo build --release --locked -p warden-cli --target x86_64-unknown-linux-musl"));
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/x86_64-unknown-linux-musl/release/warden");
    let elf = std::fs::read(&bin).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; ./test.sh builds it (cargo build --release -p warden-cli --target x86_64-unknown-linux-musl)",
            bin.display()
        )
    });
    assert!(!program_headers(&elf).contains(&PT_INTERP), "{} has a dynamic loader: not static", bin.display());
    bin
}

/// The ELF program header type of a dynamic loader's path.
const PT_INTERP: u32 = 3;

/// The types of the program headers of a 64-bit little-endian ELF file.
fn program_headers(elf: &[u8]) -> Vec<u32> {
    assert!(elf.starts_with(b"\x7fELF\x02\x01"), "not a 64-bit little-endian ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).map(|i| u32::from_le_bytes(elf[phoff + i * size..][..4].try_into().unwrap())).collect()
}

#[test]
fn a_dynamically_linked_binary_is_told_from_a_static_one() {
    // The test's own binary links glibc dynamically: it has a loader.
    let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    assert!(program_headers(&own).contains(&PT_INTERP));
}

#[test]
fn the_binary_started_as_the_pod_starts_it_answers_the_declared_probes() {
    let deployment = read("kubernetes/deployment.yaml");
    // The probes' paths and port, as declared.
    for probe in [
        "livenessProbe:\n            httpGet: {path: /healthz, port: diagnostics}",
        "readinessProbe:\n            httpGet: {path: /readyz, port: diagnostics}",
    ] {
        assert!(deployment.contains(probe), "{probe}");
    }
    assert!(deployment.contains("{name: diagnostics, containerPort: 9090}"));
    let [http, grpc, diagnostics] = warden_e2e::free_ports::<3>().unwrap();
    let mut child = Command::new(image_binary())
        .args(["serve", "--config"])
        .arg(deploy().join("kubernetes/warden.toml"))
        // What differs here from a pod: loopback addresses of the test's own, and where the set is.
        .env("WARDEN__HTTP__ADDR", format!("127.0.0.1:{http}"))
        .env("WARDEN__GRPC__ADDR", format!("127.0.0.1:{grpc}"))
        .env("WARDEN__DIAGNOSTICS__ADDR", format!("127.0.0.1:{diagnostics}"))
        .env("WARDEN__POLICIES", deploy().join("kubernetes/policies"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let probe = |path: &str| warden_e2e::request(([127, 0, 0, 1], diagnostics).into(), "GET", path, &[], None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !probe("/readyz").is_ok_and(|r| r.status == 200) {
        assert!(Instant::now() < deadline, "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(probe("/healthz").unwrap().status, 200);
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example.com", "path": "/status",
        "headers": {}}});
    let d = warden_e2e::request(
        ([127, 0, 0, 1], http).into(),
        "POST",
        "/v1/check",
        &[("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    )
    .unwrap()
    .json()
    .unwrap();
    assert_eq!(d["reason"], "allowed");
    let _ = child.kill();
    let _ = child.wait();
}

/// Validates `instance` against `docs/config.schema.json` with Python's
/// `jsonschema` (draft 2020-12); the errors, if any.
fn schema_errors(instance: &serde_json::Value) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("instance.json");
    std::fs::write(&file, instance.to_string()).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/config.schema.json");
    let script = "import json, sys, jsonschema\n\
        s = json.load(open(sys.argv[1]))\n\
        jsonschema.Draft202012Validator.check_schema(s)\n\
        v = jsonschema.Draft202012Validator(s)\n\
        for e in v.iter_errors(json.load(open(sys.argv[2]))):\n    print('/'.join(map(str, e.absolute_path)) + ': ' + e.message)\n";
    let out = Command::new("/usr/bin/python3")
        .args(["-I", "-c", script])
        .arg(&schema)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("python3 ({e}): ./test.sh installs python3-jsonschema"));
    assert!(out.status.success(), "the validator failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The TOML blocks of a Markdown file.
fn toml_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = markdown.lines();
    while let Some(l) = lines.next() {
        if l.trim() == "```toml" {
            out.push(lines.by_ref().take_while(|l| l.trim() != "```").collect::<Vec<_>>().join("\n") + "\n");
        }
    }
    out
}

#[test]
fn the_published_schema_is_the_configs_and_every_example_config_validates_against_it() {
    let committed: serde_json::Value = serde_json::from_str(&read("../docs/config.schema.json")).unwrap();
    assert!(
        committed == warden_server::config::schema(),
        "docs/config.schema.json is not the config's schema: `warden config schema > docs/config.schema.json`"
    );
    let mut examples = vec![
        ("deploy/kubernetes/warden.toml".to_owned(), read("kubernetes/warden.toml")),
        ("the chart's config".to_owned(), block(&read("helm/warden/values.yaml"), "config")),
    ];
    for doc in ["serve.md", "operations.md"] {
        for (i, text) in toml_blocks(&read(&format!("../docs/{doc}"))).into_iter().enumerate() {
            examples.push((format!("docs/{doc}, TOML block {}", i + 1), text));
        }
    }
    assert!(examples.len() >= 4, "{examples:?}");
    for (name, text) in &examples {
        Config::parse(text, Path::new(name)).unwrap_or_else(|e| panic!("{name}: warden refuses it: {e}"));
        let json = serde_json::to_value(toml::from_str::<toml::Table>(text).unwrap()).unwrap();
        let errors = schema_errors(&json);
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // What Warden refuses, the schema refuses.
    for (bad, why) in [
        (json!({"http": {"addr": "127.0.0.1:1", "port": 3}}), "port"),
        (json!({"decision_log": {"sink": "syslog"}}), "syslog"),
        (json!({"reload": {"watch": "yes"}}), "watch"),
    ] {
        let errors = schema_errors(&bad);
        assert!(errors.iter().any(|e| e.contains(why)), "{bad}: {errors:?}");
    }
}
