//! Input capture for the decision log (`[decision_log] capture`): what was
//! judged, as `warden replay` needs it to judge it again against another
//! revision. Never a credential: the `authorization`, `proxy-authorization`,
//! `cookie` and `dpop` headers and every `api_key` header of the set are left
//! out, and so are a resource check's token and every header whose name says
//! it may hold one ([`sensitive`]: `token`, `secret`, `password`, `auth`,
//! `session`, `key`…); such query parameters and JSON or form members are
//! kept with their value replaced by `redacted`, and a body of another media
//! type is not kept at all. What authentication established is kept instead
//! (its claims), with the kind of credential it came from.

use base64::Engine as _;
use serde_json::{Value, json};
use warden_engine::decision::Decision;
use warden_engine::secrets::sensitive;

use crate::config::{Capture, Mask};
use crate::decide::Check;

/// The largest body a line carries (`request_and_body`); a larger one is left
/// out and the line says so.
pub const MAX_BODY_BYTES: usize = 64 << 10;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "redacted";

/// `target` with the values of sensitive query parameters redacted.
fn redact_target(target: &str) -> String {
    let Some((path, query)) = target.split_once('?') else { return target.to_owned() };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            let decoded: String = url::form_urlencoded::parse(name.as_bytes()).map(|(k, _)| k.into_owned()).collect();
            if sensitive(&decoded) { format!("{name}={REDACTED}") } else { pair.to_owned() }
        })
        .collect();
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Replaces, at any depth, the values of members with sensitive names.
fn redact_json(value: &mut Value, depth: usize) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive(k) {
                    *v = Value::String(REDACTED.to_owned());
                } else if depth < 64 {
                    redact_json(v, depth + 1);
                }
            }
        }
        Value::Array(items) if depth < 64 => items.iter_mut().for_each(|v| redact_json(v, depth + 1)),
        _ => {}
    }
}

