//! The stdio transport of `warden lsp`: Content-Length framing that survives bad input.
//!
//! `lsp-server`'s own stdio reader stops at the first message that is not
//! JSON-RPC; this one skips such a message (and says so on stderr) and reads
//! on, so a client bug costs one message, not the session. Headers are capped
//! in number and length, bodies at [`MAX_MESSAGE_BYTES`].

use std::io::{BufRead, Read, Write};
use std::thread::JoinHandle;

use lsp_server::{Connection, Message};

/// Largest message body read (policy files are at most 8 MiB; JSON escaping can double that).
const MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// A connection over stdin/stdout, and the reader and writer threads behind it.
pub fn stdio() -> std::io::Result<(Connection, JoinHandle<()>, JoinHandle<()>)> {
    let (reader_tx, reader_rx) = crossbeam_channel::bounded::<Message>(0);
    let (writer_tx, writer_rx) = crossbeam_channel::bounded::<Message>(0);
    let reader = std::thread::Builder::new().name("lsp-reader".to_owned()).spawn(move || {
        let mut input = std::io::stdin().lock();
        while let Some(message) = next(&mut input) {
            let exit = matches!(&message, Message::Notification(n) if n.method == "exit");
            if reader_tx.send(message).is_err() || exit {
                break;
            }
        }
    })?;
    let writer = std::thread::Builder::new().name("lsp-writer".to_owned()).spawn(move || {
        let mut output = std::io::stdout().lock();
        for message in writer_rx {
            if message.write(&mut output).is_err() {
                break;
            }
        }
        let _ = output.flush();
    })?;
    Ok((Connection { sender: writer_tx, receiver: reader_rx }, reader, writer))
}

/// The next well-formed message, skipping malformed ones; `None` at the end of input.
pub fn next(input: &mut impl BufRead) -> Option<Message> {
    loop {
        match frame(input) {
            Frame::End => return None,
            Frame::Bad(why) => eprintln!("warden lsp: skipped a malformed message: {why}"),
            Frame::Body(body) => match serde_json::from_slice::<Message>(&body) {
                Ok(message) => return Some(message),
                Err(err) => eprintln!("warden lsp: skipped a message that is not JSON-RPC: {err}"),
            },
        }
    }
}

enum Frame {
    End,
    Bad(String),
    Body(Vec<u8>),
}

/// Reads one header block and the body it announces.
fn frame(input: &mut impl BufRead) -> Frame {
    let mut length: Option<u64> = None;
    let mut bad = None;
    let mut lines = 0;
    loop {
        let mut line = Vec::new();
        match input.by_ref().take(1024).read_until(b'\n', &mut line) {
            Ok(0) => return Frame::End,
            Ok(_) => {}
            Err(err) => return if lines == 0 { Frame::End } else { Frame::Bad(err.to_string()) },
        }
        lines += 1;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if lines == 1 {
                // A stray blank line between messages.
                lines = 0;
                continue;
            }
            break;
        }
        if lines > 16 {
            bad = Some("too many header lines".to_owned());
            continue;
        }
        match text.split_once(':') {
            Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<u64>() {
                    Ok(n) => {
                        length = Some(n);
                        if n > MAX_MESSAGE_BYTES {
                            bad = Some(format!("a {n}-byte message is larger than allowed"));
                        }
                    }
                    Err(_) => bad = Some(format!("bad Content-Length `{}`", value.trim())),
                }
            }
            Some(_) => {}
            None => bad = Some(format!("bad header line `{text}`")),
        }
    }
    let Some(length) = length else { return Frame::Bad(bad.unwrap_or_else(|| "no Content-Length".to_owned())) };
    if let Some(why) = bad {
        // Skip the body it announced, so the next header is read as one.
        return match std::io::copy(&mut input.by_ref().take(length), &mut std::io::sink()) {
            Ok(n) if n == length => Frame::Bad(why),
            _ => Frame::End,
        };
    }
    let mut body = Vec::new();
    match input.by_ref().take(length).read_to_end(&mut body) {
        Ok(n) if n as u64 == length => Frame::Body(body),
        _ => Frame::End,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn malformed_messages_are_skipped_and_reading_goes_on() {
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let input = [
            framed("{not json"),
            "Content-Length: twelve\r\n\r\n".to_owned(),
            "X-Nothing\r\n\r\n".to_owned(),
            framed(r#"{"jsonrpc":"2.0","id":true}"#),
            framed(good),
        ]
        .concat();
        let mut reader = std::io::Cursor::new(input.into_bytes());
        match next(&mut reader) {
            Some(Message::Request(request)) => assert_eq!(request.method, "shutdown"),
            other => panic!("expected the shutdown request, got {other:?}"),
        }
        assert!(next(&mut reader).is_none());
    }

    #[test]
    fn a_truncated_body_ends_the_input() {
        let mut reader = std::io::Cursor::new(b"Content-Length: 50\r\n\r\n{}".to_vec());
        assert!(next(&mut reader).is_none());
    }
}
