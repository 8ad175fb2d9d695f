//! The Warden playground: the language, the compiler and the engine compiled
//! to WebAssembly for a static web page (`web/`), which `warden playground`
//! serves and the book embeds. Every export takes and returns JSON text (see
//! `api.rs`); nothing is sent anywhere, and keys are made in the page.

mod api;
mod keys;

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    /// The browser console's `console.error`.
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

/// On load: a panic (a bug: none is reachable from input) is written to the
/// console before the module stops, so it can be reported.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| console_error(&format!("warden playground: {info}"))));
}

/// The example sets: `[{"name", "files": [{"path", "text"}]}]`.
#[wasm_bindgen]
pub fn examples() -> String {
    api::examples()
}

/// Check and lint a set (`[{"path", "text"}]`): `{"ok", "revision", "diagnostics"}`.
#[wasm_bindgen]
pub fn check(files: &str) -> String {
    api::check(files)
}

/// Format one file: `{"ok", "text"}` or `{"ok": false, "diagnostics"}`.
#[wasm_bindgen]
pub fn format(text: &str) -> String {
    api::format(text)
}

/// Run the set's tests: `{"ok", "diagnostics", "results", "coverage"}`.
#[wasm_bindgen]
pub fn run_tests(files: &str) -> String {
    api::run_tests(files)
}

/// The set's issuers: `[{"iss", "audiences"}]`.
#[wasm_bindgen]
pub fn issuers(files: &str) -> String {
    api::issuers(files)
}

/// Judge one request against the set: `{"ok", "token", "decision"}`.
#[wasm_bindgen]
pub fn decide(files: &str, request: &str) -> String {
    api::decide(files, request)
}

/// The decision graph as SVG: `{"ok", "svg"}`.
#[wasm_bindgen]
pub fn graph_svg(files: &str) -> String {
    api::graph_svg(files)
}

#[cfg(test)]
mod tests;
