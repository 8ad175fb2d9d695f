//! The book under `docs/` holds together: every policy in it is checked as
//! `warden check` checks it (a ```` ```warden ```` block has no error; one
//! tagged ```` ```warden,E0209 ```` reports each code it names), every
//! diagnostic code and lint has its explanation page and `warden explain`
//! prints exactly that page, every page is in `SUMMARY.md`, every relative
//! link and anchor resolves, the CLI reference is what clap prints today, and
//! `mdbook build` builds it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use warden_compiler::lints::{self, Levels};
use warden_e2e::warden_bin;
use warden_project::LoadError;

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// Every Markdown page under `docs/` (relative paths, sorted).
fn pages() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![docs()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path.strip_prefix(docs()).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn read(page: &Path) -> String {
    std::fs::read_to_string(docs().join(page)).unwrap()
}

/// The fenced code blocks of a page: (info string, text, line).
fn code_blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (event, range) in Parser::new_ext(text, Options::empty()).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let line = text[..range.start].matches('\n').count() + 1;
                open = Some((info.to_string(), String::new(), line));
            }
            Event::Text(t) => {
                if let Some((_, body, _)) = open.as_mut() {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => out.extend(open.take()),
            _ => {}
        }
    }
    out
}

/// The codes `warden check` and `warden lint` (every lint on) report for a
/// one-file policy set, and whether any is an error.
fn codes_of(policy: &str) -> (BTreeSet<String>, bool) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.warden"), policy).unwrap();
    let set = match warden_project::load_set(dir.path()) {
        Ok(set) => set,
        Err(LoadError::Diagnostics(p)) => {
            return (p.diagnostics.iter().map(|d| d.diagnostic.code.as_str().to_owned()).collect(), true);
        }
        Err(e) => panic!("{e}"),
    };
    let loader = warden_project::FsLoader::for_set(dir.path());
    match warden_compiler::compile(&set, &loader) {
        Err(diagnostics) => (diagnostics.iter().map(|d| d.diagnostic.code.as_str().to_owned()).collect(), true),
        Ok((graph, warnings)) => {
            let lints = lints::lint_at(&set, &graph, &Levels::default().with_exposure());
            (warnings.iter().chain(&lints).map(|d| d.diagnostic.code.as_str().to_owned()).collect(), false)
        }
    }
}

#[test]
fn every_policy_in_the_book_is_checked_as_it_says() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in pages() {
        for (info, body, line) in code_blocks(&read(&page)) {
            let mut parts = info.split(',').map(str::trim);
            if parts.next() != Some("warden") {
                continue;
            }
            let expected: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
            let (found, errors) = codes_of(&body);
            let at = format!("{}:{line}", page.display());
            if expected.is_empty() && errors {
                failures.push(format!("{at}: `warden check` refuses this policy: {found:?}"));
            }
            for code in &expected {
                if !found.contains(*code) {
                    failures.push(format!("{at}: expected {code}, `warden check`/`lint` report {found:?}"));
                }
            }
            checked += 1;
        }
    }
    assert!(failures.is_empty(), "{} of {checked} policies in the book:\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 100, "only {checked} policies found in the book");
}

/// Every stable code: those of the language and compiler `codes.rs` files,
/// and the lints.
fn all_codes() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut codes = Vec::new();
    for file in ["language/src/codes.rs", "compiler/src/codes.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for piece in text.split("Code(\"").skip(1) {
            codes.push(piece[..5].to_owned());
        }
    }
    codes.extend(lints::ALL.iter().map(|l| l.code.as_str().to_owned()));
    codes.sort();
    codes
}

/// Codes whose cause cannot be written in a one-file text example: bytes
/// that are not text, a file too large or unreadable, and W0301, which needs
/// the client file an `auth client_secret file` names beside the policy.
const NOT_SHOWN_IN_TEXT: &[&str] = &["E0001", "E0002", "E0004", "E0005", "W0301"];

