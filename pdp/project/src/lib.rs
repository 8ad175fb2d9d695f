//! `warden-project`: a policy set on disk. Finding its files ([`collect`], [`policy_sets`]),
//! reading them ([`read`], [`FsLoader`]), loading and compiling the set ([`load_set`],
//! [`compile_dir`]) with problems as data ([`LoadError`], [`Problems`]), building the
//! engine over it ([`engine`]) and reloading it on change ([`Reloader`]). The CLI, the
//! service, the LSP and the SDK's embedded mode share it; nothing here prints.

mod engine;
mod error;
mod load;
mod sets;
mod settings;
mod source;
mod watch;

pub use engine::{TOKEN_CACHE_ENTRIES, engine};
pub use error::{LoadError, ProblemFile, Problems};
pub use load::{Compiled, compile_dir, compile_set, load_set, problems};
pub use sets::{policy_sets, set_of, sets_of, several_sets};
pub use settings::{SETTINGS_FILE, lint_levels};
pub use source::{FsLoader, SourceFile, collect, read};
pub use watch::{Reloader, Trigger, WatchError, WatchOptions};
