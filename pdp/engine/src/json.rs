//! JSON parsing with limits enforced while parsing: depth, string length, array
//! items, object keys, values in all, and duplicate keys. A hostile body (a
//! 100,000-deep array, a million-item list, a megabyte of nested small arrays)
//! is refused as soon as it crosses a limit, before it is built: the parsed
//! tree, which costs tens of bytes per value, stays bounded whatever the body's
//! size. Used for request bodies and token payloads.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Limits for one JSON document (LANGUAGE.md defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLimits {
    /// Deepest nesting of arrays and objects.
    pub depth: usize,
    /// Longest string, in bytes.
    pub string_bytes: usize,
    /// Most items in one array.
    pub array_items: usize,
    /// Most keys in one object.
    pub object_keys: usize,
    /// Most values in the whole document (every scalar, array and object
    /// counts one): bounds the parsed tree's memory and the time to walk it.
    pub values: usize,
}

impl Default for JsonLimits {
    fn default() -> JsonLimits {
        JsonLimits { depth: 32, string_bytes: 64 * 1024, array_items: 10_000, object_keys: 1_000, values: 100_000 }
    }
}

/// Why a document was refused: which limit was crossed, or where the syntax is
/// wrong (serde_json's line and column), never the content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JsonError(String);

impl From<serde_json::Error> for JsonError {
    fn from(e: serde_json::Error) -> JsonError {
        JsonError(e.to_string())
    }
}

/// Parses `bytes` as one JSON value within `limits`. The error says which
/// limit was crossed (or where the syntax is wrong), never the content.
pub fn parse(bytes: &[u8], limits: JsonLimits) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // serde_json's own recursion guard stays on (128); ours is tighter.
    let left = Cell::new(limits.values);
    let value = Seed { limits, depth: 0, left: &left }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct Seed<'l> {
    limits: JsonLimits,
    depth: usize,
    /// Values the document may still hold.
    left: &'l Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.left.get().checked_sub(1) {
            Some(n) => self.left.set(n),
            None => {
                return Err(de::Error::custom(format!("the document holds more than {} values", self.limits.values)));
            }
        }
        deserializer.deserialize_any(self)
    }
}

impl<'l> Seed<'l> {
    fn string<E: de::Error>(self, s: &str) -> Result<Value, E> {
        if s.len() > self.limits.string_bytes {
            return Err(E::custom(format!("a string is longer than {} bytes", self.limits.string_bytes)));
        }
        Ok(Value::String(s.to_owned()))
    }

    fn nested<E: de::Error>(self) -> Result<Seed<'l>, E> {
        if self.depth >= self.limits.depth {
            return Err(E::custom(format!("nesting is deeper than {}", self.limits.depth)));
        }
        Ok(Seed { limits: self.limits, depth: self.depth + 1, left: self.left })
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Value, E> {
        self.string(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.string(&v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(inner)? {
            if items.len() >= self.limits.array_items {
                return Err(de::Error::custom(format!("an array has more than {} items", self.limits.array_items)));
            }
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.nested()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.len() > self.limits.string_bytes {
                return Err(de::Error::custom(format!("a key is longer than {} bytes", self.limits.string_bytes)));
            }
            if out.len() >= self.limits.object_keys {
                return Err(de::Error::custom(format!("an object has more than {} keys", self.limits.object_keys)));
            }
            if out.contains_key(&key) {
                // Parsers disagree on which duplicate wins: refuse the ambiguity.
                return Err(de::Error::custom("an object has the same key twice"));
            }
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ordinary_documents_parse() {
        let v = parse(br#"{"a": [1, -2, 3.5, "x", true, null, {"b": {}}]}"#, JsonLimits::default()).unwrap();
        assert_eq!(v, json!({"a": [1, -2, 3.5, "x", true, null, {"b": {}}]}));
    }

    #[test]
    fn a_deep_bomb_is_refused_without_building_it() {
        let bomb = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let err = parse(bomb.as_bytes(), JsonLimits::default()).unwrap_err().to_string();
        assert!(err.contains("nesting is deeper than 32"), "{err}");
        let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
        assert!(parse(ok.as_bytes(), JsonLimits::default()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
        assert!(parse(too_deep.as_bytes(), JsonLimits::default()).is_err());
    }

    #[test]
    fn sizes_and_counts_are_bounded() {
        let limits = JsonLimits::default();
        let long = format!("\"{}\"", "a".repeat(64 * 1024 + 1));
        assert!(parse(long.as_bytes(), limits).unwrap_err().to_string().contains("longer than 65536"));
        let many = format!("[{}]", vec!["0"; 10_001].join(","));
        assert!(parse(many.as_bytes(), limits).unwrap_err().to_string().contains("more than 10000 items"));
        let keys: Vec<String> = (0..1_001).map(|i| format!("\"k{i}\": 0")).collect();
        let wide = format!("{{{}}}", keys.join(","));
        assert!(parse(wide.as_bytes(), limits).unwrap_err().to_string().contains("more than 1000 keys"));
    }

    #[test]
    fn values_in_all_are_bounded() {
        // A megabyte of small nested arrays: within every per-array limit, but
        // a tree of hundreds of thousands of values is never built.
        let inner = format!("[{}]", vec!["0"; 5_000].join(","));
        let doc = format!("[{}]", vec![inner.as_str(); 100].join(","));
        let err = parse(doc.as_bytes(), JsonLimits::default()).unwrap_err().to_string();
        assert!(err.contains("more than 100000 values"), "{err}");
        let limits = JsonLimits { values: 3, ..JsonLimits::default() };
        assert_eq!(parse(b"[1,2]", limits).unwrap(), json!([1, 2]));
        assert!(parse(b"[1,2,3]", limits).is_err());
        assert!(parse(b"{\"a\": {\"b\": 1}}", limits).is_ok());
        assert!(parse(b"{\"a\": {\"b\": [1]}}", limits).is_err());
    }

    #[test]
    fn duplicate_keys_and_trailing_data_are_refused() {
        assert!(
            parse(br#"{"sub": "a", "sub": "b"}"#, JsonLimits::default())
                .unwrap_err()
                .to_string()
                .contains("same key twice")
        );
        assert!(parse(br#"{"a": 1} {"b": 2}"#, JsonLimits::default()).is_err());
        assert!(parse(b"", JsonLimits::default()).is_err());
    }
}
