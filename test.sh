#!/usr/bin/env bash
# Runs Warden's whole test suite on a fresh machine: installs what the tests
# need where it can (Debian packages, the npm packages of the editor grammar
# tests and of the real OpenID provider, the wasm32 and musl targets, mdBook),
# says plainly what it cannot install, then runs every test. It is the README's test command and
# the whole of `.ci/run`: CI runs exactly what a newcomer runs.
#
#   ./test.sh              everything
#   ./test.sh -- ARGS      passes ARGS to `cargo test --workspace --locked --no-fail-fast` (a filter, say)
set -euo pipefail
cd "$(dirname "$0")"

RUST_MIN=1.95
say() { printf 'test.sh: %s\n' "$*" >&2; }
fail() { say "$*"; exit 1; }

# --- Rust -------------------------------------------------------------------
command -v cargo >/dev/null || fail "cargo is not installed: install Rust $RUST_MIN or newer (https://rustup.rs), then run ./test.sh again."
rust_version=$(rustc --version | awk '{print $2}')
if ! printf '%s\n%s\n' "$RUST_MIN" "${rust_version%%-*}" | sort -V -C; then
  fail "Rust $rust_version is too old: Warden needs $RUST_MIN or newer (rustup update stable)."
fi
cargo --version
rustc --version

# --- System packages ----------------------------------------------------------
# Each line: a command the suite needs, then the Debian packages that provide it.
#   cc            Rust links with it, and aws-lc-rs compiles C.
#   dot           renders `warden compile --emit dot` in a test.
#   nginx, caddy  tests/tests/gateways.rs runs both in front of `warden serve`,
#                 on loopback ports of their own.
#   redis-server  tests/tests/limits_redis.rs starts its own on a loopback port.
#   docker-registry  the CNCF distribution registry: tests/tests/bundles.rs
#                 pushes policy bundles to its own, on a loopback port.
#   node, npm     the editor grammar tests and the real OpenID provider of
#                 tests/tests/oidc_rotation.rs.
#   musl-gcc      the static (musl) build of the binary the container image
#                 carries (deploy/Dockerfile); tests/tests/deploy.rs runs it.
#   chromium      the browser Playwright drives through the playground
#                 (pdp/playground/tests); no browser is downloaded.
# And python3-jwt, python3-cryptography (PyJWT, for Debian's /usr/bin/python3):
# tests/tests/mint_nginx.rs runs tests/upstream/verify_jwt.py behind nginx to
# verify the tokens Warden mints. They are modules, not commands: checked by
# importing them below.
NEEDS=(
  "cc gcc libc6-dev"
  "dot graphviz"
  "nginx nginx"
  "caddy caddy"
  "redis-server redis-server"
  "docker-registry docker-registry"
  "node nodejs"
  "npm npm"
  "musl-gcc musl-tools"
  "chromium chromium"
)
missing=()
for need in "${NEEDS[@]}"; do
  read -r bin pkgs <<<"$need"
  if ! command -v "$bin" >/dev/null && [ ! -x "/usr/sbin/$bin" ]; then
    read -r -a more <<<"$pkgs"
    missing+=("${more[@]}")
  fi
done
if ! /usr/bin/python3 -I -c 'import jwt, cryptography' >/dev/null 2>&1; then
  missing+=(python3-jwt python3-cryptography)
fi
# python3-jsonschema: tests/tests/deploy.rs validates the example configs
# against docs/config.schema.json with it (a validator that is not ours).
if ! /usr/bin/python3 -I -c 'import jsonschema' >/dev/null 2>&1; then
  missing+=(python3-jsonschema)
