//! The `warden` command-line tool: one binary for checking, formatting, testing and serving policies.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
