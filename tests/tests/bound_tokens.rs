//! Certificate-bound access tokens (RFC 8705) with real parts: a real OpenID
//! provider (oidc-provider, its mTLS feature with
//! `certificateBoundAccessTokens`) issues a token bound to a client
//! certificate of this run's PKI; `warden serve` accepts it only with that
//! certificate, whichever door the certificate arrives through: real nginx
//! terminating mutual TLS and passing `$ssl_client_escaped_cert` to forward
//! auth, `source.certificate` of `/v1/check` from a caller allowed to assert
//! it, and Envoy ext_authz's `source.certificate`. A zone with `require bound`
//! refuses unbound tokens; a zone without it still holds a bound token to its
//! certificate. With `forward_auth.client_cert_peer_proxies`, the certificate nginx
//! verified names the peer for `auth mtls`.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers: a failure aborts the test")]

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest as EnvoyHttp, Peer, Request};
use envoy_types::pb::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use envoy_types::pb::envoy::service::auth::v3::check_response::HttpResponse;
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest as EnvoyCheck};
use serde_json::{Value, json};
use warden_e2e::gateway::{Gateway, Upstream, nginx_command, nginx_conf, nginx_forward_auth_with};
use warden_e2e::oidc::{AUD, Provider};
use warden_e2e::pki::{Pki, https_request_with};
use warden_e2e::{Warden, free_ports};

fn policy(idp: &str) -> String {
    let zone = |name: &str, bound: &str| {
        format!(
            "zone {name} {{\n  issuer \"{idp}\" {{\n    jwks url \"{idp}/jwks\" refresh 5m\n    audience \"{AUD}\"\n    algorithms RS256\n  }}\n{bound}}}\n\n"
        )
    };
    format!(
        "{}{}api things in zone edge {{\n  auth bearer\n\n  route GET \"/things\" {{\n    allow\n  }}\n}}\n\nzone mesh {{\n  require mtls\n}}\n\napi mesh in zone mesh {{\n  auth mtls\n\n  route GET \"/mesh\" {{\n    allow when peer.principal == \"spiffe://gateways.example/edge\"\n  }}\n}}\n\napi open in zone open {{\n  host \"open.example\"\n  auth bearer\n\n  route GET \"/things\" {{\n    allow\n  }}\n}}\n",
        zone("edge", "  require bound\n"),
        zone("open", "")
    )
}

/// `(allow, reason)` of `GET /things` on `host` with `token`, asked through
/// `/v1/check` with `certificate` as `source.certificate`.
fn check(w: &Warden, host: &str, token: &str, certificate: Option<&str>) -> (bool, String) {
    let mut body = json!({"request": {"method": "GET", "scheme": "https", "host": host, "path": "/things",
        "headers": {"authorization": format!("Bearer {token}")}}});
    if let Some(c) = certificate {
        body["source"] = json!({"certificate": c});
    }
    let d = w.post_json("/v1/check", &body).unwrap().json().unwrap();
    (d["allow"].as_bool().unwrap_or_else(|| panic!("not a decision: {d}")), d["reason"].as_str().unwrap().to_owned())
}

fn thumbprint(pem: &str) -> String {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der.as_ref()))
}

fn escaped(pem: &str) -> String {
    percent_encoding::utf8_percent_encode(pem, percent_encoding::NON_ALPHANUMERIC).collect()
}

