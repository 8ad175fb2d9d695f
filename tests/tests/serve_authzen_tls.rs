//! End-to-end tests of `warden serve`'s OpenID AuthZEN door (single and batch
//! evaluations with all three semantics, route checks, metadata, `X-Request-ID`)
//! and of TLS with mutual TLS on both listeners: a client without a certificate,
//! or with one from another CA, is refused; one with a certificate is served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failure aborts the test")]

use std::path::Path;

use serde_json::{Value, json};
use warden_e2e::pki::{Pki, https_request};
use warden_e2e::{Warden, request};
use warden_server::grpc::pb;
use warden_server::grpc::pb::decision_client::DecisionClient;

const POLICY: &str = r#"/// Calls from the application's own services (on this machine).
zone apps {
  network "127.0.0.0/8"
}

/// Documents, asked about by the document service.
resource doc in zone apps {
  auth asserted

  action read {
    allow when resource.owner == claim.sub
  }

  action delete {
    allow when "admin" in claim.roles
  }
}

/// Notes, asked about as routes.
api notes in zone apps {
  host "notes.example"
  auth asserted

  route GET "/notes/{id}" {
    allow when claim.sub == path.id
  }
}
"#;

fn policy_dir(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("apps");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(p.join("apps.warden"), POLICY).unwrap();
    p
}

fn decisions(v: &Value) -> Vec<bool> {
    v["evaluations"].as_array().unwrap().iter().map(|e| e["decision"].as_bool().unwrap()).collect()
}

