//! `warden lsp`: the language server on stdio, which is the `warden-lsp` crate.

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Accepted for clients that pass it (VS Code does); stdio is the only transport.
    #[arg(long)]
    pub stdio: bool,
}

pub fn run(_args: &Args) -> bool {
    warden_lsp::run()
}