#[test]
fn a_bound_token_is_good_only_with_its_certificate_at_every_door() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path()).unwrap();
    let client_pem = std::fs::read_to_string(&pki.client_cert).unwrap();
    let other_pem = std::fs::read_to_string(&pki.service_cert).unwrap();
    let idp = Provider::start(&dir.path().join("provider.log"));
    idp.get("/jwks").unwrap();

    // The provider binds the token to the certificate the client asked with.
    let bound = idp.bound_token(&client_pem);
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(bound.split('.').nth(1).unwrap()).unwrap()).unwrap();
    assert_eq!(claims["cnf"]["x5t#S256"], thumbprint(&client_pem), "{claims}");
    let unbound = idp.token();

    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(policies.join("api.warden"), policy(&idp.issuer())).unwrap();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        "[callers]\nassert_networks = [\"127.0.0.1/32\"]\ntrusted_proxies = [\"127.0.0.1/32\"]\n\n[forward_auth]\nclient_cert_header = \"x-ssl-client-cert\"\nclient_cert_peer_proxies = [\"127.0.0.1/32\"]\n",
    )
    .unwrap();
    let w = Warden::start(&policies, &["--config", config.to_str().unwrap()]).unwrap();

    // `/v1/check`, the certificate as PEM or URL-encoded PEM.
    let ok = (true, "allowed".to_owned());
    let not_bound = (false, "token_not_bound".to_owned());
    assert_eq!(check(&w, "api.example", &bound, Some(&client_pem)), ok);
    assert_eq!(check(&w, "api.example", &bound, Some(&escaped(&client_pem))), ok);
    assert_eq!(check(&w, "api.example", &bound, Some(&other_pem)), not_bound, "another certificate");
    assert_eq!(check(&w, "api.example", &bound, None), not_bound, "no certificate");
    // `require bound`: an unbound token is refused, with or without a certificate.
    assert_eq!(check(&w, "api.example", &unbound, Some(&client_pem)), not_bound);
    // Without `require bound` an unbound token passes, and a bound one is
    // still held to its certificate.
    assert_eq!(check(&w, "open.example", &unbound, None), ok);
    assert_eq!(check(&w, "open.example", &bound, Some(&other_pem)), not_bound);
    assert_eq!(check(&w, "open.example", &bound, Some(&client_pem)), ok);
    // What is not a certificate is refused at the door, never ignored.
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/things",
        "headers": {"authorization": format!("Bearer {bound}")}}, "source": {"certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}});
    let r = w.post_json("/v1/check", &body).unwrap();
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    // The 401 carries the challenge, and the decision says why.
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "api.example", "path": "/things",
        "headers": {"authorization": format!("Bearer {bound}")}}});
    let d = w.post_json("/v1/check", &body).unwrap().json().unwrap();
    assert_eq!(d["status"], 401);
    assert!(d["headers"]["www-authenticate"].as_str().unwrap().contains("token_not_bound"), "{d}");

    // Envoy ext_authz: `source.certificate`, URL-encoded PEM.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut envoy = rt.block_on(AuthorizationClient::connect(format!("http://{}", w.grpc))).unwrap();
    let mut ext_authz = |certificate: &str| -> bool {
        let check = EnvoyCheck {
            attributes: Some(AttributeContext {
                source: Some(Peer { certificate: certificate.to_owned(), ..Default::default() }),
                request: Some(Request {
                    time: None,
                    http: Some(EnvoyHttp {
                        method: "GET".to_owned(),
                        path: "/things".to_owned(),
                        host: "api.example".to_owned(),
                        scheme: "https".to_owned(),
                        headers: [("authorization".to_owned(), format!("Bearer {bound}"))].into_iter().collect(),
                        protocol: "HTTP/2".to_owned(),
                        ..Default::default()
                    }),
                }),
                ..Default::default()
            }),
        };
        let answer = rt.block_on(envoy.check(check)).unwrap().into_inner();
        matches!(answer.http_response, Some(HttpResponse::OkResponse(_)))
    };
    assert!(ext_authz(&escaped(&client_pem)), "ext_authz with the bound certificate");
    assert!(!ext_authz(&escaped(&other_pem)), "ext_authz with another certificate");
    assert!(!ext_authz(""), "ext_authz without a certificate");

    // nginx terminates mutual TLS and passes the certificate to forward auth.
    let upstream = Upstream::start();
    let [port] = free_ports::<1>().unwrap();
    let root = dir.path().join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let forward =
        nginx_forward_auth_with(w.http, "      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;\n");
    let servers = format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    \
         ssl_client_certificate {};\n    ssl_verify_client optional;\n\n    location / {{\n      auth_request /_warden;\n      \
         proxy_pass http://{};\n    }}\n\n{forward}  }}\n",
        pki.server_cert.display(),
        pki.server_key.display(),
        pki.ca.display(),
        upstream.addr
    );
    let conf = root.join("nginx.conf");
    std::fs::write(&conf, nginx_conf("tests/tests/bound_tokens.rs", &root, &servers)).unwrap();
    let g = Gateway::start("nginx", nginx_command(&root, &conf), root.join("error.log"), &[port]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let through = |identity: Option<(&std::path::Path, &std::path::Path)>| -> u16 {
        let config = pki.client_config(identity, &[b"http/1.1"]).unwrap();
        let bearer = format!("Bearer {bound}");
        let r = https_request_with(config, addr, "GET", "/things", &[("authorization", &bearer)], None)
            .unwrap_or_else(|e| panic!("{e}\n{}", g.log_text()));
        r.status
    };
    let hits = upstream.hits();
    assert_eq!(through(Some((&pki.client_cert, &pki.client_key))), 200, "{}", g.log_text());
    assert_eq!(upstream.hits(), hits + 1);
    // Another certificate of the same CA: the TLS is fine, the token is not.
    assert_eq!(through(Some((&pki.service_cert, &pki.service_key))), 401);
    assert_eq!(through(None), 401);
    assert_eq!(upstream.hits(), hits + 1, "refused requests never reach the upstream");

    // nginx verified the certificate against the CA (`ssl_client_certificate`),
    // and the config says so (`client_cert_peer_proxies`): its SAN is the peer, for
    // `auth mtls` and `peer.principal`.
    let mesh = |identity: Option<(&std::path::Path, &std::path::Path)>| -> u16 {
        let config = pki.client_config(identity, &[b"http/1.1"]).unwrap();
        https_request_with(config, addr, "GET", "/mesh", &[], None)
            .unwrap_or_else(|e| panic!("{e}\n{}", g.log_text()))
            .status
    };
    assert_eq!(mesh(Some((&pki.client_cert, &pki.client_key))), 200, "{}", g.log_text());
    assert_eq!(mesh(Some((&pki.service_cert, &pki.service_key))), 403, "another name");
    assert_eq!(mesh(None), 403, "no certificate, no peer: mtls_required");
    // `/v1/check`'s `source.certificate` gives only the thumbprint, whoever
    // asserts it: a caller that may assert a source names the peer as such.
    let body = json!({"request": {"method": "GET", "scheme": "https", "host": "localhost", "path": "/mesh"},
        "source": {"certificate": client_pem}});
    let d: Value = w.post_json("/v1/check", &body).unwrap().json().unwrap();
    assert_eq!((d["allow"].as_bool(), d["reason"].as_str()), (Some(false), Some("mtls_required")), "{d}");
}
