#!/usr/bin/env bash
# Builds the playground into DIR (default target/playground): the engine,
# compiler and language as WebAssembly (wasm-bindgen, `--target web`) in
# DIR/pkg, and the page (pdp/playground/web) beside it. `warden playground
# --dir DIR` serves it; next to a built book (target/book/playground) the
# book's playground page links to it.
#
#   pdp/playground/build.sh [DIR]
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli of the same
# version as the wasm-bindgen crate in Cargo.lock (./test.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-target/playground}
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')
if [ "$have" != "$want" ]; then
  echo "build.sh: wasm-bindgen-cli $want is needed (found: ${have:-none}): cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
cargo build --locked -p warden-playground --target wasm32-unknown-unknown --profile wasm-release
mkdir -p "$out"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$out/pkg" \
  target/wasm32-unknown-unknown/wasm-release/warden_playground.wasm
cp pdp/playground/web/* "$out/"
echo "build.sh: the playground is in $out ($(du -k "$out/pkg/warden_playground_bg.wasm" | cut -f1) KiB of WebAssembly)"
