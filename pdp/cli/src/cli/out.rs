//! Standard output and error for every subcommand: writes that end quietly when the reader goes away.
//!
//! `println!` panics when a write fails, and `warden compile DIR | head -1`
//! closes the pipe after one line: the next write fails with `EPIPE` (Rust
//! ignores `SIGPIPE`, so the process is not killed by it). Here a reader that
//! went away is not an error of the command: the rest of that stream is
//! dropped, the command runs to its end and exits with its own status (0 when
//! it succeeded, 1 when, say, a test failed), and nothing is printed about the
//! pipe. Any other failure to write stdout (a full disk behind `> FILE`) is
//! reported once on stderr and makes the command exit 1.

use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};

/// The stream takes writes.
const OPEN: u8 = 0;
/// Its reader went away: writes are dropped.
const CLOSED: u8 = 1;
/// A write failed otherwise: writes are dropped and the command fails.
const FAILED: u8 = 2;

static STDOUT: AtomicU8 = AtomicU8::new(OPEN);
static STDERR: AtomicU8 = AtomicU8::new(OPEN);

/// Writes to stdout (use [`outln!`] and [`out!`]).
pub fn stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT.load(Ordering::Relaxed) != OPEN {
        return;
    }
    let mut stream = std::io::stdout().lock();
    // Flushed at once, so a failure is seen here and not lost at exit.
    if let Err(err) = stream.write_fmt(args).and_then(|()| stream.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT.store(CLOSED, Ordering::Relaxed);
        } else {
            STDOUT.store(FAILED, Ordering::Relaxed);
            stderr(format_args!("error: cannot write the output: {err}\n"));
        }
    }
}

/// Writes to stderr (use [`errln!`]). Once it cannot be written, nothing more
/// is tried: there is nowhere left to say why.
pub fn stderr(args: std::fmt::Arguments<'_>) {
    if STDERR.load(Ordering::Relaxed) != OPEN {
        return;
    }
    if std::io::stderr().lock().write_fmt(args).is_err() {
        STDERR.store(CLOSED, Ordering::Relaxed);
    }
}

/// True when stdout failed for another reason than its reader going away.
pub fn failed() -> bool {
    STDOUT.load(Ordering::Relaxed) == FAILED
}

/// `print!` through [`stdout`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*))
    };
}

/// `println!` through [`stdout`].
macro_rules! outln {
    () => {
        $crate::cli::out::stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!` through [`stderr`].
macro_rules! errln {
    () => {
        $crate::cli::out::stderr(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::out::stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
