//! "Did you mean" suggestions: edit distance, and the closest keyword a syntax error expected.

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// "did you mean" for a misspelt keyword.
pub(crate) fn keyword_suggestion(rest: &str, expected: &[&str]) -> Option<String> {
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    if word.is_empty() {
        return None;
    }
    let wanted = |kw: &str| expected.iter().any(|e| e.contains(&format!("`{kw}`")));
    let best = crate::keywords::KEYWORDS
        .iter()
        .filter(|kw| wanted(kw))
        .map(|kw| (edit_distance(kw, &word), *kw))
        .filter(|(d, kw)| *d > 0 && *d <= 2.min(kw.len() / 2 + 1))
        .min();
    best.map(|(_, kw)| format!("did you mean `{kw}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("allow", "alow"), 1);
        assert_eq!(edit_distance("zone", "zone"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
