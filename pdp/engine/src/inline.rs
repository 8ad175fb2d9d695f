//! Short text held inline, without a heap allocation: a decision's id and a
//! request's source address as text.

use std::fmt;

/// At most `N` bytes of UTF-8, on the stack. Writing more than fits is an
/// error of `fmt::Write` (the text keeps what fitted before that write).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineStr<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> InlineStr<N> {
    /// Empty.
    pub const fn new() -> InlineStr<N> {
        InlineStr { buf: [0; N], len: 0 }
    }

    /// Empties it (the bytes stay; only whole `&str`s are copied in).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this is always UTF-8.
        self.buf.get(..self.len).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }

    /// `v` in lower-case hex, at least `width` digits (zero-padded), as
    /// `{v:0width$x}` writes it.
    pub fn push_hex(&mut self, v: u64, width: usize) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let needed = (64 - v.leading_zeros()).div_ceil(4).max(1) as usize;
        let mut digits = [0u8; 16];
        let n = needed.max(width).min(16);
        for (i, d) in digits.iter_mut().take(n).enumerate() {
            let shift = 4 * (n - 1 - i);
            *d = DIGITS.get(((v >> shift) & 0xf) as usize).copied().unwrap_or(b'0');
        }
        self.push_ascii(digits.get(..n).unwrap_or_default())
    }

    /// Copies ASCII bytes in (anything else is an error): no UTF-8 check needed.
    fn push_ascii(&mut self, bytes: &[u8]) -> fmt::Result {
        if !bytes.is_ascii() {
            return Err(fmt::Error);
        }
        let end = self.len.checked_add(bytes.len()).ok_or(fmt::Error)?;
        self.buf.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> InlineStr<N> {
    /// An address as its `Display` writes it; an IPv4 address (the usual
    /// source) without the formatting machinery.
    pub fn push_ip(&mut self, ip: std::net::IpAddr) -> fmt::Result {
        let std::net::IpAddr::V4(v4) = ip else { return fmt::Write::write_fmt(self, format_args!("{ip}")) };
        let mut text = [0u8; 15];
        let mut len = 0;
        let mut put = |b: u8| {
            if let Some(slot) = text.get_mut(len) {
                *slot = b;
                len += 1;
            }
        };
        for (i, octet) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                put(b'.');
            }
            if octet >= 100 {
                put(b'0' + octet / 100);
            }
            if octet >= 10 {
                put(b'0' + octet / 10 % 10);
            }
            put(b'0' + octet % 10);
        }
        self.push_ascii(text.get(..len).unwrap_or_default())
    }
}

impl<const N: usize> Default for InlineStr<N> {
    fn default() -> InlineStr<N> {
        InlineStr::new()
    }
}

impl<const N: usize> fmt::Write for InlineStr<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        let slot = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> std::ops::Deref for InlineStr<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> serde::Serialize for InlineStr<N> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<const N: usize> PartialEq<str> for InlineStr<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for InlineStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::InlineStr;

    #[test]
    fn hex_is_what_format_writes() {
        for (v, width) in [(0u64, 8usize), (1, 12), (0xdead_beef, 8), (0x1_0000_0000, 8), (42, 12), (u64::MAX, 8)] {
            let mut s = InlineStr::<32>::new();
            assert!(s.push_hex(v, width).is_ok());
            assert_eq!(s.as_str(), format!("{v:0width$x}"));
        }
    }

    #[test]
    fn addresses_are_what_display_writes() {
        let named =
            ["198.51.100.7", "::", "2001:db8::1", "::ffff:192.0.2.1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"];
        // Every octet value in every position of an IPv4 address.
        let octets = (0..=255u8).map(|o| std::net::IpAddr::from([o, 255 - o, o / 2, o.wrapping_mul(7)]));
        let all = named.iter().map(|t| t.parse::<std::net::IpAddr>().unwrap_or(std::net::IpAddr::from([0; 4])));
        for ip in all.chain(octets) {
            let mut s = InlineStr::<48>::new();
            assert!(write!(s, "{ip}").is_ok());
            assert_eq!(s.as_str(), ip.to_string());
            let mut fast = InlineStr::<48>::new();
            assert!(fast.push_ip(ip).is_ok());
            assert_eq!(fast.as_str(), ip.to_string());
        }
    }

    #[test]
    fn text_that_does_not_fit_is_an_error_and_keeps_what_fitted() {
        let mut s = InlineStr::<4>::new();
        assert!(s.write_str("abc").is_ok());
        assert!(s.write_str("de").is_err());
        assert_eq!(s.as_str(), "abc");
        assert_eq!(format!("{s:?}"), "\"abc\"");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"abc\""));
    }
}
