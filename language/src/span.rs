//! Byte spans into a policy file and the line index that turns them into line:column.

use serde::{Serialize, Serializer};

/// A half-open byte range `start..end` into one policy file's text.
///
/// Spans compare equal only when both ends match; tests that compare ASTs
/// "up to spans" serialise the AST and drop the span fields instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: u32,
    /// Byte offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from byte offsets; offsets past `u32::MAX` saturate (files that
    /// large are refused before parsing).
    pub fn new(start: usize, end: usize) -> Span {
        let clamp = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Span { start: clamp(start), end: clamp(end.max(start)) }
    }

    /// An empty span at one offset.
    pub fn at(offset: usize) -> Span {
        Span::new(offset, offset)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    /// Start offset as `usize`.
    pub fn start(self) -> usize {
        self.start as usize
    }

    /// End offset as `usize`.
    pub fn end(self) -> usize {
        self.end as usize
    }

    /// The text this span covers, or `""` when it does not fit the source.
    pub fn text(self, source: &str) -> &str {
        source.get(self.start()..self.end()).unwrap_or("")
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}..{}", self.start, self.end))
    }
}

/// Maps byte offsets of one file to 1-based line and column numbers.
///
/// Columns count characters (not bytes), so a caret lines up under
/// non-ASCII text in a terminal that shows one cell per character.
#[derive(Clone, Debug)]
pub struct LineIndex {
    line_starts: Vec<usize>,
    len: usize,
}

/// A 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LineCol {
    /// Line number, from 1.
    pub line: usize,
    /// Column number in characters, from 1.
    pub column: usize,
}

impl LineIndex {
    /// Index the line starts of `source`.
    pub fn new(source: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(source.bytes().enumerate().filter(|&(_, b)| b == b'\n').map(|(i, _)| i + 1));
        LineIndex { line_starts, len: source.len() }
    }

    /// The 0-based line that holds `offset`.
    pub fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.len);
        match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next.saturating_sub(1),
        }
    }

    /// The byte range of 0-based `line`, without its line terminator.
    pub fn line_range(&self, line: usize, source: &str) -> (usize, usize) {
        let start = self.line_starts.get(line).copied().unwrap_or(self.len);
        let mut end = self.line_starts.get(line + 1).map(|next| next.saturating_sub(1)).unwrap_or(self.len);
        if end > start && source.as_bytes().get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        (start, end.max(start))
    }

    /// Number of lines (a file without newline has one).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 1-based line and character column of `offset` in `source`.
    pub fn line_col(&self, source: &str, offset: usize) -> LineCol {
        let line = self.line_of(offset);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = source.get(start..offset.min(source.len())).map(|prefix| prefix.chars().count()).unwrap_or(0);
        LineCol { line: line + 1, column: column + 1 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let src = "ab\néé x\n";
        let index = LineIndex::new(src);
        assert_eq!(index.line_col(src, 0), LineCol { line: 1, column: 1 });
        assert_eq!(index.line_col(src, 3), LineCol { line: 2, column: 1 });
        // `x` sits after two two-byte characters and a space.
        let x = src.find('x').unwrap();
        assert_eq!(index.line_col(src, x), LineCol { line: 2, column: 4 });
        assert_eq!(index.line_range(1, src), (3, 3 + "éé x".len()));
    }

    #[test]
    fn crlf_is_not_part_of_the_line() {
        let src = "a\r\nb";
        let index = LineIndex::new(src);
        assert_eq!(index.line_range(0, src), (0, 1));
        assert_eq!(index.line_col(src, 3), LineCol { line: 2, column: 1 });
    }
}
