//! `warden analyze` and `warden diff` end to end: the access matrix of every
//! example set (snapshotted, reviewed), changes that widen access caught with
//! exit status 2 and said in the Markdown a pull request shows, narrowing
//! changes that pass, and `--git` over a real repository the test makes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn warden_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .expect("the warden binary runs")
}

fn warden(args: &[&str]) -> Output {
    warden_in(&repo(), args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies the directory `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replaces `from` by `to` in `file` (which must hold it).
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "`{from}` is not in {}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn analyze_gives_the_access_matrix_of_every_example_set() {
    for set in ["bank", "identity", "todo", "trust"] {
        let dir = format!("policies/{set}");
        let out = warden(&["analyze", &dir, "--format", "markdown"]);
        assert_eq!(out.status.code(), Some(0), "{set}: {}", text(&out.stderr));
        // The revision changes with any byte of the set: left out of the snapshot.
        let shown: Vec<String> =
            text(&out.stdout).lines().filter(|l| !l.starts_with("Revision `")).map(str::to_owned).collect();
        insta::assert_snapshot!(format!("analyze_{set}"), shown.join("\n"));
        // JSON: one matrix row per endpoint of the compiled graph.
        let json: serde_json::Value =
            serde_json::from_slice(&warden(&["analyze", &dir, "--format", "json"]).stdout).unwrap();
        let graph: serde_json::Value = serde_json::from_slice(&warden(&["compile", &dir]).stdout).unwrap();
        assert_eq!(
            json["matrix"]["endpoints"].as_array().unwrap().len(),
            graph["endpoints"].as_array().unwrap().len(),
            "{set}"
        );
    }
    // The bank's partners are limited to networks; its edge is not: said, with the lint's code.
    let json: serde_json::Value =
        serde_json::from_slice(&warden(&["analyze", "policies/bank", "--format", "json"]).stdout).unwrap();
    let codes: Vec<&str> = json["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert!(codes.contains(&"W0318"), "{codes:?}");
    // Human output names each endpoint with its zone and where it is declared.
    let human = text(&warden(&["analyze", "policies/todo"]).stdout);
    assert!(human.contains("todo.read  [zone services]  policies/todo/todo.warden:"), "{human}");
    assert!(
        human.contains("who:    a subject the calling service asserts, over mTLS as spiffe://todo.example/ns/todo/*"),
        "{human}"
    );
}

#[test]
fn diff_catches_a_change_that_widens_access_and_passes_one_that_narrows() {
    let tmp = tempfile::tempdir().unwrap();
    let (old, new) = (tmp.path().join("old"), tmp.path().join("new"));
    copy_dir(&repo().join("policies/bank"), &old);
    copy_dir(&repo().join("policies/bank"), &new);
    let (old_s, new_s) = (old.to_str().unwrap(), new.to_str().unwrap());

    let same = warden(&["diff", old_s, new_s]);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert!(text(&same.stdout).contains("No change in who can reach what."), "{}", text(&same.stdout));

    // Narrowing: a new deny rule. Not a widening: exit 0.
    edit(
        &new.join("transfers.warden"),
        "    allow when has(claim.customer_id)",
        "    allow when has(claim.customer_id)\n    deny when claim.customer_id == \"blocked\"",
    );
    let narrow = warden(&["diff", old_s, new_s, "--format", "human"]);
    assert_eq!(narrow.status.code(), Some(0), "{}{}", text(&narrow.stdout), text(&narrow.stderr));
    assert!(
        text(&narrow.stdout).starts_with(
            "- transfers.GET /v1/transfers/{transfer_id}: new rule: deny when claim.customer_id == \"blocked\""
        ),
        "{}",
        text(&narrow.stdout)
    );

    // Widening: a scope dropped, the partners' network opened, a teller rule loosened.
    edit(&new.join("accounts.warden"), "    scope \"accounts:read\"\n", "");
    edit(
        &new.join("zones.warden"),
        "  network \"198.51.100.0/24\", \"2001:db8::/32\"",
        "  network \"198.51.100.0/24\", \"2001:db8::/32\", \"203.0.113.0/24\"",
    );
    let wide = warden(&["diff", old_s, new_s]);
    assert_eq!(wide.status.code(), Some(2), "{}{}", text(&wide.stdout), text(&wide.stderr));
    let md = text(&wide.stdout);
    assert!(md.contains("**Access widens**"), "{md}");
    assert!(
        md.contains("| `accounts.GET /v1/accounts/{account_id}` | edge | no longer requires scope `accounts:read` |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| `partner_accounts.GET /v1/accounts/{account_id}/balance` | partners | reachable from `203.0.113.0/24` |"
        ),
        "{md}"
    );
    assert!(md.contains("### Who loses access"), "the new deny is still there: {md}");
    // Paths are the set's own, whichever directory it was read from.
    assert!(md.contains("(transfers.warden:"), "{md}");
    assert!(!md.contains(old_s) && !md.contains(new_s), "{md}");
    // Two bundles of the same sets: the same comparison, the same exit.
    let bundle = |dir: &str, name: &str| {
        let out = tmp.path().join(name);
        let built = warden(&["bundle", "build", dir, "-o", out.to_str().unwrap()]);
        assert!(built.status.success(), "{}", text(&built.stderr));
        out
    };
    let (old_b, new_b) = (bundle(old_s, "old.bundle"), bundle(new_s, "new.bundle"));
    let bundled = warden(&["diff", old_b.to_str().unwrap(), new_b.to_str().unwrap()]);
    assert_eq!(bundled.status.code(), Some(2), "{}", text(&bundled.stderr));
    assert_eq!(text(&bundled.stdout), md, "a bundle diffs as the set it carries");

    // What the graph holds beyond the rules: a teller added to the data the
    // rules read, and, in one change, a partner removed while another's
    // secret is replaced (the removal must not hide the new secret).
    let (old2, new2) = (tmp.path().join("old2"), tmp.path().join("new2"));
    copy_dir(&repo().join("policies/bank"), &old2);
    copy_dir(&repo().join("policies/bank"), &new2);
    edit(
        &new2.join("data/tellers.json"),
        "\"emp-1002\"",
        "\"emp-6666\": { \"name\": \"M. Allory\", \"branch\": \"-\" },\n  \"emp-1002\"",
    );
    edit(&new2.join("clients/partners.json"), "\"acme-pay\": \"95991bb2", "\"acme-pay\": \"00000000");
    edit(
        &new2.join("clients/partners.json"),
        ",\n  \"globex-treasury\": \"75feb0c610fc2cda7aadc7ba0929e98c2fc154d00a87d1047a088190ee2d922a\"",
        "",
    );
    let hidden = warden(&["diff", old2.to_str().unwrap(), new2.to_str().unwrap(), "--format", "human"]);
    assert_eq!(hidden.status.code(), Some(2), "{}{}", text(&hidden.stdout), text(&hidden.stderr));
    let said = text(&hidden.stdout);
    assert!(
        said.contains("+ accounts.GET /v1/accounts/{account_id}: data `tellers`, which its rules read, changed"),
        "{said}"
    );
    assert!(said.contains("the entry of client `acme-pay` in `clients/partners.json` changed"), "{said}");
    assert!(
        said.contains("- partner_accounts.GET /v1/accounts/{account_id}/balance: client `globex-treasury` removed"),
        "{said}"
    );

    // A set that does not compile: exit 1, never 0.
    std::fs::write(new.join("broken.warden"), "zone {").unwrap();
    assert_eq!(warden(&["diff", old_s, new_s]).status.code(), Some(1));
    // Usage: two directories, or --git.
    assert_eq!(warden(&["diff", old_s]).status.code(), Some(1));
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Warden Test", "-c", "user.email=test@warden.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

#[test]
fn diff_compares_two_revisions_of_a_git_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    git(root, &["init", "-q", "-b", "main"]);
    let set = root.join("sets/todo");
    copy_dir(&repo().join("policies/todo"), &set);
    std::fs::write(root.join("README"), "not a policy\n").unwrap();
    git(root, &["add", "."]);
    git(root, &["commit", "-q", "-m", "the to-do policy"]);
    // An admin of any tenant may now delete: the tenant deny is gone.
    edit(&set.join("todo.warden"), "  deny when resource.tenant != claim.tenant\n", "");
    git(root, &["commit", "-q", "-am", "drop tenant isolation"]);

    let out = warden_in(root, &["diff", "--git", "HEAD~1..HEAD", "sets/todo", "--format", "human"]);
    assert_eq!(out.status.code(), Some(2), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stdout);
    for action in ["todo.read", "todo.edit", "todo.delete"] {
        assert!(
            said.contains(&format!(
                "+ {action}: rule removed: deny when resource.tenant != claim.tenant (was todo.warden:"
            )),
            "{said}"
        );
    }
    // From inside the set's directory, the same.
    let inside = warden_in(&set, &["diff", "--git", "HEAD~1..HEAD", "--format", "human"]);
    assert_eq!((inside.status.code(), text(&inside.stdout)), (Some(2), said.clone()));
    // One revision: against the working tree (which is HEAD here).
    let worktree = warden_in(root, &["diff", "--git", "HEAD~1", "sets/todo", "--format", "human"]);
    assert_eq!((worktree.status.code(), text(&worktree.stdout)), (Some(2), said));
    // Reversed, it narrows.
    assert_eq!(warden_in(root, &["diff", "--git", "HEAD..HEAD~1", "sets/todo"]).status.code(), Some(0));
    // A revision git does not know: git's own message, exit 1.
    let bad = warden_in(root, &["diff", "--git", "nope..HEAD", "sets/todo"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stderr).contains("git"), "{}", text(&bad.stderr));
    // Nothing is left behind in the temporary directory.
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("warden-diff-"))
        .filter(|e| {
            e.metadata().is_ok_and(|m| m.modified().is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() < 60)))
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
