//! Request path normalisation, done once before route matching.
//!
//! The rules (docs/engine.md): the query and fragment are cut off; the path
//! must start with `/`; empty segments are dropped (so `//a///b/` is `/a/b`);
//! each segment is percent-decoded as UTF-8. A path is refused (no route can
//! match it) when a decoded segment is `.` or `..`, or holds `/`, `\` or a
//! control character, or when a percent escape or the UTF-8 is invalid. So
//! `/v1/%2e%2e/admin`, `/v1/a%2Fb` and `/v1/a%00` never reach a route, and
//! `/v1/accounts/42` and `/v1//accounts/42/` reach the same one.
//!
//! Path parameters: Tomcat, Jetty and Spring cut a segment at its first `;`
//! (`..;jsessionid=1` is `..` to them) and so serve `/public/..;/admin` as
//! `/admin`. A segment whose part before the first `;` (raw or encoded as
//! `%3b`) decodes to `.` or `..` is therefore refused like `..` itself. Any
//! other `;` is kept as literal text of its segment: `/files/a;b` has the
//! segment `a;b`, which no literal route segment `a` matches.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use smallvec::SmallVec;

/// A path's segments: inline up to 8, which covers the usual paths (and
/// keeps the value small to move).
pub type Segments<'a> = SmallVec<[Cow<'a, str>; 8]>;

/// Why a path cannot be matched against routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A percent escape is malformed or decodes to invalid UTF-8.
    BadEncoding,
    /// A segment is `.` or `..` (also before a `;`, as in `..;x`), or holds `/`,
    /// `\` or a control character once decoded.
    Forbidden,
}

impl PathError {
    /// A short explanation for a decision's `detail`.
    pub fn describe(self) -> &'static str {
        match self {
            PathError::NotAbsolute => "the request path does not start with `/`",
            PathError::BadEncoding => "the request path has an invalid percent-encoding",
            PathError::Forbidden => "the request path has a `.`/`..` segment or an encoded separator",
        }
    }
}

/// A normalised path: decoded segments and the raw query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalPath<'a> {
    /// Decoded, non-empty segments (borrowed when nothing needed decoding).
    pub segments: Segments<'a>,
    /// The text after `?` (without the fragment), if any.
    pub query: Option<&'a str>,
    /// The path as received (before `?`).
    pub raw: &'a str,
}

impl<'a> NormalPath<'a> {
    /// The canonical path: `/` and the segments joined by `/`. Borrowed from
    /// the request when it is already canonical (nothing decoded, no empty
    /// segment, no trailing `/`), which is the common case.
    pub fn canonical(&self) -> Cow<'a, str> {
        // The segments are non-empty slices of `raw` in order, each after at
        // least one `/`: with nothing decoded, `raw` is canonical exactly when
        // it is one `/` per segment longer than they are.
        let all_raw = self.segments.iter().all(|s| matches!(s, Cow::Borrowed(_)));
        let joined = self.segments.iter().map(|s| s.len() + 1).sum::<usize>().max(1);
        if all_raw && self.raw.len() == joined {
            return Cow::Borrowed(self.raw);
        }
        if self.segments.is_empty() { Cow::Borrowed("/") } else { Cow::Owned(format!("/{}", self.segments.join("/"))) }
    }
}

/// Normalises a request target (`/path?query#fragment`).
pub fn normalise(target: &str) -> Result<NormalPath<'_>, PathError> {
    // One pass over the bytes: where the path ends, then each segment and what
    // it holds, so a segment with nothing to decode or refuse is borrowed as is.
    let (path, query) = match target.bytes().position(|b| b == b'?' || b == b'#') {
        Some(i) if target.as_bytes().get(i) == Some(&b'?') => {
            let after = target.get(i + 1..).unwrap_or("");
            let query = after.bytes().position(|b| b == b'#').and_then(|j| after.get(..j)).unwrap_or(after);
            (target.get(..i).unwrap_or(""), Some(query))
        }
        Some(i) => (target.get(..i).unwrap_or(""), None),
        None => (target, None),
    };
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute);
    }
    let mut segments = Segments::new();
    let mut start = 0;
    let (mut escaped, mut refused, mut wide) = (false, false, false);
    let bytes = path.as_bytes();
    for i in 0..=bytes.len() {
        match bytes.get(i) {
            Some(b'/') | None => {
                if i > start {
                    let raw = path.get(start..i).unwrap_or("");
                    segments.push(segment(raw, escaped, refused, wide)?);
                }
                start = i + 1;
                (escaped, refused, wide) = (false, false, false);
            }
            Some(&b) => {
                escaped |= b == b'%';
                refused |= b == b'\\' || b < 0x20 || b == 0x7f;
                wide |= b >= 0x80;
            }
        }
    }
    Ok(NormalPath { segments, query, raw: path })
}

/// One raw segment, decoded and checked; `escaped`, `refused` and `wide` say
/// whether it holds a `%`, a `\` or an ASCII control character, and non-ASCII text.
fn segment(raw: &str, escaped: bool, refused: bool, wide: bool) -> Result<Cow<'_, str>, PathError> {
    if escaped {
        if !valid_escapes(raw) {
            return Err(PathError::BadEncoding);
        }
        let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| PathError::BadEncoding)?;
        if is_dot_segment(&decoded) || forbidden_char(&decoded) {
            return Err(PathError::Forbidden);
        }
        return Ok(decoded);
    }
    // Nothing to decode, and the text is UTF-8 already.
    if refused || (wide && raw.chars().any(char::is_control)) || (raw.starts_with('.') && is_dot_segment(raw)) {
        return Err(PathError::Forbidden);
    }
    Ok(Cow::Borrowed(raw))
}