#[test]
fn authzen_evaluations_follow_their_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let w = Warden::start(&policy_dir(dir.path()), &[]).unwrap();
    let post = |path: &str, body: &Value, id: &str| {
        request(
            w.http,
            "POST",
            path,
            &[("content-type", "application/json"), ("x-request-id", id)],
            Some(body.to_string().as_bytes()),
        )
        .unwrap()
    };

    // One evaluation: the owner may read, another user may not; the reason
    // travels in the context; X-Request-ID is echoed.
    let ada = json!({"type": "user", "id": "ada"});
    let r = post(
        "/access/v1/evaluation",
        &json!({"subject": ada, "action": {"name": "read"},
            "resource": {"type": "doc", "id": "d1", "properties": {"owner": "ada"}}}),
        "req-1",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-request-id"), Some("req-1"));
    let v = r.json().unwrap();
    assert_eq!(v["decision"], true, "{v}");
    assert_eq!(v["context"]["reason"], "allowed");
    let v = post(
        "/access/v1/evaluation",
        &json!({"subject": {"type": "user", "id": "bob"}, "action": {"name": "read"},
            "resource": {"type": "doc", "id": "d1", "properties": {"owner": "ada"}}}),
        "req-2",
    )
    .json()
    .unwrap();
    assert_eq!(v["decision"], false, "{v}");
    assert_eq!(v["context"]["reason"], "no_allow_rule");

    // A resource of type `route` whose id is a path is the api route check.
    let route = |who: &str, path: &str| {
        post(
            "/access/v1/evaluation",
            &json!({"subject": {"type": "user", "id": who}, "action": {"name": "GET"},
                "resource": {"type": "route", "id": path, "properties": {"host": "notes.example"}}}),
            "r",
        )
        .json()
        .unwrap()
    };
    assert_eq!(route("n7", "/notes/n7")["decision"], true);
    assert_eq!(route("n7", "/notes/n8")["decision"], false);
    assert_eq!(route("n7", "/nothing")["context"]["reason"], "route_not_found");

    // Batch: defaults at the top, one evaluation per document.
    let batch = |semantic: Option<&str>| {
        let mut body = json!({"subject": ada, "action": {"name": "read"}, "evaluations": [
            {"resource": {"type": "doc", "id": "1", "properties": {"owner": "ada"}}},
            {"resource": {"type": "doc", "id": "2", "properties": {"owner": "bob"}}},
            {"resource": {"type": "doc", "id": "3", "properties": {"owner": "ada"}}},
            {"action": {"name": "delete"}, "subject": {"type": "user", "id": "root", "properties": {"roles": ["admin"]}},
             "resource": {"type": "doc", "id": "4"}}
        ]});
        if let Some(s) = semantic {
            body["options"] = json!({"evaluations_semantic": s});
        }
        let r = post("/access/v1/evaluations", &body, "batch-1");
        assert_eq!(r.header("x-request-id"), Some("batch-1"));
        decisions(&r.json().unwrap())
    };
    assert_eq!(batch(None), [true, false, true, true]);
    assert_eq!(batch(Some("execute_all")), [true, false, true, true]);
    assert_eq!(batch(Some("deny_on_first_deny")), [true, false]);
    assert_eq!(batch(Some("permit_on_first_permit")), [true]);

    // Without an `evaluations` list it is a single evaluation.
    let v = post(
        "/access/v1/evaluations",
        &json!({"subject": ada, "action": {"name": "delete"}, "resource": {"type": "doc", "id": "9"}}),
        "x",
    )
    .json()
    .unwrap();
    assert_eq!(v["decision"], false, "{v}");

    // Malformed: 400 with a JSON error naming the problem, never a decision.
    for (path, body, needle) in [
        (
            "/access/v1/evaluation",
            json!({"action": {"name": "read"}, "resource": {"type": "doc", "id": "1"}}),
            "subject",
        ),
        ("/access/v1/evaluation", json!({"subject": ada, "action": {"name": "read"}}), "resource"),
        (
            "/access/v1/evaluations",
            json!({"subject": ada, "evaluations": [{"resource": {"type": "doc", "id": "1"}}]}),
            "evaluation 0",
        ),
        (
            "/access/v1/evaluations",
            json!({"subject": ada, "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"},
                "evaluations": [{}], "options": {"evaluations_semantic": "most_votes"}}),
            "most_votes",
        ),
    ] {
        let r = post(path, &body, "bad");
        assert_eq!(r.status, 400, "{body}");
        let e = r.json().unwrap();
        assert!(e["error"].as_str().unwrap().contains(needle), "{e}");
        assert!(e.get("decision").is_none());
    }

    // Large defaults repeated over many evaluations are refused, not copied a
    // thousand times (100 KB × 1,000 would be 100 MB).
    let big = json!({"subject": {"type": "user", "id": "ada", "properties": {"blob": "x".repeat(100_000)}},
        "action": {"name": "read"}, "resource": {"type": "doc", "id": "1"},
        "evaluations": vec![json!({}); 1_000]});
    let r = post("/access/v1/evaluations", &big, "big");
    assert_eq!(r.status, 400);
    assert!(r.json().unwrap()["error"].as_str().unwrap().contains("too large to repeat"));

    // Metadata names the endpoints on the address the caller used.
    let meta = w.get("/.well-known/authzen-configuration").unwrap().json().unwrap();
    let base = format!("http://{}", w.http);
    assert_eq!(meta["policy_decision_point"], base);
    assert_eq!(meta["access_evaluation_endpoint"], format!("{base}/access/v1/evaluation"));
    assert_eq!(meta["access_evaluations_endpoint"], format!("{base}/access/v1/evaluations"));
}

fn tls_config(dir: &Path, pki: &Pki, policies: &Path) -> String {
    let path = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let tls = format!(
        "cert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
        path(&pki.server_cert),
        path(&pki.server_key),
        path(&pki.ca)
    );
    let config = dir.join("tls.toml");
    std::fs::write(&config, format!("policies = \"{}\"\n\n[http.tls]\n{tls}\n[grpc.tls]\n{tls}", path(policies)))
        .unwrap();
    config.to_string_lossy().into_owned()
}

