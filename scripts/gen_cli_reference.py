#!/usr/bin/env python
"""Write docs/cli.md, the CLI reference, from the --help of every convcli command.

    python scripts/gen_cli_reference.py           # rewrite docs/cli.md
    python scripts/gen_cli_reference.py --check   # exit 1 if docs/cli.md is out of date

The help is rendered at a fixed width (convcli.cli.help.REFERENCE_WIDTH), so the file is the same on
every machine; tests/test_cli_docs.py fails when it differs from what this script would write.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from convcli.cli.help import render_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    parser.add_argument("--output", type=Path, default=DOC, help=f"where to write (default {DOC})")
    args = parser.parse_args(argv)
    text = render_reference()
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run python scripts/gen_cli_reference.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