fi
# python3-venv: Schemathesis (from PyPI, below) goes in a virtual environment.
if ! /usr/bin/python3 -I -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  if ! command -v apt-get >/dev/null; then
    fail "missing: ${missing[*]}. This is not a Debian-like system (no apt-get): install them with your package manager, then run ./test.sh again."
  fi
  if [ ${#sudo[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
    fail "missing: ${missing[*]}. Installing them needs root: run ./test.sh as root, or install them (apt-get install ${missing[*]}) and run it again."
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # The nginx, caddy and redis-server packages start a system service when
  # installed (ports 80 and 6379). The tests start their own instances; a system
  # one would only hold a port, or fail the install where there is no init
  # system. A policy-rc.d that answers 101 makes invoke-rc.d and
  # deb-systemd-invoke skip every start during this install; ours is removed
  # afterwards, an existing one (container images ship one) is left alone.
  own_policy_rc=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
    own_policy_rc=1
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # apt and dpkg write a line per package; keep them in a log, shown on failure.
  apt_log=$(mktemp -t warden-apt.XXXXXX)
  if ! { "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    fail "apt-get could not install ${missing[*]} (above)."
  fi
  say "installed ${missing[*]} (apt-get's output: $apt_log)"
  if [ -n "$own_policy_rc" ]; then
    "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  # Should a service we just installed run anyway (an init system that ignored
  # policy-rc.d), stop it and keep it from coming back.
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      nginx | caddy | redis-server | docker-registry)
        if [ -d /run/systemd/system ]; then
          "${sudo[@]}" systemctl disable --now "$pkg" >/dev/null 2>&1 || true
        elif [ -x "/etc/init.d/$pkg" ]; then
          "${sudo[@]}" "/etc/init.d/$pkg" stop >/dev/null 2>&1 || true
        fi
        ;;
    esac
  done
fi

# --- The machine's own names ---------------------------------------------------
# The TLS tests reach their servers as `localhost` (their certificates name it).
if ! getent hosts localhost >/dev/null; then
  fail "the name localhost does not resolve on this machine (the TLS tests use it): add '127.0.0.1 localhost' to /etc/hosts, then run ./test.sh again."
fi

# --- npm packages (from their lock files; node_modules is never committed) ----
# The VS Code extension's TextMate grammar against its annotated fixtures.
(cd editor-support/vscode && npm ci --no-audit --no-fund --loglevel=error && npm test)
# The real OpenID provider (oidc-provider) of tests/tests/oidc_rotation.rs.
(cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
# Playwright (playwright-core: no browser download) for the playground's browser test.
(cd pdp/playground/tests && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

# --- The engine in the browser ------------------------------------------------
# The engine, compiler and language build for wasm32 (pure-Rust signature
# checks in place of aws-lc-rs): the playground runs them there (below).
if command -v rustup >/dev/null; then
  rustup target add wasm32-unknown-unknown
elif ! { rustc --print target-libdir --target wasm32-unknown-unknown >/dev/null 2>&1 &&
  [ -d "$(rustc --print target-libdir --target wasm32-unknown-unknown)" ]; }; then
  fail "the wasm32-unknown-unknown target is not installed and there is no rustup to add it: install it, then run ./test.sh again."
fi

# --- The binary of the container image -----------------------------------------
# deploy/Dockerfile builds a static musl `warden` for an image FROM scratch. No
# container runtime can run an image on these machines (no base image can be
# pulled), so tests/tests/deploy.rs runs this very build as the pod runs it.
if command -v rustup >/dev/null; then
  rustup target add x86_64-unknown-linux-musl
fi
cargo build --release --locked -p warden-cli --target x86_64-unknown-linux-musl

# --- The playground ----------------------------------------------------------------
# The language, compiler and engine as WebAssembly for the playground page:
# wasm-bindgen-cli of exactly the wasm-bindgen version in Cargo.lock (not
# `--locked`: its lock file can name a crate version the registry no longer
# serves).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $WASM_BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi
pdp/playground/build.sh target/playground

# --- The book --------------------------------------------------------------------
# tests/tests/book.rs builds docs/ with mdBook: this pinned version, with its
# search index only (no server or file watcher to compile).
MDBOOK_VERSION=0.5.4
if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
  cargo install --locked mdbook --version "$MDBOOK_VERSION" --no-default-features --features search
fi

# --- Schemathesis ---------------------------------------------------------------
# tests/tests/openapi.rs checks docs/reference/openapi.json against a running
# `warden serve` with it: this pinned version, in its own virtual environment.
SCHEMATHESIS_VERSION=4.32.5
st_venv=target/schemathesis-venv
if [ "$("$st_venv/bin/st" --version 2>/dev/null)" != "st, version $SCHEMATHESIS_VERSION" ]; then
  rm -rf "$st_venv"
  /usr/bin/python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- Every test ----------------------------------------------------------------
# (The Cedar differential test prints its case count: it runs without libtest's
# output capture, docs/cedar.md.)
[ "${1:-}" = "--" ] && shift
status=0
cargo test --workspace --locked --no-fail-fast "$@" || status=$?

# --- The playground in a real browser -------------------------------------------
# Debian's Chromium, driven by Playwright, against `warden playground` serving
# target/playground on loopback (screenshots in target/playground-screenshots).
if [ $# -eq 0 ]; then
  (cd pdp/playground/tests && WARDEN_BIN=../../../target/debug/warden PLAYGROUND_DIR=../../../target/playground npm test) || status=$?
fi
exit $status
