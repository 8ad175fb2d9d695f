//! Body schema validation against the graph's schemas: the first violation is
//! reported with its JSON pointer (RFC 6901), as decisions put it in `detail`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde_json::Value;
use warden_compiler::graph::{Format, SchemaType};

use super::eval::Prepared;

/// A schema violation: where (JSON pointer) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer to the offending value (`""` is the whole body).
    pub pointer: String,
    /// What is wrong, without the offending value (it may be sensitive).
    pub message: String,
}

/// Checks `value` against schema `schema` of the prepared graph.
pub fn validate(p: &Prepared, schema: u32, value: &Value) -> Result<(), Violation> {
    let mut pointer = String::new();
    object(p, schema, value, &mut pointer, 0)
}

fn fail<T>(pointer: &str, message: impl Into<String>) -> Result<T, Violation> {
    Err(Violation { pointer: pointer.to_owned(), message: message.into() })
}

/// Appends one reference token to a JSON pointer (`~` → `~0`, `/` → `~1`).
fn push_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
}

fn object(p: &Prepared, schema: u32, value: &Value, pointer: &mut String, depth: usize) -> Result<(), Violation> {
    // Bodies nest at most 32 levels (JSON limits); this only guards hand-made graphs.
    if depth > 64 {
        return fail(pointer, "the value nests too deeply");
    }
    let Some(s) = p.graph.schemas.get(schema as usize) else {
        return fail(pointer, "unknown schema");
    };
    let Value::Object(map) = value else {
        return fail(pointer, format!("expected an object (schema `{}`)", s.name));
    };
    for field in &s.fields {
        let len = pointer.len();
        push_token(pointer, &field.name);
        match map.get(&field.name) {
            None if field.optional => {}
            None => return fail(pointer, format!("required field `{}` is missing", field.name)),
            Some(v) => check(p, &field.ty, v, pointer, depth + 1)?,
        }
        pointer.truncate(len);
    }
    if !s.open
        && let Some(extra) = map.keys().find(|k| !s.fields.iter().any(|f| &f.name == *k))
    {
        let len = pointer.len();
        push_token(pointer, extra);
        let r = fail(pointer, format!("field `{extra}` is not in schema `{}`", s.name));
        pointer.truncate(len);
        return r;
    }
    Ok(())
}

fn check(p: &Prepared, ty: &SchemaType, value: &Value, pointer: &mut String, depth: usize) -> Result<(), Violation> {
    match ty {
        SchemaType::Any => Ok(()),
        SchemaType::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => fail(pointer, "expected a boolean"),
        },
        SchemaType::Integer { min, max } | SchemaType::Number { min, max } => {
            let Some(n) = value.as_f64() else { return fail(pointer, "expected a number") };
            if matches!(ty, SchemaType::Integer { .. }) && n.fract() != 0.0 {
                return fail(pointer, "expected a whole number");
            }
            if let Some(min) = min
                && n < *min
            {
                return fail(pointer, format!("must be at least {min}"));
            }
            if let Some(max) = max
                && n > *max
            {
                return fail(pointer, format!("must be at most {max}"));
            }
            Ok(())
        }
        SchemaType::Enum(values) => match value {
            Value::String(s) if values.iter().any(|v| v == s) => Ok(()),
            _ => fail(
                pointer,
                format!("must be one of {}", values.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")),
            ),
        },
        SchemaType::String { min_len, max_len, pattern, format } => {
            let Value::String(s) = value else { return fail(pointer, "expected a string") };
            let chars = s.chars().count() as u64;
            if min_len.is_some_and(|m| chars < m) {
                return fail(pointer, format!("must be at least {} characters", min_len.unwrap_or(0)));
            }
            if max_len.is_some_and(|m| chars > m) {
                return fail(pointer, format!("must be at most {} characters", max_len.unwrap_or(0)));
            }
            if let Some(re) = pattern.and_then(|i| p.regex(i))
                && !re.is_match(s)
            {
                return fail(pointer, "does not match the required pattern");
            }
            if let Some(f) = format
                && !format_ok(*f, s)
            {
                return fail(pointer, format!("is not a valid {}", f.as_str()));
            }
            Ok(())
        }
        SchemaType::Array { items, min_items, max_items } => {
            let Value::Array(list) = value else { return fail(pointer, "expected a list") };
            let n = list.len() as u64;
            if min_items.is_some_and(|m| n < m) {
                return fail(pointer, format!("needs at least {} items", min_items.unwrap_or(0)));
            }
            if max_items.is_some_and(|m| n > m) {
                return fail(pointer, format!("may have at most {} items", max_items.unwrap_or(0)));
            }
            for (i, item) in list.iter().enumerate() {
                let len = pointer.len();
                push_token(pointer, &i.to_string());
                check(p, items, item, pointer, depth + 1)?;
                pointer.truncate(len);
            }
            Ok(())
        }
        SchemaType::Ref(schema) => object(p, *schema, value, pointer, depth + 1),
    }
}

