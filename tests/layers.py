#!/usr/bin/env python3
"""Checks the layer rule of docs/architecture.md from the sources: a file in
daemon/<subsystem>/ may include its own subsystem's headers and those of the layers below
it, never above. Usage: layers.py DAEMON_DIR. Exits 1 and names each offending include."""
import pathlib
import re
import sys

# Each subsystem and the subsystems it may use directly; what they use is allowed too.
USES = {
    "core": [],
    "domain": ["core"],
    "rules": ["domain"],
    "config": ["rules"],
    "store": ["config"],
    "net": ["config"],
    "dispatch": ["store", "net"],
    "ingest": ["dispatch"],
    "http": ["ingest"],
    "app": ["http"],
    "ctl": ["app"],
    "main": ["ctl"],
}


def allowed(sub, seen=None):
    seen = set() if seen is None else seen
    for low in USES[sub]:
        if low not in seen:
            seen.add(low)
            allowed(low, seen)
    return seen | {sub}


def main():
    root = pathlib.Path(sys.argv[1])
    include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/')
    bad = []
    checked = 0
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".hpp", ".cpp", ".h"):
            continue
        sub = path.relative_to(root).parts[0]
        if sub not in USES:
            bad.append(f"{path}: folder '{sub}' is not in the layer table of tests/layers.py")
            continue
        ok = allowed(sub)
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            m = include.match(line)
            if not m or m.group(1) == "hotline":  # the public plugin header
                continue
            checked += 1
            if m.group(1) in USES and m.group(1) not in ok:
                bad.append(f"{path}:{lineno}: {sub} must not include {m.group(1)}/ "
                           f"(layers: {sub} uses {', '.join(sorted(ok - {sub})) or 'nothing'})")
    for b in bad:
        print(b)
    print(f"layers: {checked} includes checked, {len(bad)} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
