//! `warden lsp` driven over stdio by a small JSON-RPC client (Content-Length framing),
//! as an editor would: initialize, open documents, read diagnostics, format, shut down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests fail loudly")]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any one answer may take before the test calls the server hung.
const TIMEOUT: Duration = Duration::from_secs(20);

/// A running `warden lsp` with a reader thread that decodes framed messages.
struct Client {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Client {
    fn start() -> Client {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["lsp", "--stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start warden lsp");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, messages) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length: ") {
                        length = Some(value.parse::<usize>().unwrap());
                    }
                }
                let mut body = vec![0; length.expect("a Content-Length header")];
                if reader.read_exact(&mut body).is_err() {
                    return;
                }
                if tx.send(serde_json::from_slice::<Value>(&body).unwrap()).is_err() {
                    return;
                }
            }
        });
        Client { child, stdin, messages, next_id: 1 }
    }

    fn send(&mut self, message: &Value) {
        let body = serde_json::to_vec(message).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(&body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response (skipping notifications).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.wait_for(|m| m["id"] == json!(id))
    }

    /// The next message that `matches`, within [`TIMEOUT`].
    fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if matches(&message) => return message,
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => panic!("no matching message from warden lsp within {TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!("warden lsp closed its output"),
            }
        }
    }

    /// The diagnostics published for `uri`, next time they are.
    fn diagnostics_for(&mut self, uri: &str) -> Vec<Value> {
        let message =
            self.wait_for(|m| m["method"] == "textDocument/publishDiagnostics" && m["params"]["uri"] == json!(uri));
        message["params"]["diagnostics"].as_array().unwrap().clone()
    }

    fn initialize(&mut self, root: &Path) -> Value {
        let response = self.request("initialize", json!({"processId": null, "rootUri": uri(root), "capabilities": {}}));
        self.notify("initialized", json!({}));
        response
    }

    fn open(&mut self, path: &Path, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri(path), "languageId": "warden", "version": 1, "text": text}}),
        );
    }

    /// `shutdown` then `exit`; the server must exit 0 in time.
    fn shut_down(mut self) {
        let response = self.request("shutdown", Value::Null);
        assert_eq!(response["result"], Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "warden lsp exited with {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("warden lsp did not exit after `exit`");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(path: &Path) -> String {
    url::Url::from_file_path(path).unwrap().to_string()
}

/// A policy set on disk: one good file and one that `bad` will be opened over.
fn policy_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("limits.warden"), "limit per_ip = 5 per 1m by source.ip\n").unwrap();
    std::fs::write(dir.path().join("bad.warden"), "limit other = 5 per 1m by source.ip\n").unwrap();
    dir
}

#[test]
fn an_error_in_an_open_buffer_is_published_with_its_code_and_utf16_range() {
    let dir = policy_set();
    let bad = dir.path().join("bad.warden");
    let mut client = Client::start();
    let init = client.initialize(dir.path());
    assert_eq!(init["result"]["capabilities"]["documentFormattingProvider"], json!(true));

    // The unsaved text overrides the file on disk. `é` is one UTF-16 unit,
    // `𝄞` two: the string runs from character 29 to UTF-16 column 33.
    client.open(&bad, "limit y = 5 per 1m by header.\"é𝄞\n");
    let diagnostics = client.diagnostics_for(&uri(&bad));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    let d = &diagnostics[0];
    assert_eq!(d["code"], "E0101");
    assert_eq!(d["severity"], 1);
    assert_eq!(d["source"], "warden");
    assert_eq!(d["range"], json!({"start": {"line": 0, "character": 29}, "end": {"line": 0, "character": 33}}));
    assert!(d["message"].as_str().unwrap().starts_with("unterminated string"), "{d}");

    // Fixing the buffer clears the error; the set now compiles, so the lints
    // run: the limit is never used (a warning, with its code).
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&bad), "version": 2},
               "contentChanges": [{"text": "limit y = 5 per 1m by source.ip\n"}]}),
    );
    let diagnostics = client.diagnostics_for(&uri(&bad));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!(diagnostics[0]["code"], "W0309");
    assert_eq!(diagnostics[0]["severity"], 2);
    assert_eq!(
        diagnostics[0]["range"],
        json!({"start": {"line": 0, "character": 6}, "end": {"line": 0, "character": 7}})
    );
    client.shut_down();
}