/// The string formats of LANGUAGE.md, each checked by a maintained parser.
fn format_ok(format: Format, s: &str) -> bool {
    match format {
        Format::Email => email_address::EmailAddress::from_str(s).is_ok(),
        Format::Uuid => uuid::Uuid::try_parse(s).is_ok(),
        Format::Uri => url::Url::parse(s).is_ok(),
        Format::Date => {
            time::Date::parse(s, &time::format_description::well_known::Iso8601::DATE).is_ok() && s.len() == 10
        }
        Format::DateTime => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok(),
        Format::Ipv4 => Ipv4Addr::from_str(s).is_ok(),
        Format::Ipv6 => Ipv6Addr::from_str(s).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn prepared() -> Prepared {
        let text = r#"schema Transfer {
  from_account: string pattern "^[0-9]{10}$"
  amount: number min 0.01 max 100000
  currency: enum "EUR", "USD"
  memo?: string max_len 5
  tags?: [string max_len 3] max_items 2
  payee: Payee
}

schema Payee {
  email: string format email
  "a/b~c"?: integer
  at?: string format date-time
  id?: string format uuid
}

zone z {
  require tls
}

api a in zone z {
  auth none
  route POST "/t" {
    body json Transfer
    allow
  }
}
"#;
        crate::test_support::prepare(text)
    }

    fn good() -> Value {
        json!({"from_account": "0123456789", "amount": 10.5, "currency": "EUR", "payee": {"email": "a@example.org"}})
    }

    fn first_violation(mutate: impl FnOnce(&mut Value)) -> Option<Violation> {
        let p = prepared();
        let mut v = good();
        mutate(&mut v);
        validate(&p, 0, &v).err()
    }

    #[test]
    fn a_valid_body_passes() {
        assert_eq!(first_violation(|_| {}), None);
        assert_eq!(first_violation(|v| v["payee"]["at"] = json!("2026-11-23T10:00:00Z")), None);
        assert_eq!(first_violation(|v| v["tags"] = json!(["a", "bc"])), None);
    }

    #[test]
    fn the_first_violation_is_reported_with_its_pointer() {
        let at = |m: fn(&mut Value)| first_violation(m).map(|v| (v.pointer, v.message));
        assert_eq!(at(|v| v["from_account"] = json!("12")).unwrap().0, "/from_account");
        assert_eq!(at(|v| v["amount"] = json!(0)).unwrap(), ("/amount".to_owned(), "must be at least 0.01".to_owned()));
        assert_eq!(at(|v| v["currency"] = json!("GBP")).unwrap().0, "/currency");
        assert_eq!(at(|v| v["memo"] = json!("too long")).unwrap().0, "/memo");
        assert_eq!(at(|v| v["tags"] = json!(["ok", "long"])).unwrap().0, "/tags/1");
        assert_eq!(at(|v| v["tags"] = json!(["a", "b", "c"])).unwrap().0, "/tags");
        assert_eq!(
            at(|v| v["payee"]["email"] = json!("not-an-email")).unwrap(),
            ("/payee/email".to_owned(), "is not a valid email".to_owned())
        );
        assert_eq!(at(|v| v["payee"]["a/b~c"] = json!(1.5)).unwrap().0, "/payee/a~1b~0c");
        assert_eq!(at(|v| v["payee"]["id"] = json!("xyz")).unwrap().0, "/payee/id");
        assert_eq!(at(|v| v["payee"]["at"] = json!("yesterday")).unwrap().0, "/payee/at");
        assert_eq!(
            at(|v| {
                v.as_object_mut().unwrap().remove("payee");
            })
            .unwrap(),
            ("/payee".to_owned(), "required field `payee` is missing".to_owned())
        );
        assert_eq!(
            at(|v| v["admin"] = json!(true)).unwrap(),
            ("/admin".to_owned(), "field `admin` is not in schema `Transfer`".to_owned())
        );
        assert_eq!(at(|v| *v = json!([])).unwrap().0, "");
    }
}
