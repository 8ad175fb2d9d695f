//! A generated policy set for speed measurements: one common file (a zone, two
//! limits, a schema) and one file per api, each api with the same number of
//! routes (scopes, claims rules, a body schema on POST and PUT, an upstream
//! header). Shared by `compiler/benches/compile.rs` and, through `#[path]`, by
//! `tests/benches/reload.rs`.

use std::fmt::Write as _;

/// `(file name, text)` of a set of `apis` apis with `routes` routes each. The
/// zone's issuer takes its keys from `jwks`, a `jwks …` line (`jwks url "…"`,
/// `jwks file "…"`).
pub fn generated(apis: usize, routes: usize, jwks: &str) -> Vec<(String, String)> {
    let mut files = vec![(
        "common.warden".to_owned(),
        format!(
            "zone edge {{\n  issuer \"https://idp.example\" {{\n    {jwks}\n    audience \"https://api.example\"\n  }}\n  require tls\n}}\n\nlimit per_ip = 100 per 1s by source.ip\nlimit per_client = 1000 per 1m burst 2000 by claim.client_id\n\nschema Item {{\n  name: string max_len 100 pattern \"^[a-z0-9-]+$\"\n  count: integer min 0 max 1000\n  tags?: [string max_len 20] max_items 10\n}}\n"
        ),
    )];
    for api in 0..apis {
        let mut text = format!(
            "api svc{api} in zone edge {{\n  host \"svc{api}.example\"\n  prefix \"/v1\"\n  auth bearer\n  limit per_ip, per_client\n"
        );
        for route in 0..routes {
            let method = ["GET", "POST", "PUT", "DELETE", "PATCH"][route % 5];
            let body = if method == "POST" || method == "PUT" { "    body json Item max 16KiB\n" } else { "" };
            let _ = write!(
                text,
                "\n  route {method} \"/res{route}/{{id}}/items/{{item}}\" {{\n    scope \"svc{api}:res{route}\"\n{body}    allow when claim.customer_id == path.id and claim.tier in [\"gold\", \"silver\"]\n    allow when \"admin\" in claim.roles\n    deny when claim.account_state == \"frozen\"\n    upstream header \"x-customer-id\" = claim.customer_id\n  }}\n"
            );
        }
        text.push_str("}\n");
        files.push((format!("svc{api}.warden"), text));
    }
    files
}
