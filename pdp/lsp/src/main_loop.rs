//! The main loop of `warden lsp`: one message at a time, requests dispatched to
//! [`handlers`](crate::handlers), document notifications to the open buffers and a re-check.
//!
//! Nothing a client sends can end the loop but `shutdown`/`exit` or a closed
//! stream: a request with bad parameters gets `InvalidParams`, an unknown
//! method `MethodNotFound`, and a notification with bad parameters is ignored.

use std::path::PathBuf;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::{
    DidChangeTextDocumentParams, DidChangeWatchedFilesParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams,
};

use crate::diagnostics::Published;
use crate::documents::{Documents, set_root};
use crate::{from_proto, handlers};

/// The open documents and what was published for each policy set.
#[derive(Default)]
pub(crate) struct Server {
    documents: Documents,
    published: Published,
}

impl Server {
    /// Serves until `shutdown` and `exit`, or until the client goes away.
    pub(crate) fn main_loop(&mut self, connection: &Connection) -> bool {
        for message in &connection.receiver {
            match message {
                Message::Request(request) => {
                    match connection.handle_shutdown(&request) {
                        Ok(true) => return true,
                        Ok(false) => {}
                        Err(err) => {
                            eprintln!("error: {err}");
                            return false;
                        }
                    }
                    let response = self.request(request);
                    if connection.sender.send(Message::Response(response)).is_err() {
                        return false;
                    }
                }
                Message::Notification(notification) => {
                    for out in self.notification(notification) {
                        if connection.sender.send(Message::Notification(out)).is_err() {
                            return false;
                        }
                    }
                }
                Message::Response(_) => {}
            }
        }
        // The client closed the stream without `shutdown`.
        false
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let docs = &self.documents;
        let result = match request.method.as_str() {
            "textDocument/formatting" => params(&request).map(|p| handlers::formatting(docs, &p)).and_then(encode),
            "textDocument/hover" => params(&request).map(|p| handlers::hover(docs, &p)).and_then(encode),
            "textDocument/definition" => params(&request).map(|p| handlers::definition(docs, &p)).and_then(encode),
            "textDocument/references" => params(&request).map(|p| handlers::references(docs, &p)).and_then(encode),
            "textDocument/completion" => params(&request).map(|p| handlers::completion(docs, &p)).and_then(encode),
            "textDocument/documentSymbol" => params(&request).map(|p| handlers::symbols(docs, &p)).and_then(encode),
            "textDocument/codeAction" => params(&request).map(|p| handlers::code_actions(docs, &p)).and_then(encode),
            "textDocument/prepareRename" => {
                params(&request).map(|p| handlers::prepare_rename(docs, &p)).and_then(encode)
            }
            "textDocument/rename" => params(&request)
                .and_then(|p| handlers::rename(docs, &p).map_err(|why| (ErrorCode::InvalidParams, why)))
                .and_then(encode),
            _ => Err((ErrorCode::MethodNotFound, format!("`{}` is not supported", request.method))),
        };
        respond(id, result)
    }

    fn notification(&mut self, notification: Notification) -> Vec<Notification> {
        if notification.method == "workspace/didChangeWatchedFiles" {
            // A file changed on disk (a branch switch, another editor): re-check each set once.
            let Some(p) = note::<DidChangeWatchedFilesParams>(&notification) else { return Vec::new() };
            let mut roots: Vec<PathBuf> = Vec::new();
            let mut out = Vec::new();
            for path in p.changes.iter().filter_map(|c| from_proto::path(&c.uri)) {
                let root = set_root(&path);
                if !roots.contains(&root) {
                    roots.push(root);
                    out.extend(self.published.publish(&self.documents, &path));
                }
            }
            return out;
        }
        let Some(path) = (match notification.method.as_str() {
            "textDocument/didOpen" => note::<DidOpenTextDocumentParams>(&notification).and_then(|p| {
                let path = from_proto::path(&p.text_document.uri)?;
                self.documents.set(path.clone(), p.text_document.text);
                Some(path)
            }),
            "textDocument/didChange" => note::<DidChangeTextDocumentParams>(&notification).and_then(|p| {
                let path = from_proto::path(&p.text_document.uri)?;
                // Full synchronisation: the last change holds the whole text.
                let text = p.content_changes.into_iter().last()?.text;
                self.documents.set(path.clone(), text);
                Some(path)
            }),
            "textDocument/didSave" => {
                note::<DidSaveTextDocumentParams>(&notification).and_then(|p| from_proto::path(&p.text_document.uri))
            }
            "textDocument/didClose" => note::<DidCloseTextDocumentParams>(&notification).and_then(|p| {
                let path = from_proto::path(&p.text_document.uri)?;
                self.documents.close(&path);
                Some(path)
            }),
            _ => None,
        }) else {
            return Vec::new();
        };
        self.published.publish(&self.documents, &path)
    }
}

type Outcome = Result<serde_json::Value, (ErrorCode, String)>;

fn encode<R: serde::Serialize>(r: R) -> Outcome {
    serde_json::to_value(r).map_err(|err| (ErrorCode::InternalError, format!("cannot encode the answer: {err}")))
}

fn params<P: serde::de::DeserializeOwned>(request: &Request) -> Result<P, (ErrorCode, String)> {
    serde_json::from_value(request.params.clone())
        .map_err(|err| (ErrorCode::InvalidParams, format!("bad parameters for `{}`: {err}", request.method)))
}

fn note<P: serde::de::DeserializeOwned>(notification: &Notification) -> Option<P> {
    serde_json::from_value(notification.params.clone()).ok()
}

fn respond(id: RequestId, result: Outcome) -> Response {
    match result {
        Ok(value) => Response::new_ok(id, value),
        Err((code, message)) => Response::new_err(id, code as i32, message),
    }
}