/// The editor shows lints at the levels of the set's `warden.toml`, and
/// honours an inline suppression.
#[test]
fn lint_levels_and_suppressions_apply_in_the_editor() {
    let dir = policy_set();
    std::fs::write(dir.path().join("warden.toml"), "[lints]\nunused-declaration = \"error\"\n").unwrap();
    let bad = dir.path().join("bad.warden");
    let mut client = Client::start();
    client.initialize(dir.path());
    client.open(&bad, "limit y = 5 per 1m by source.ip\n");
    let diagnostics = client.diagnostics_for(&uri(&bad));
    assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
    assert_eq!((&diagnostics[0]["code"], &diagnostics[0]["severity"]), (&json!("W0309"), &json!(1)));
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&bad), "version": 2},
               "contentChanges": [{"text": "limit y = 5 per 1m by source.ip  // warden: allow W0309 \"next release\"\n"}]}),
    );
    assert_eq!(client.diagnostics_for(&uri(&bad)), Vec::<Value>::new());
    client.shut_down();
}

#[test]
fn a_duplicate_across_files_is_published_as_an_error() {
    let dir = policy_set();
    let bad = dir.path().join("bad.warden");
    let limits = dir.path().join("limits.warden");
    let mut client = Client::start();
    client.initialize(dir.path());
    // A second `per_ip`: the duplicate is reported across the set.
    client.open(&bad, "limit per_ip = 9 per 1m by source.ip\n");
    let mut all = client.diagnostics_for(&uri(&bad));
    all.extend(client.diagnostics_for(&uri(&limits)));
    assert!(!all.is_empty(), "a duplicate limit must be reported");
    assert!(all.iter().all(|d| d["code"].as_str().unwrap().starts_with('E')), "{all:#?}");

    // A file that changes on disk only (not open) is re-checked when the client says so.
    let other = dir.path().join("other.warden");
    std::fs::write(&other, "limit = 1\n").unwrap();
    client.notify("workspace/didChangeWatchedFiles", json!({"changes": [{"uri": uri(&other), "type": 1}]}));
    let diagnostics = client.diagnostics_for(&uri(&other));
    assert_eq!(diagnostics[0]["code"], "E0102", "{diagnostics:#?}");
    client.shut_down();
}

#[test]
fn formatting_returns_the_canonical_text_and_nothing_for_a_broken_file() {
    let dir = policy_set();
    let bad = dir.path().join("bad.warden");
    let mut client = Client::start();
    client.initialize(dir.path());
    client.open(&bad, "limit   per_ip2 =  5 per 1m   by source.ip");
    let response = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri(&bad)}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(
        response["result"],
        json!([{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 42}},
                "newText": "limit per_ip2 = 5 per 1m by source.ip\n"}])
    );

    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri(&bad), "version": 2}, "contentChanges": [{"text": "limit = \n"}]}),
    );
    let response = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri(&bad)}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(response["result"], Value::Null);
    client.shut_down();
}

#[test]
fn bad_parameters_and_unknown_methods_get_errors_not_a_crash() {
    let dir = policy_set();
    let mut client = Client::start();
    client.initialize(dir.path());
    let response = client.request("textDocument/formatting", json!({"nonsense": true}));
    assert_eq!(response["error"]["code"], -32602);
    let response = client.request("warden/unknown", json!({}));
    assert_eq!(response["error"]["code"], -32601);
    // A frame that is not JSON-RPC, and one with a broken header, are skipped.
    let garbage = "{\"jsonrpc\": oops";
    write!(client.stdin, "Content-Length: {}\r\n\r\n{garbage}", garbage.len()).unwrap();
    write!(client.stdin, "Content-Length: lots\r\n\r\n").unwrap();
    // A notification with bad parameters is ignored; the server still answers.
    client.notify("textDocument/didOpen", json!({"textDocument": 42}));
    let response = client.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": "file:///nowhere/x.warden"}, "options": {"tabSize": 2, "insertSpaces": true}}),
    );
    assert_eq!(response["result"], Value::Null);
    client.shut_down();
}

