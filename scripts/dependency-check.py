#!/usr/bin/env python3
"""Fails when a crate locked in Cargo.lock has been yanked from crates.io.

Called by `make test`. A yank is how a crate's authors withdraw a release that is broken or
unsafe, and the crates.io index that cargo itself reads says which versions are yanked, so
this check needs nothing this machine cannot reach. It reads every registry package of
Cargo.lock (direct dependencies and theirs), asks the sparse index for each name once, and
prints one line per yanked version, marking the direct ones.

What it cannot see: security advisories. RustSec's advisory database (what `cargo audit` and
`cargo deny` read) is fetched from GitHub, which this machine cannot reach; a vulnerable
release that its authors did not yank passes here. Where GitHub is reachable, run
`cargo audit` as well.
"""

import concurrent.futures
import json
import pathlib
import sys
import tomllib
import urllib.request

INDEX = "https://index.crates.io"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
ROOT = pathlib.Path(__file__).resolve().parent.parent


def index_path(name: str) -> str:
    name = name.lower()
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def yanked_versions(name: str) -> set[str]:
    request = urllib.request.Request(
        f"{INDEX}/{index_path(name)}", headers={"User-Agent": "microblog-dependency-check"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        lines = response.read().decode().splitlines()
    return {entry["vers"] for entry in map(json.loads, filter(None, lines)) if entry["yanked"]}


def direct_dependencies() -> set[str]:
    names = set()
    for manifest in [ROOT / "Cargo.toml", *ROOT.glob("*/Cargo.toml")]:
        data = tomllib.loads(manifest.read_text())
        for table in ("dependencies", "dev-dependencies", "build-dependencies"):
            names.update(data.get(table, {}))
        names.update(data.get("workspace", {}).get("dependencies", {}))
    return names


def main() -> int:
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    locked = [p for p in lock["package"] if p.get("source") == CRATES_IO]
    names = sorted({p["name"] for p in locked})
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            yanked = dict(zip(names, pool.map(yanked_versions, names)))
    except OSError as error:
        print(f"cannot read the crates.io index ({error}); is the registry reachable?")
        return 2
    direct = direct_dependencies()
    found = [p for p in locked if p["version"] in yanked[p["name"]]]
    for package in found:
        kind = "direct dependency" if package["name"] in direct else "indirect"
        print(f"yanked: {package['name']} {package['version']} ({kind})")
    print(f"{len(locked)} locked crates checked against the crates.io index: {len(found)} yanked")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
