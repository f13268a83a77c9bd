"""The command line of a zoo family built by name (``python -m mxconvert.zoo.sequence``, ``... .nlp``)."""
from __future__ import annotations

import argparse
from typing import Callable, Collection, Sequence


def build_by_name(prog: str, description: str, models: Collection[str], build: Callable[[str, str, int], str],
                  argv: Sequence[str] | None = None) -> int:
    """Build the models named on the command line (default: all) into ``--out``, printing each prefix."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"any of {', '.join(models)} (default: all)")
    parser.add_argument("--out", default="model_mxnet", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in models]
    if unknown:
        parser.error(f"unknown models {', '.join(unknown)} (choose from {', '.join(models)})")
    for name in args.names or models:
        print(build(name, args.out, args.seed))
    return 0