#[test]
fn every_code_has_its_page_and_warden_explain_prints_it() {
    let codes = all_codes();
    assert!(codes.len() >= 76, "{codes:?}");
    let mut failures = Vec::new();
    for code in &codes {
        let page = PathBuf::from(format!("reference/diagnostics/{code}.md"));
        let Ok(text) = std::fs::read_to_string(docs().join(&page)) else {
            failures.push(format!("{code}: no page {}", page.display()));
            continue;
        };
        let title = text.lines().next().unwrap_or("");
        if !title.starts_with(&format!("# {code}: ")) {
            failures.push(format!("{code}: the page starts with {title:?}"));
        }
        if let Some(lint) = lints::info(code)
            && title != format!("# {code}: {}", lint.name)
        {
            failures.push(format!("{code}: a lint's title is `# {code}: {}`, not {title:?}", lint.name));
        }
        let shown = code_blocks(&text).iter().any(|(info, _, _)| info.split(',').any(|p| p.trim() == code));
        if shown == NOT_SHOWN_IN_TEXT.contains(&code.as_str()) {
            failures.push(format!("{code}: an example of it is {}", if shown { "shown" } else { "missing" }));
        }
        let out = Command::new(warden_bin().unwrap()).args(["explain", code]).output().unwrap();
        if !out.status.success() || String::from_utf8_lossy(&out.stdout) != text {
            failures.push(format!("{code}: `warden explain {code}` does not print the page"));
        }
    }
    // The pages are those of the codes, and the index.
    let extra: Vec<PathBuf> = pages()
        .into_iter()
        .filter(|p| p.starts_with("reference/diagnostics"))
        .filter(|p| p.file_stem().is_none_or(|s| s != "index" && !codes.iter().any(|c| s == c.as_str())))
        .collect();
    assert!(extra.is_empty(), "pages of no code: {extra:?}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // An unknown code is an error that says how to find the known ones.
    let out = Command::new(warden_bin().unwrap()).args(["explain", "E9999"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E9999"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// mdBook's anchor for a heading: lower case letters, digits, `_` and `-`;
/// white space becomes `-`, the rest goes.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a page's headings (a repeated heading gets `-1`, `-2`…).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Parser::new_ext(text, Options::empty()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                let base = anchor(&heading.take().unwrap_or_default());
                let mut id = base.clone();
                let mut n = 1;
                while !out.insert(id.clone()) {
                    id = format!("{base}-{n}");
                    n += 1;
                }
            }
            _ => {}
        }
    }
    out
}