/// A set where `edge.warden` uses a limit and a data list declared in `decls.warden`.
fn navigation_set() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tellers.json"), "[\"alice\"]").unwrap();
    let jwks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/bank/keys/idp.jwks.json");
    std::fs::copy(jwks, dir.path().join("k.json")).unwrap();
    std::fs::write(
        dir.path().join("decls.warden"),
        "/// Who may see every account.\ndata tellers = file \"tellers.json\"\n\n\
         /// At most five a minute per address.\nlimit per_ip = 5 per 1m by source.ip\n",
    )
    .unwrap();
    let edge = "zone edge {\n  issuer \"https://id.example\" {\n    audience \"a\"\n    jwks file \"k.json\"\n  }\n}\n\n\
                api a in zone edge {\n  host \"h\"\n  auth bearer\n  limit per_ip\n  route GET \"/x\" {\n    allow when claim.sub in data.tellers\n  }\n}\n"
        .to_owned();
    std::fs::write(dir.path().join("edge.warden"), &edge).unwrap();
    (dir, edge)
}

fn at(uri: &str, line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
}

#[test]
fn hover_definition_references_and_outline_follow_names_across_files() {
    let (dir, edge) = navigation_set();
    let edge_uri = uri(&dir.path().join("edge.warden"));
    let decls_uri = uri(&dir.path().join("decls.warden"));
    let mut client = Client::start();
    client.initialize(dir.path());
    client.open(&dir.path().join("edge.warden"), &edge);

    // `limit per_ip` on line 10 (0-based), `per_ip` from character 8.
    let hover = client.request("textDocument/hover", at(&edge_uri, 10, 10));
    let value = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(value.contains("limit per_ip"), "{value}");
    assert!(value.contains("At most five a minute per address."), "{value}");
    assert_eq!(
        hover["result"]["range"],
        json!({"start": {"line": 10, "character": 8}, "end": {"line": 10, "character": 14}})
    );

    let definition = client.request("textDocument/definition", at(&edge_uri, 10, 10));
    assert_eq!(
        definition["result"],
        json!([{"uri": decls_uri, "range": {"start": {"line": 4, "character": 6}, "end": {"line": 4, "character": 12}}}])
    );

    // `data.tellers` in the route: definition in the other file.
    let column = edge.lines().nth(12).unwrap().find("tellers").unwrap() as u32;
    let definition = client.request("textDocument/definition", at(&edge_uri, 12, column + 1));
    assert_eq!(
        definition["result"],
        json!([{"uri": decls_uri, "range": {"start": {"line": 1, "character": 5}, "end": {"line": 1, "character": 12}}}])
    );

    // References to the zone from its declaration: the declaration and `in zone edge`.
    let mut params = at(&edge_uri, 0, 6);
    params["context"] = json!({"includeDeclaration": true});
    let references = client.request("textDocument/references", params.clone());
    let lines: Vec<u64> = references["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["range"]["start"]["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [0, 7]);
    params["context"] = json!({"includeDeclaration": false});
    let references = client.request("textDocument/references", params);
    assert_eq!(references["result"].as_array().unwrap().len(), 1);

    // Nothing declared under the cursor: no hover.
    let hover = client.request("textDocument/hover", at(&edge_uri, 8, 3));
    assert_eq!(hover["result"], Value::Null);

    let symbols = client.request("textDocument/documentSymbol", json!({"textDocument": {"uri": edge_uri}}));
    let names: Vec<&str> = symbols["result"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["edge", "a"]);
    client.shut_down();
}

