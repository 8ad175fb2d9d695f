//! `warden lsp` (`warden-lsp`): a language server on stdio (JSON-RPC, `lsp-server`) over the compiler crate:
//! diagnostics for the whole policy set on open/change/save, formatting, hover (doc
//! comments of names, the type of a `body.x` field, what a diagnostic's code means), go to
//! definition, find references, the outline ([`nav`]) and completion of keywords, declared
//! names, attribute roots, route parameters after `path.` and schema fields after `body.`.
//!
//! The server is synchronous and keeps only the text of open documents
//! ([`documents`]); every change re-reads the policy set the document belongs
//! to (open buffers override the files on disk) and runs the same checks and
//! lints as `warden lint` ([`diagnostics`]). Nothing reachable from a client
//! message panics: a request with bad parameters gets an `InvalidParams`
//! error, a notification with bad parameters is ignored ([`main_loop`]), and
//! a message that is not JSON-RPC is skipped ([`transport`]). Requests are
//! answered in [`handlers`]; positions and ranges are converted in
//! [`from_proto`] and [`to_proto`] (LSP counts UTF-16 units, Warden bytes).

use lsp_types::{
    SaveOptions, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions,
};

mod diagnostics;
mod documents;
mod from_proto;
mod handlers;
mod main_loop;
mod nav;
mod to_proto;
mod transport;

/// Serves one client over stdin and stdout until it says `exit` (or closes
/// stdin); `false` when the session could not start or ended in error.
pub fn run() -> bool {
    let (connection, reader, writer) = match transport::stdio() {
        Ok(io) => io,
        Err(err) => {
            eprintln!("error: cannot start the language server: {err}");
            return false;
        }
    };
    let capabilities = match serde_json::to_value(capabilities()) {
        Ok(value) => value,
        Err(err) => {
            eprintln!("error: cannot describe the server: {err}");
            return false;
        }
    };
    if let Err(err) = connection.initialize(capabilities) {
        eprintln!("error: the client did not initialise the session: {err}");
        return false;
    }
    let mut server = main_loop::Server::default();
    let ok = server.main_loop(&connection);
    drop(connection);
    // The reader may be blocked on stdin after `exit`; only the writer is
    // waited for, so every answer is out before the process ends.
    drop(reader);
    writer.join().is_ok() && ok
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::FULL),
            save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions { include_text: Some(false) })),
            ..TextDocumentSyncOptions::default()
        })),
        document_formatting_provider: Some(lsp_types::OneOf::Left(true)),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(lsp_types::OneOf::Left(true)),
        references_provider: Some(lsp_types::OneOf::Left(true)),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Options(lsp_types::CodeActionOptions {
            code_action_kinds: Some(vec![lsp_types::CodeActionKind::QUICKFIX]),
            ..lsp_types::CodeActionOptions::default()
        })),
        rename_provider: Some(lsp_types::OneOf::Right(lsp_types::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: lsp_types::WorkDoneProgressOptions::default(),
        })),
        document_symbol_provider: Some(lsp_types::OneOf::Left(true)),
        completion_provider: Some(lsp_types::CompletionOptions {
            trigger_characters: Some(vec![".".to_owned()]),
            ..lsp_types::CompletionOptions::default()
        }),
        ..ServerCapabilities::default()
    }
}
