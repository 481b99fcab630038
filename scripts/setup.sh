#!/usr/bin/env bash
# Installs what Microblog's build and tests need, skipping whatever is already there, so the
# first run on a fresh machine takes ~15 minutes (mostly compiling cargo-leptos) and later
# runs take seconds. Only package registries are used: crates.io, npm, Debian.
#   scripts/setup.sh run    what `make run` needs
#   scripts/setup.sh test   that plus Chromium and Playwright for the browser tests
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WHAT=${1:-run}

CARGO_LEPTOS_VERSION=0.3.10      # 0.3.11 needs rustc >= 1.96
WASM_BINDGEN_VERSION=0.2.130     # must equal the wasm-bindgen crate in Cargo.lock

say() { printf '\n>> %s\n' "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_packages=()
command -v psql >/dev/null && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_packages+=(postgresql)
command -v pkg-config >/dev/null || apt_packages+=(pkg-config)
if [ "$WHAT" = test ]; then
  [ -x /usr/bin/chromium ] || apt_packages+=(chromium)
  command -v shellcheck >/dev/null || apt_packages+=(shellcheck)
  command -v python3 >/dev/null || apt_packages+=(python3)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  say "Installing Debian packages: ${apt_packages[*]} (about a minute)"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "Adding the wasm32-unknown-unknown Rust target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
  say "Compiling cargo-leptos $CARGO_LEPTOS_VERSION from crates.io (once per machine, ~12 minutes on 2 cores)"
  cargo install cargo-leptos --locked --version "$CARGO_LEPTOS_VERSION"
fi

if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  # Without --locked: its lock file pins a crate version the registry no longer has.
  say "Compiling wasm-bindgen-cli $WASM_BINDGEN_VERSION from crates.io (once per machine, ~2 minutes)"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ "$WHAT" = test ] && ! cargo nextest --version >/dev/null 2>&1; then
  say "Compiling cargo-nextest from crates.io (once per machine, ~6 minutes on 2 cores)"
  cargo install cargo-nextest --locked
fi

npm_install() {
  local dir=$1 why=$2
  if [ ! -d "$ROOT/$dir/node_modules" ] || [ "$ROOT/$dir/package-lock.json" -nt "$ROOT/$dir/node_modules/.package-lock.json" ]; then
    say "Installing $why from npm into $dir/"
    (cd "$ROOT/$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
# cargo-leptos downloads wasm-opt unless it finds one on PATH; Debian's binaryen 108 breaks
# hydration, so the Makefile puts npm's binaryen first on PATH.
npm_install tools "wasm-opt (binaryen)"
if [ "$WHAT" = test ]; then
  npm_install end2end "Playwright"
fi
