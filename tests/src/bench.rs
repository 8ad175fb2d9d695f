//! What the benchmarks judge: the load benchmark's policy set (one bearer route
//! with a scope, a claims rule and an upstream header, no rate limit), written
//! with a per-run issuer key, and a token for it that the route allows; and the
//! compile benchmark's generated route set, written to disk for reloads.

use std::path::Path;

use serde_json::json;

use crate::idp::TestIdp;

/// The generator of `compiler/benches/compile.rs`, shared so both measure one set.
#[path = "../../compiler/benches/common/routes.rs"]
mod routes;

/// The policy: every request is judged in full and allowed.
pub const POLICY: &str = r#"/// The load benchmark's zone: bearer tokens from one IdP, no rate limit, so
/// every request is judged in full and allowed.
zone edge {
  issuer "https://idp.bench.example" {
    jwks file "keys/idp.jwks.json"
    audience "https://api.bench.example"
    algorithms RS256
  }
}

/// One account route with a scope, a claims rule and an upstream header.
api accounts in zone edge {
  host "api.bench.example"
  prefix "/v1"
  auth bearer

  route GET "/accounts/{account_id}" {
    scope "accounts:read"
    allow when claim.customer_id == path.account_id
    upstream header "x-customer-id" = claim.customer_id
  }
}
"#;

/// Writes the policy set into `dir` with a key made for this run; a token for
/// customer 42 that `GET https://api.bench.example/v1/accounts/42` allows.
pub fn write_policy(dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir.join("keys")).map_err(|e| e.to_string())?;
    let idp = TestIdp::new("https://idp.bench.example", "https://api.bench.example", "bench-1")?;
    std::fs::write(dir.join("bench.warden"), POLICY).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("keys/idp.jwks.json"), idp.jwks().to_string()).map_err(|e| e.to_string())?;
    Ok(idp.mint(&json!({"sub": "u-42", "customer_id": "42", "scope": "accounts:read"})))
}

/// Writes the compile benchmark's generated set into `dir`: `apis` apis of
/// `per_api` routes each (one file per api, and `common.warden`), its issuer's
/// keys in `keys/idp.jwks.json` (a key made for this run), so a reload reads
/// and checks a referenced file as a real set does and fetches nothing.
pub fn write_route_set(dir: &Path, apis: usize, per_api: usize) -> Result<(), String> {
    std::fs::create_dir_all(dir.join("keys")).map_err(|e| e.to_string())?;
    let idp = TestIdp::new("https://idp.example", "https://api.example", "routes-1")?;
    std::fs::write(dir.join("keys/idp.jwks.json"), idp.jwks().to_string()).map_err(|e| e.to_string())?;
    for (name, text) in routes::generated(apis, per_api, "jwks file \"keys/idp.jwks.json\"") {
        std::fs::write(dir.join(name), text).map_err(|e| e.to_string())?;
    }
    Ok(())
}
