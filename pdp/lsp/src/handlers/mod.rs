//! The request handlers of `warden lsp`, one file per feature; each takes the open
//! documents and the request's parameters and returns the answer (`None` for nothing).

mod code_actions;
mod completion;
mod formatting;
mod hover;
mod navigation;
mod symbols;

pub(crate) use code_actions::code_actions;
pub(crate) use completion::completion;
pub(crate) use formatting::formatting;
pub(crate) use hover::hover;
pub(crate) use navigation::{definition, prepare_rename, references, rename};
pub(crate) use symbols::symbols;

/// The dotted names before a trailing `.` (`… body.payee.` → `["body", "payee"]`).
fn dotted_chain(before: &str) -> Option<Vec<&str>> {
    let before = before.strip_suffix('.')?;
    let start = before
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let chain = before.get(start..)?;
    (!chain.is_empty()).then(|| chain.split('.').collect())
}