/// The link destinations of a page, with their lines.
fn links(text: &str) -> Vec<(String, usize)> {
    Parser::new_ext(text, Options::empty())
        .into_offset_iter()
        .filter_map(|(event, range)| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some((dest_url.to_string(), text[..range.start].matches('\n').count() + 1))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn every_relative_link_and_anchor_resolves_and_every_page_is_in_the_summary() {
    let mut failures = Vec::new();
    for page in pages() {
        let text = read(&page);
        for (dest, line) in links(&text) {
            if dest.contains("://") || dest.starts_with("mailto:") {
                continue;
            }
            let (file, fragment) = dest.split_once('#').unwrap_or((&dest, ""));
            let target = if file.is_empty() {
                docs().join(&page)
            } else {
                docs().join(page.parent().unwrap_or(Path::new(""))).join(file)
            };
            let at = format!("{}:{line}: {dest}", page.display());
            if !target.exists() {
                failures.push(format!("{at}: no such file"));
            } else if !fragment.is_empty()
                && target.extension().is_some_and(|e| e == "md")
                && !anchors(&std::fs::read_to_string(&target).unwrap()).contains(fragment)
            {
                failures.push(format!("{at}: no such heading"));
            }
        }
    }
    let summary = read(Path::new("SUMMARY.md"));
    let listed: BTreeSet<PathBuf> = links(&summary).into_iter().map(|(d, _)| PathBuf::from(d)).collect();
    for page in pages() {
        if page != Path::new("SUMMARY.md") && !listed.contains(&page) {
            failures.push(format!("{}: not in SUMMARY.md", page.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_cli_reference_is_what_clap_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(warden_bin().unwrap()).args(["docs", "cli"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut generated: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path().strip_prefix(dir.path()).unwrap().into())
        .collect();
    generated.sort();
    let committed: Vec<PathBuf> =
        pages().into_iter().filter_map(|p| p.strip_prefix("reference/cli").ok().map(Path::to_path_buf)).collect();
    assert_eq!(committed, generated, "regenerate with `cargo run -p warden-cli -- docs cli docs/reference/cli`");
    for page in &generated {
        assert_eq!(
            std::fs::read_to_string(docs().join("reference/cli").join(page)).unwrap(),
            std::fs::read_to_string(dir.path().join(page)).unwrap(),
            "docs/reference/cli/{} is stale: regenerate with `cargo run -p warden-cli -- docs cli docs/reference/cli`",
            page.display()
        );
    }
    // Every subcommand has its page, and `serve`'s says what it serves.
    let help = String::from_utf8(Command::new(warden_bin().unwrap()).arg("--help").output().unwrap().stdout).unwrap();
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 15, "{commands:?}");
    for command in commands {
        assert!(generated.contains(&PathBuf::from(format!("{command}.md"))), "no page for `warden {command}`");
    }
    let serve = std::fs::read_to_string(dir.path().join("serve.md")).unwrap();
    assert!(serve.contains("gRPC") && serve.contains("--policies"), "{serve}");
}

#[test]
fn man_pages_are_generated_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(warden_bin().unwrap()).args(["docs", "man"]).arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let top = std::fs::read_to_string(dir.path().join("warden.1")).unwrap();
    assert!(top.starts_with(".ie \\n(.g .ds Aq \\(aq") || top.contains(".TH warden 1"), "{top}");
    let check = std::fs::read_to_string(dir.path().join("warden-check.1")).unwrap();
    assert!(check.contains(".TH warden-check 1") && check.contains("Parse and check a policy set"), "{check}");
    let bundle_build = std::fs::read_to_string(dir.path().join("warden-bundle-build.1")).unwrap();
    assert!(bundle_build.contains(".TH warden-bundle-build 1"), "{bundle_build}");
}

#[test]
fn mdbook_builds_the_book() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new("mdbook")
        .arg("build")
        .arg(docs())
        .arg("--dest-dir")
        .arg(out_dir.path())
        .output()
        .expect("mdbook is not installed: ./test.sh installs it (cargo install mdbook)");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(!log.contains("WARN") && !log.contains("ERROR"), "{log}");
    // A page of each part, rendered.
    for page in
        ["index.html", "reference/language/index.html", "reference/diagnostics/E0209.html", "reference/cli/serve.html"]
    {
        let html = std::fs::read_to_string(out_dir.path().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(html.contains("<main>"), "{page}");
    }
    let e0209 = std::fs::read_to_string(out_dir.path().join("reference/diagnostics/E0209.html")).unwrap();
    assert!(e0209.contains("E0209"));
}

#[test]
fn the_grpc_reference_is_what_the_proto_says() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("grpc.md");
    let out = Command::new(warden_bin().unwrap()).args(["docs", "grpc"]).arg(&page).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        read(Path::new("reference/grpc.md")),
        generated,
        "docs/reference/grpc.md is stale: regenerate with `cargo run -p warden-cli -- docs grpc docs/reference/grpc.md`"
    );
    // The comments of the .proto are there, for services, methods, messages and fields.
    for comment in [
        "Answers allow/deny for HTTP requests and resource actions.",
        "Judges one HTTP request (as `POST /v1/check`).",
        "| `headers` | 5 | `map<string, string>` | Header names are case-insensitive. |",
        "| `body` | 6 | `optional bytes` |",
    ] {
        assert!(generated.contains(comment), "{comment}\n{generated}");
    }
}
