#!/usr/bin/env bash
# The release server and its site (wasm, JS, CSS, assets, each precompressed), built only when
# a source changed since the last build: cargo-leptos runs wasm-bindgen and wasm-opt again on
# every call, which made an unchanged `make run` take 26 s.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=target/.release-build-stamp
inputs=(Cargo.toml Cargo.lock app frontend server style public migrations .sqlx)
if [ -f "$stamp" ] && [ -x target/release/server ] && [ -d target/site/pkg ] &&
  [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  echo ">> Nothing changed since the last release build"
  exit 0
fi
echo ">> Building the release server and wasm bundle (a few minutes the first time)"
# Stamped with the time the build started, so an edit made during the build is built next time.
mkdir -p target
touch "$stamp.new"
cargo leptos build --release --precompress
# cargo-leptos's gzip is a fast level (the wasm came out at 466 KB); browsers without brotli get
# the best gzip instead (391 KB), made once here.
for file in target/site/pkg/*.wasm target/site/pkg/*.js target/site/pkg/*.css; do
  gzip -9 -n -c "$file" > "$file.gz"
done
mv "$stamp.new" "$stamp"
