#!/usr/bin/env python3
"""Lengths of Rust functions, longest first: lines from the `fn` line to its
closing brace, found by brace matching with string and char literals and
`//` comments removed; items after a `#[cfg(test)]` line are not counted,
nor files under `tests/`.

    python3 tools/fnlen.py [DIR (default crates)] [N (default 20)]
"""
import pathlib
import re
import sys

FN = re.compile(r"\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def code(line):
    """The line without string and char literals and `//` comments."""
    s = re.sub(r'"(\\.|[^"\\])*"', "", line)
    s = re.sub(r"'(\\.|[^'\\])'", "", s)
    return s.split("//")[0]


def functions(path):
    """(length, line, name) of every function in a file, tests excluded."""
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines):
        if re.match(r"\s*#\[cfg\(test\)\]", lines[i]):
            return
        m = FN.match(lines[i])
        if not m:
            i += 1
            continue
        depth, started, j = 0, False, i
        while j < len(lines):
            s = code(lines[j])
            for ch in s:
                if ch == "{":
                    depth += 1
                    started = True
                elif ch == "}":
                    depth -= 1
            if (started and depth == 0) or (not started and s.rstrip().endswith(";")):
                break
            j += 1
        if started:
            yield j - i + 1, i + 1, m.group(6)
            i = j + 1
        else:
            i += 1


def main():
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "crates")
    most = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rows = [
        (n, str(p), line, name)
        for p in root.rglob("*.rs")
        if "/tests/" not in str(p) and "target" not in p.parts
        for n, line, name in functions(p)
    ]
    for row in sorted(rows, reverse=True)[:most]:
        print(*row)


if __name__ == "__main__":
    main()
