#!/usr/bin/env bash
# Where the browser bundle's bytes come from: the release wasm (before wasm-bindgen, which still
# has function names) grouped by the crate each function is named after. Generic framework code
# instantiated for our components counts under the framework crate that defines it.
# Needs a release build (`cargo leptos build --release`) and twiggy (`cargo install twiggy`).
set -euo pipefail
cd "$(dirname "$0")/.."
wasm=target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm
[ -f "$wasm" ] || { echo "no $wasm: run cargo leptos build --release first" >&2; exit 1; }
command -v twiggy >/dev/null || { echo "twiggy is not installed: cargo install twiggy --locked" >&2; exit 1; }
twiggy top -n 1000000 --format csv "$wasm" | python3 -c '
import collections, csv, re, sys
sizes, total = collections.Counter(), 0
for row in csv.DictReader(sys.stdin):
    name, size = row["Name"], int(row["ShallowSize"])
    if "function names" in name or name.startswith("custom section"):
        continue  # names and wasm-bindgen metadata, stripped from the shipped file
    if "__wbindgen_describe" in name or name.startswith("export \"__wbindgen"):
        continue  # wasm-bindgen glue descriptions, also removed when it runs
    total += size
    if name.startswith("data segment"):
        sizes["(static data)"] += size
        continue
    match = re.match(r"<([A-Za-z_]\w*)(\[[0-9a-f]+\])?::", name) or re.search(r"([A-Za-z_]\w*)(\[[0-9a-f]+\])?::", name)
    sizes[match.group(1) if match else "(unnamed)"] += size
print(f"| crate | bytes | share |\n| --- | ---: | ---: |")
for crate, size in sizes.most_common(15):
    print(f"| {crate} | {size} | {100 * size / total:.1f} % |")
print(f"| all code and data | {total} | 100 % |")
'
