"""The command line both manifest checks share: build or reuse the checkpoints, hash what is checked, then record
the hashes (``--record``) or compare them with the manifest and exit 1 on any difference."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
Hashes = dict[str, dict[str, str]]


def run_check(argv, description: str, manifest: Path, hashes: Callable[[Path, Path | None, set[str]], Hashes],
              differences: Callable[[Hashes, Hashes], list[str]], alike: str) -> int:
    """Parse the shared flags, run ``hashes(work, fixtures, only)``, record or compare; ``alike`` is printed
    (formatted with the model count) when nothing differs."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--record", action="store_true", help="write the manifest instead of comparing")
    parser.add_argument("--work", default=str(ROOT / "build" / "identical"), help="where checkpoints are built")
    parser.add_argument("--fixtures", default=os.environ.get("MXCONVERT_FIXTURES", str(ROOT / "build" / "fixtures")),
                        help="a folder of zoo checkpoints built as tests/conftest.py builds them, reused")
    parser.add_argument("--manifest", default=str(manifest))
    parser.add_argument("--only", nargs="*", default=[], help="check these models only")
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    fixtures = Path(args.fixtures) if args.fixtures and Path(args.fixtures).is_dir() else None
    found = hashes(work, fixtures, set(args.only))
    if args.record:
        Path(args.manifest).write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(found)} models in {args.manifest}")
        return 0
    expected = json.loads(Path(args.manifest).read_text())
    if args.only:
        expected = {name: entry for name, entry in expected.items() if name in args.only}
    differ = differences(expected, found)
    print("\n".join(differ) or alike.format(len(found)))
    return 1 if differ else 0