/// `.` or `..`, alone or before a path parameter (`..;x`, `.;`): servlet
/// containers drop everything from the first `;` of a segment before they
/// resolve dot segments, so these are traversal to the service behind.
fn is_dot_segment(decoded: &str) -> bool {
    let name = decoded.split_once(';').map_or(decoded, |(before, _)| before);
    name == "." || name == ".."
}

/// `/`, `\` or a control character (C0, DEL or C1), looked for byte by byte
/// in ASCII text.
fn forbidden_char(decoded: &str) -> bool {
    let ascii_bad = |b: u8| b == b'/' || b == b'\\' || b < 0x20 || b == 0x7f;
    decoded.bytes().any(ascii_bad) || (!decoded.is_ascii() && decoded.chars().any(char::is_control))
}

/// Every `%` is followed by two hex digits.
fn valid_escapes(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !ok {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(target: &str) -> Vec<String> {
        normalise(target).unwrap().segments.into_iter().map(Cow::into_owned).collect()
    }

    #[test]
    fn equivalent_spellings_normalise_alike() {
        let want = vec!["v1".to_owned(), "accounts".to_owned(), "42".to_owned()];
        for t in ["/v1/accounts/42", "//v1//accounts/42/", "/v1/accounts/42?view=full", "/v1/acc%6Funts/%34%32#frag"] {
            assert_eq!(segs(t), want, "{t}");
        }
        // Non-ASCII text, raw or encoded, is the same segment.
        assert_eq!(segs("/v1/café"), segs("/v1/caf%C3%A9"));
        assert_eq!(segs("/v1/café"), ["v1", "café"]);
        assert_eq!(normalise("/").unwrap().canonical(), "/");
        assert_eq!(normalise("/a?x=1&y=2").unwrap().query, Some("x=1&y=2"));
        // The query ends at the fragment; a `?` inside the fragment starts none.
        for (t, query) in [("/a?x#y", Some("x")), ("/a#x?y", None), ("/a?x?y#z?w", Some("x?y")), ("/a?", Some(""))] {
            let p = normalise(t).unwrap();
            assert_eq!((p.raw, p.query), ("/a", query), "{t}");
        }
        for t in ["/v1/accounts/42", "//v1//accounts/42/", "/v1/accounts/42?view=full", "/v1/acc%6Funts/%34%32#frag"] {
            assert_eq!(normalise(t).unwrap().canonical(), "/v1/accounts/42", "{t}");
        }
    }

    #[test]
    fn a_canonical_path_is_borrowed_and_any_other_is_rebuilt() {
        for (t, want, borrowed) in [
            ("/", "/", true),
            ("/a/b", "/a/b", true),
            ("/a/b?q=1", "/a/b", true),
            ("//", "/", true),
            ("/a/b/", "/a/b", false),
            ("//a/b", "/a/b", false),
            ("/a//b", "/a/b", false),
            ("/a/%62", "/a/b", false),
        ] {
            let c = normalise(t).unwrap().canonical();
            assert_eq!(c, want, "{t}");
            assert_eq!(matches!(c, Cow::Borrowed(_)), borrowed, "{t}");
        }
    }

    #[test]
    fn traversal_and_encoded_separators_are_refused() {
        for t in [
            "/v1/../admin",
            "/v1/./x",
            "/v1/%2e%2e/admin",
            "/v1/%2E/x",
            "/v1/a%2Fb",
            "/v1/a%2fb",
            "/v1/a%5Cb",
            "/v1/a\\b",
            "/v1/a%00",
            "/v1/%0a",
            "/v1/a\u{7f}",
            "/v1/a%7F",
            "/v1/a\u{85}b",
            "/v1/a%C2%85b",
            "/v1/\tx",
        ] {
            assert_eq!(normalise(t), Err(PathError::Forbidden), "{t}");
        }
    }

    #[test]
    fn dot_segments_with_path_parameters_are_refused() {
        for t in [
            "/public/..;/admin",
            "/public/..;jsessionid=1/admin",
            "/public/.;/admin",
            "/public/%2e%2e%3b/admin",
            "/public/%2e%2e;x/admin",
            "/public/%2E%2e%3B/admin",
            "/public/.%2e;/admin",
            "/public/..;",
        ] {
            assert_eq!(normalise(t), Err(PathError::Forbidden), "{t}");
        }
    }

    #[test]
    fn other_semicolons_are_literal_text() {
        assert_eq!(segs("/files/a;b/x"), ["files", "a;b", "x"]);
        assert_eq!(segs("/files/...;x"), ["files", "...;x"]);
        assert_eq!(segs("/files/;x"), ["files", ";x"]);
        assert_eq!(segs("/files/x..;"), ["files", "x..;"]);
        assert_eq!(segs("/files/a%3Bb"), ["files", "a;b"]);
    }

    #[test]
    fn malformed_targets_are_refused() {
        assert_eq!(normalise("v1/x"), Err(PathError::NotAbsolute));
        assert_eq!(normalise(""), Err(PathError::NotAbsolute));
        assert_eq!(normalise("/v1/%zz"), Err(PathError::BadEncoding));
        assert_eq!(normalise("/v1/%4"), Err(PathError::BadEncoding));
        assert_eq!(normalise("/v1/%ff%fe"), Err(PathError::BadEncoding));
        // Double encoding decodes once: `%252e%252e` is the literal text `%2e%2e`, not `..`.
        assert_eq!(segs("/v1/%252e%252e"), ["v1", "%2e%2e"]);
    }
}
