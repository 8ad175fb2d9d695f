//! Writes what the load benchmark (`tests/bench/load.sh`) needs into a
//! directory: a policy set whose issuer key was made for this run, a `/v1/check`
//! body carrying a token from that key (allowed, and cached by the server after
//! the first request), a wrk script that posts it, and the same request as a
//! gRPC-framed Envoy ext_authz `CheckRequest` for h2load.

use std::collections::HashMap;
use std::path::PathBuf;

use envoy_types::pb::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, CheckRequest};
use prost::Message as _;
use serde_json::json;

fn main() -> Result<(), String> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: load_setup DIR")?);
    let token = warden_e2e::bench::write_policy(&dir.join("policy"))?;

    let check = json!({"request": {"method": "GET", "scheme": "https", "host": "api.bench.example",
        "path": "/v1/accounts/42", "headers": {"authorization": format!("Bearer {token}")}},
        "source": {"ip": "198.51.100.7"}});
    std::fs::write(dir.join("check.json"), check.to_string()).map_err(|e| e.to_string())?;
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = {}\n",
        serde_json::to_string(&check.to_string()).map_err(|e| e.to_string())?
    );
    std::fs::write(dir.join("check.lua"), lua).map_err(|e| e.to_string())?;

    let headers: HashMap<String, String> = [("authorization".to_owned(), format!("Bearer {token}"))].into();
    let authz = CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                time: None,
                http: Some(HttpRequest {
                    method: "GET".to_owned(),
                    path: "/v1/accounts/42".to_owned(),
                    host: "api.bench.example".to_owned(),
                    scheme: "https".to_owned(),
                    headers,
                    ..Default::default()
                }),
            }),
            ..Default::default()
        }),
    };
    // gRPC framing: no compression, a 4-byte big-endian length, the message.
    let message = authz.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).map_err(|e| e.to_string())?.to_be_bytes());
    framed.extend_from_slice(&message);
    std::fs::write(dir.join("authz.bin"), framed).map_err(|e| e.to_string())?;
    println!("{}", dir.display());
    Ok(())
}
