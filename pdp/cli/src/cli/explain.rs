//! `warden explain CODE`: the explanation page of a diagnostic code or lint,
//! the same text as the book's `docs/reference/diagnostics/CODE.md`.

use super::out::{errln, out, outln};

/// Every page, `(code, text)` sorted by code (written by `build.rs`).
const PAGES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/explanations.rs"));

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The code, such as `E0209` or `W0306` (case does not matter).
    #[arg(required_unless_present = "list")]
    code: Option<String>,
    /// List every code with its title instead.
    #[arg(long, conflicts_with = "code")]
    list: bool,
}

/// The page of `code`, if there is one.
pub fn page(code: &str) -> Option<&'static str> {
    PAGES.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)).map(|(_, text)| *text)
}

/// Exit 0 with the page, 2 for a code that has none.
pub fn run(args: &Args) -> u8 {
    if args.list {
        for (_, text) in PAGES {
            outln!("{}", text.lines().next().unwrap_or("").trim_start_matches("# "));
        }
        return 0;
    }
    let code = args.code.as_deref().unwrap_or("");
    match page(code) {
        Some(text) => {
            out!("{text}");
            0
        }
        None => {
            errln!("error: no diagnostic `{code}`: `warden explain --list` lists every code");
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_found_whatever_the_case_and_only_for_its_code() {
        assert!(PAGES.len() >= 76, "{} pages", PAGES.len());
        let (code, text) = PAGES[0];
        assert_eq!(page(&code.to_lowercase()), Some(text));
        assert!(text.starts_with(&format!("# {code}: ")));
        assert_eq!(page("E9999"), None);
        assert_eq!(page(""), None);
    }
}