/// Renaming a limit from one of its uses renames its declaration in the
/// other file too; a name the language refuses, or one declared already, is
/// refused with the reason.
#[test]
fn rename_changes_every_occurrence_across_the_set() {
    let (dir, edge) = navigation_set();
    let edge_uri = uri(&dir.path().join("edge.warden"));
    let decls_uri = uri(&dir.path().join("decls.warden"));
    let mut client = Client::start();
    let init = client.initialize(dir.path());
    assert_eq!(init["result"]["capabilities"]["renameProvider"], json!({"prepareProvider": true}));
    client.open(&dir.path().join("edge.warden"), &edge);

    // `limit per_ip` on line 10, `per_ip` from character 8.
    let prepared = client.request("textDocument/prepareRename", at(&edge_uri, 10, 10));
    assert_eq!(
        prepared["result"],
        json!({"range": {"start": {"line": 10, "character": 8}, "end": {"line": 10, "character": 14}}, "placeholder": "per_ip"})
    );
    let mut params = at(&edge_uri, 10, 10);
    params["newName"] = json!("per_client_ip");
    let edit = client.request("textDocument/rename", params.clone());
    let changes = edit["result"]["documentChanges"].as_array().unwrap();
    let new_text = |uri: &str| -> Vec<(u64, u64, String)> {
        let file = changes.iter().find(|c| c["textDocument"]["uri"] == json!(uri)).unwrap();
        file["edits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let start = &e["range"]["start"];
                (
                    start["line"].as_u64().unwrap(),
                    start["character"].as_u64().unwrap(),
                    e["newText"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(new_text(&edge_uri), [(10, 8, "per_client_ip".to_owned())], "{edit}");
    assert_eq!(new_text(&decls_uri), [(4, 6, "per_client_ip".to_owned())], "{edit}");
    assert_eq!(changes.len(), 2, "{edit}");

    for (bad, why) in [("2fast", "is not a name"), ("and", "is not a name"), ("tellers", "is declared already")] {
        params["newName"] = json!(bad);
        let refused = client.request("textDocument/rename", params.clone());
        assert_eq!(refused["error"]["code"], json!(-32602), "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(why), "{refused}");
    }
    // Nothing renameable under the cursor.
    assert_eq!(client.request("textDocument/prepareRename", at(&edge_uri, 8, 3))["result"], Value::Null);
    client.shut_down();
}

/// Quick fixes for the lints with a mechanical fix, on the diagnostics the
/// editor was sent: an unused suppression is removed (its line when alone,
/// else the comment and the blanks before it); a key set over http gets https.
#[test]
fn quick_fixes_remove_unused_suppressions_and_fetch_keys_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.warden");
    let text = "zone edge {\n  issuer \"https://idp.example\" {\n    jwks url \"http://idp.example/jwks.json\"\n    audience \"a\"\n  }\n}\n\n// warden: allow W0305 \"no body here\"\napi a in zone edge {\n  auth bearer  // warden: allow W0303 \"not on a route\"\n\n  route GET \"/x\" {\n    allow\n  }\n}\n";
    std::fs::write(&file, text).unwrap();
    let file_uri = uri(&file);
    let mut client = Client::start();
    let init = client.initialize(dir.path());
    assert_eq!(init["result"]["capabilities"]["codeActionProvider"], json!({"codeActionKinds": ["quickfix"]}));
    client.open(&file, text);
    let diagnostics = client.diagnostics_for(&file_uri);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["W0307", "W0312", "W0312"], "{diagnostics:#?}");
    let actions = client.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": file_uri},
               "range": {"start": {"line": 0, "character": 0}, "end": {"line": 14, "character": 0}},
               "context": {"diagnostics": diagnostics}}),
    );
    let fixes: Vec<(String, Value, String)> = actions["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let edit = &a["edit"]["documentChanges"][0]["edits"][0];
            (
                a["title"].as_str().unwrap().to_owned(),
                edit["range"].clone(),
                edit["newText"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let range = |l0: u32, c0: u32, l1: u32, c1: u32| json!({"start": {"line": l0, "character": c0}, "end": {"line": l1, "character": c1}});
    assert_eq!(
        fixes,
        [
            ("fetch the key set over https://".to_owned(), range(2, 14, 2, 21), "https://".to_owned()),
            ("remove the unused suppression".to_owned(), range(7, 0, 8, 0), String::new()),
            ("remove the unused suppression".to_owned(), range(9, 13, 9, 54), String::new()),
        ],
        "{actions}"
    );
    client.shut_down();
}

#[test]
fn hover_on_a_lint_explains_it_and_completion_offers_names_and_keywords() {
    let (dir, edge) = navigation_set();
    let decls = dir.path().join("decls.warden");
    let decls_uri = uri(&decls);
    let edge_uri = uri(&dir.path().join("edge.warden"));
    let mut client = Client::start();
    client.initialize(dir.path());
    // An unused limit: W0309 on its name, line 5.
    let text = "/// Who may see every account.\ndata tellers = file \"tellers.json\"\n\n\
                /// At most five a minute per address.\nlimit per_ip = 5 per 1m by source.ip\nlimit spare = 1 per 1s by source.ip\n";
    client.open(&decls, text);
    let diagnostics = client.diagnostics_for(&decls_uri);
    assert_eq!(diagnostics.iter().map(|d| d["code"].as_str().unwrap()).collect::<Vec<_>>(), ["W0309"]);
    let hover = client.request("textDocument/hover", at(&decls_uri, 5, 7));
    let value = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(value.starts_with("```warden\nlimit spare\n```"), "{value}");
    assert!(value.contains("**W0309**"), "{value}");
    assert!(value.contains("**Fix:**"), "{value}");

    // After `data.`: the data lists only.
    let mut edited = edge.clone();
    edited = edited.replace("in data.tellers", "in data.t");
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": edge_uri, "version": 2}, "contentChanges": [{"text": edited}]}),
    );
    let column = edited.lines().nth(12).unwrap().len() as u32;
    let completion = client.request("textDocument/completion", at(&edge_uri, 12, column));
    let labels: Vec<&str> =
        completion["result"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["tellers"]);
    // At the start of a line: keywords, roots and every declared name.
    let completion = client.request("textDocument/completion", at(&edge_uri, 11, 4));
    let labels: Vec<&str> =
        completion["result"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap()).collect();
    for expected in ["allow", "deny", "claim", "per_ip", "spare", "edge", "tellers"] {
        assert!(labels.contains(&expected), "{expected} missing from {labels:?}");
    }
    // Every keyword of the grammar, those the server once forgot included.
    for expected in warden_language::KEYWORDS.iter().chain(&["peer", "refresh", "upstream", "repeat", "wait", "and"]) {
        assert!(labels.contains(expected), "{expected} missing from {labels:?}");
    }
    client.shut_down();
}

#[test]
fn body_fields_get_their_type_on_hover_and_path_and_body_attributes_complete() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies/bank/keys/idp.jwks.json");
    std::fs::copy(jwks, dir.path().join("k.json")).unwrap();
    std::fs::write(
        dir.path().join("schemas.warden"),
        "schema Transfer {\n  amount: number min 0.01\n  payee: Payee\n}\n\n\
         schema Payee {\n  /// International account number.\n  iban: string pattern \"^[A-Z]{2}\"\n}\n",
    )
    .unwrap();
    let api = "zone edge {\n  issuer \"https://id.example\" {\n    audience \"a\"\n    jwks file \"k.json\"\n  }\n}\n\n\
               api a in zone edge {\n  host \"h\"\n  auth bearer\n  route POST \"/t/{id}\" {\n    body json Transfer\n    \
               allow when body.payee.iban == path.id\n  }\n}\n";
    let file = dir.path().join("api.warden");
    std::fs::write(&file, api).unwrap();
    let file_uri = uri(&file);
    let mut client = Client::start();
    client.initialize(dir.path());
    client.open(&file, api);
    assert_eq!(client.diagnostics_for(&file_uri), Vec::<Value>::new());

    let line = api.lines().nth(12).unwrap();
    let iban = line.find("iban").unwrap() as u32;
    let hover = client.request("textDocument/hover", at(&file_uri, 12, iban + 1));
    let value = hover["result"]["contents"]["value"].as_str().unwrap();
    assert!(value.contains("body.payee.iban: string pattern \"^[A-Z]{2}\""), "{value}");
    assert!(value.contains("International account number."), "{value}");

    let labels = |client: &mut Client, text: &str, line: u32, character: u32| -> Vec<String> {
        client.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": file_uri, "version": 2}, "contentChanges": [{"text": text}]}),
        );
        let completion = client.request("textDocument/completion", at(&file_uri, line, character));
        completion["result"].as_array().unwrap().iter().map(|i| i["label"].as_str().unwrap().to_owned()).collect()
    };
    let typing = |tail: &str| api.replace("body.payee.iban == path.id", tail);
    let column = |text: &str| text.lines().nth(12).unwrap().len() as u32;
    let text = typing("body.");
    assert_eq!(labels(&mut client, &text, 12, column(&text)), ["amount", "payee"]);
    let text = typing("body.payee.");
    assert_eq!(labels(&mut client, &text, 12, column(&text)), ["iban"]);
    let text = typing("path.");
    assert_eq!(labels(&mut client, &text, 12, column(&text)), ["id"]);
    client.shut_down();
}
