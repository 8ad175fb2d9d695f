//! JSON string escapes of policy string literals, decoded with the position of a bad one.

/// Decodes JSON string escapes; on failure, the byte offset, length and message.
pub(super) fn unescape(inner: &str) -> Result<String, (usize, usize, String)> {
    if !inner.contains('\\') {
        return Ok(inner.to_owned());
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else {
            return Err((at, 1, "a string cannot end with `\\`".to_owned()));
        };
        match e {
            '"' => out.push('"'),
            '\\' => out.push('\\'),
            '/' => out.push('/'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let hex = |from: usize| -> Option<u32> {
                    let digits = inner.get(from..from + 4)?;
                    if digits.chars().all(|c| c.is_ascii_hexdigit()) {
                        u32::from_str_radix(digits, 16).ok()
                    } else {
                        None
                    }
                };
                let bad = |len| (at, len, "`\\u` needs four hex digits naming a character".to_owned());
                let first = hex(at + 2).ok_or_else(|| bad(2))?;
                for _ in 0..4 {
                    chars.next();
                }
                let code = if (0xD800..0xDC00).contains(&first) {
                    // A high surrogate must be followed by `\uDC00`–`\uDFFF`.
                    let low = if inner.get(at + 6..at + 8) == Some("\\u") { hex(at + 8) } else { None };
                    match low {
                        Some(low) if (0xDC00..0xE000).contains(&low) => {
                            for _ in 0..6 {
                                chars.next();
                            }
                            0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                        }
                        _ => return Err((at, 6, "unpaired surrogate in `\\u` escape".to_owned())),
                    }
                } else {
                    first
                };
                match char::from_u32(code) {
                    Some(ch) => out.push(ch),
                    None => return Err((at, 6, "unpaired surrogate in `\\u` escape".to_owned())),
                }
            }
            other => {
                return Err((at, 1 + other.len_utf8(), format!("unknown escape `\\{other}`")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_handles_json_escapes() {
        assert_eq!(unescape(r#"a\"b\\c\/\n\u0041"#).unwrap(), "a\"b\\c/\nA");
        assert_eq!(unescape(r"\ud83d\ude00").unwrap(), "😀");
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\u12").is_err());
        assert!(unescape(r"\ud83d").is_err());
    }
}