/// A body as the log may hold it: JSON or a form with sensitive members
/// redacted; `None` for any other media type (it cannot be told what it holds).
fn redact_body(body: &[u8], media: &str, mask: &Mask) -> Option<Vec<u8>> {
    let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        let mut value: Value = serde_json::from_slice(body).ok()?;
        redact_json(&mut value, 0);
        for pointer in &mask.body {
            if let Some(v) = value.pointer_mut(pointer) {
                *v = Value::String(REDACTED.to_owned());
            }
        }
        return serde_json::to_vec(&value).ok();
    }
    if essence == "application/x-www-form-urlencoded" {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body)
            .map(|(k, v)| {
                let v = if sensitive(&k) { REDACTED.to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        return Some(url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish().into_bytes());
    }
    None
}

/// The captured input of `check`, decided as `d`; `None` when nothing is captured.
pub fn input(check: &Check, d: &Decision, secret_headers: &[String], capture: Capture, mask: &Mask) -> Option<Value> {
    if capture == Capture::None {
        return None;
    }
    let claims = d.claims.as_deref().map(|c| {
        let mut c = c.clone();
        for name in &mask.claims {
            if let Some(v) = c.get_mut(name) {
                *v = Value::String(REDACTED.to_owned());
            }
        }
        Value::Object(c)
    });
    let masked = |n: &str| mask.headers.iter().any(|m| m.eq_ignore_ascii_case(n));
    let out = match check {
        Check::Http(req) => {
            let header = |name: &str| req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
            let scheme = header("authorization").and_then(|v| v.split_whitespace().next()).map(str::to_ascii_lowercase);
            let credential = match scheme.as_deref() {
                Some("bearer") => Some("bearer"),
                Some("dpop") => Some("dpop"),
                Some("basic") => Some("basic"),
                Some(_) => Some("other"),
                None if req.bearer.is_some() => Some("bearer"),
                None if req.headers.iter().any(|(n, _)| n != "authorization" && secret_headers.contains(n)) => {
                    Some("api_key")
                }
                None => None,
            };
            let headers: Vec<Value> = req
                .headers
                .iter()
                .filter(|(n, _)| !secret_headers.contains(n) && !sensitive(n) && !masked(n))
                .map(|(n, v)| json!([n, v]))
                .collect();
            let mut input = json!({
                "kind": "http",
                "method": req.method,
                "scheme": req.scheme,
                "host": req.host,
                "target": redact_target(&req.target),
                "headers": headers,
                "source_ip": req.source_ip.map(|i| i.to_string()),
                "peer": req.peer,
                "certificate": req.certificate,
                "credential": credential,
                "claims": claims,
            });
            let extra = [
                ("asserted", req.asserted.clone().map(Value::Object)),
                ("resource", req.resource.clone()),
                ("context", req.context.clone()),
            ];
            add(&mut input, extra);
            let media = header("content-type").unwrap_or("");
            match req.body.as_deref().filter(|b| !b.is_empty()) {
                Some(body) if capture == Capture::RequestAndBody && body.len() <= MAX_BODY_BYTES => {
                    match redact_body(body, media, mask) {
                        Some(kept) => add(
                            &mut input,
                            [("body", Some(Value::String(base64::engine::general_purpose::STANDARD.encode(kept))))],
                        ),
                        None => add(&mut input, [("body_omitted", Some(Value::Bool(true)))]),
                    }
                }
                Some(_) => add(&mut input, [("body_omitted", Some(Value::Bool(true)))]),
                None => {}
            }
            input
        }
        Check::Resource(req) => {
            let subject = req.subject.as_ref().map(|(id, props)| json!({"id": id, "properties": props}));
            json!({
                "kind": "resource",
                "resource_type": req.resource_type,
                "resource_id": req.resource_id,
                "properties": req.properties,
                "action": req.action,
                "subject": subject,
                "context": req.context,
                "scheme": req.scheme,
                "peer": req.peer,
                "source_ip": req.source_ip.map(|i| i.to_string()),
                "credential": req.token.as_ref().map(|_| "bearer"),
                "claims": if req.token.is_some() { claims } else { None },
            })
        }
    };
    Some(out)
}

fn add<const N: usize>(input: &mut Value, fields: [(&str, Option<Value>); N]) {
    if let Value::Object(map) = input {
        for (name, value) in fields {
            if let Some(v) = value {
                map.insert(name.to_owned(), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use warden_compiler::graph::Graph;
    use warden_engine::run::HttpRequest;
    use warden_engine::secrets::secret_headers;
    use warden_language::reason::Reason;

    use super::*;

    fn graph() -> Graph {
        let text = "zone z {\n  require tls\n}\n\napi a in zone z {\n  auth api_key header \"x-partner-key\" file \"keys.json\"\n\n  route GET \"/x\" {\n    allow\n  }\n}\n";
        let set = warden_compiler::PolicySet {
            files: vec![warden_compiler::SourceFile::new("p.warden".to_owned(), text.to_owned())],
        };
        struct Keys;
        impl warden_compiler::Loader for Keys {
            fn read(&self, _path: &str) -> Result<Vec<u8>, String> {
                Ok(b"{}".to_vec())
            }
        }
        warden_compiler::compile(&set, &Keys).unwrap_or_else(|d| panic!("{d:#?}")).0
    }

    #[test]
    fn no_credential_is_captured_and_the_claims_are() {
        let secret = secret_headers(&graph());
        assert!(secret.contains(&"x-partner-key".to_owned()), "{secret:?}");
        let headers = [
            "authorization",
            "proxy-authorization",
            "cookie",
            "dpop",
            "x-api-key",
            "x-partner-key",
            "x-auth-token",
            "x-amz-security-token",
            "accept",
        ];
        let mut pairs: Vec<(String, String)> =
            headers.iter().map(|h| ((*h).to_owned(), format!("{h}-value"))).collect();
        pairs.push(("content-type".to_owned(), "application/json".to_owned()));
        let req = HttpRequest {
            method: "POST".to_owned(),
            target: "/x?q=1&access_token=eyJ.secret&api_key=k1#f".to_owned(),
            headers: pairs,
            body: Some(br#"{"a": 1, "login": {"user": "u", "password": "hunter2"}, "refresh_token": "rt"}"#.to_vec()),
            ..HttpRequest::default()
        };
        let mut d = Decision::new(Reason::Allowed, "", None);
        d.claims = Some(std::sync::Arc::new(serde_json::Map::from_iter([("sub".to_owned(), json!("u-1"))])));
        let check = Check::Http(req.clone());
        assert_eq!(input(&check, &d, &secret, Capture::None, &Mask::default()), None);
        let got = input(&check, &d, &secret, Capture::Request, &Mask::default()).unwrap();
        let text = got.to_string();
        for h in &headers[..8] {
            assert!(!text.contains(&format!("{h}-value")), "{h} captured: {text}");
        }
        assert_eq!(got["headers"], json!([["accept", "accept-value"], ["content-type", "application/json"]]));
        assert_eq!((got["credential"].as_str(), got["claims"]["sub"].as_str()), (Some("other"), Some("u-1")));
        assert_eq!(
            (got["target"].as_str(), got["body_omitted"].as_bool()),
            (Some("/x?q=1&access_token=redacted&api_key=redacted#f"), Some(true))
        );
        assert!(!text.contains("eyJ.secret") && !text.contains("k1"), "{text}");
        // With bodies: JSON members that may hold a credential are redacted, at any depth.
        let with_body = input(&check, &d, &secret, Capture::RequestAndBody, &Mask::default()).unwrap();
        let body = base64::engine::general_purpose::STANDARD.decode(with_body["body"].as_str().unwrap()).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"a": 1, "login": {"user": "u", "password": "redacted"}, "refresh_token": "redacted"}));
        // A body whose media type says nothing of what it holds is not kept.
        let mut plain = req;
        plain.headers.retain(|(n, _)| n != "content-type");
        let other = input(&Check::Http(plain), &d, &secret, Capture::RequestAndBody, &Mask::default()).unwrap();
        assert_eq!((other.get("body"), other["body_omitted"].as_bool()), (None, Some(true)));
    }

    #[test]
    fn masked_headers_claims_and_body_members_are_not_written() {
        let mask = Mask {
            headers: vec!["X-Customer-Email".to_owned()],
            claims: vec!["email".to_owned()],
            body: vec!["/card/number".to_owned(), "/nowhere".to_owned()],
        };
        let req = HttpRequest {
            method: "POST".to_owned(),
            target: "/pay".to_owned(),
            headers: vec![
                ("x-customer-email".to_owned(), "ada@example.com".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            body: Some(br#"{"card": {"number": "4111111111111111", "brand": "visa"}, "amount": 5}"#.to_vec()),
            ..HttpRequest::default()
        };
        let mut d = Decision::new(Reason::Allowed, "", None);
        d.claims = Some(std::sync::Arc::new(serde_json::Map::from_iter([
            ("sub".to_owned(), json!("u-1")),
            ("email".to_owned(), json!("ada@example.com")),
        ])));
        let got = input(&Check::Http(req), &d, &[], Capture::RequestAndBody, &mask).unwrap();
        assert!(!got.to_string().contains("ada@example.com"), "{got}");
        assert_eq!((got["claims"]["email"].as_str(), got["claims"]["sub"].as_str()), (Some("redacted"), Some("u-1")));
        assert_eq!(got["headers"], json!([["content-type", "application/json"]]));
        let body = base64::engine::general_purpose::STANDARD.decode(got["body"].as_str().unwrap()).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"card": {"number": "redacted", "brand": "visa"}, "amount": 5}));
    }
}