#[test]
fn mutual_tls_refuses_clients_without_a_trusted_certificate_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path()).unwrap();
    let policies = policy_dir(dir.path());
    let config = tls_config(dir.path(), &pki, &policies);
    let w = Warden::start_with(&policies, &["--config", &config], warden_e2e::Probe::Tcp).unwrap();
    let check = json!({"resource": {"type": "doc", "id": "1", "properties": {"owner": "ada"}}, "action": "read",
        "subject": {"id": "ada"}})
    .to_string();

    // HTTP: with the client certificate, served (over HTTP/1.1).
    let with = pki.client_config(Some((&pki.client_cert, &pki.client_key)), &[b"http/1.1"]).unwrap();
    let r = https_request(with, w.http, "POST", "/v1/check/resource", Some(check.as_bytes())).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json().unwrap()["allow"], true);
    // Without one, or with one from another CA: the handshake fails, no answer.
    let without = pki.client_config(None, &[b"http/1.1"]).unwrap();
    let err = https_request(without, w.http, "GET", "/healthz", None).unwrap_err();
    assert!(!err.is_empty());
    let stranger = pki.client_config(Some((&pki.stranger_cert, &pki.stranger_key)), &[b"http/1.1"]).unwrap();
    assert!(https_request(stranger, w.http, "GET", "/healthz", None).is_err());
    // Plain text on a TLS port gets nothing.
    assert!(request(w.http, "GET", "/healthz", &[], None).is_err_and(|e| !e.is_empty()));

    // gRPC: the same, with a real tonic client over TLS.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ca = std::fs::read_to_string(&pki.ca).unwrap();
    let identity = tonic::transport::Identity::from_pem(
        std::fs::read_to_string(&pki.client_cert).unwrap(),
        std::fs::read_to_string(&pki.client_key).unwrap(),
    );
    let endpoint = |id: Option<tonic::transport::Identity>| {
        let mut tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&ca))
            .domain_name("localhost");
        if let Some(id) = id {
            tls = tls.identity(id);
        }
        tonic::transport::Endpoint::from_shared(format!("https://{}", w.grpc)).unwrap().tls_config(tls).unwrap()
    };
    let ask = pb::ResourceCheckRequest {
        resource: Some(pb::Resource {
            r#type: "doc".to_owned(),
            id: "1".to_owned(),
            properties_json: "{\"owner\": \"ada\"}".to_owned(),
        }),
        action: "read".to_owned(),
        subject: Some(pb::Subject { id: "ada".to_owned(), properties_json: String::new() }),
        ..Default::default()
    };
    let channel = rt.block_on(endpoint(Some(identity)).connect()).unwrap();
    let d = rt.block_on(DecisionClient::new(channel).check_resource(ask.clone())).unwrap().into_inner();
    assert!(d.allow, "{d:?}");
    // Without a client certificate the call fails (at connect or at the first call).
    let refused = rt.block_on(async {
        match endpoint(None).connect().await {
            Err(e) => Err(e.to_string()),
            Ok(ch) => DecisionClient::new(ch).check_resource(ask).await.map(|_| ()).map_err(|s| s.to_string()),
        }
    });
    assert!(refused.is_err(), "a client without a certificate was served");
}

#[test]
fn a_bad_certificate_path_is_a_start_up_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policies = policy_dir(dir.path());
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[http.tls]\ncert = \"/nonexistent/server.pem\"\nkey = \"/nonexistent/server.key\"\n")
        .unwrap();
    let out = std::process::Command::new(warden_e2e::warden_bin().unwrap())
        .args(["serve", "--policies"])
        .arg(&policies)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`/nonexistent/server.pem`"), "{err}");
}

#[test]
fn probes_and_scrapers_reach_the_diagnostics_listener_without_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path()).unwrap();
    let policies = policy_dir(dir.path());
    let config = tls_config(dir.path(), &pki, &policies);
    let port = warden_e2e::free_port().unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{text}\n[diagnostics]\naddr = \"127.0.0.1:{port}\"\n")).unwrap();
    let w = Warden::start_with(&policies, &["--config", &config], warden_e2e::Probe::Tcp).unwrap();
    let diagnostics: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    // The check listener still demands a client certificate…
    let without = pki.client_config(None, &[b"http/1.1"]).unwrap();
    assert!(https_request(without, w.http, "GET", "/readyz", None).is_err());
    // …the diagnostics listener answers probes and scrapes in plain HTTP, without one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ready = loop {
        let r = request(diagnostics, "GET", "/readyz", &[], None).unwrap();
        if r.status == 200 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(ready.status, 200);
    let status = request(diagnostics, "GET", "/v1/status", &[], None).unwrap().json().unwrap();
    assert_eq!(status["revision"], ready.json().unwrap()["revision"]);
    assert_eq!(status["source"]["kind"], "directory");
    let metrics = request(diagnostics, "GET", "/metrics", &[], None).unwrap();
    assert!(String::from_utf8_lossy(&metrics.body).contains("warden_policy_revision"), "{metrics:?}");
    // It answers no check.
    let check =
        request(diagnostics, "POST", "/v1/check/resource", &[("content-type", "application/json")], Some(b"{}"))
            .unwrap();
    assert_eq!(check.status, 404);
}
