"""Write ``mxconvert/mxnet_ops.txt``, the forward ops MXNet 1.9.1 registers, that ``python -m
mxconvert.support_table`` classifies: run once with MXNet 1.9.1 installed (``python tools/mxnet_registry.py``).

Every name ``mx.operator.get_all_registered_operators()`` returns (an op's other spellings are names of their
own) except the gradient ops: a name with ``backward`` among its ``_``-separated words (``_backward_relu``,
``_split_v2_backward``, ``_npi_backward_ediff1d``)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mxconvert.mxnet_compat import import_mxnet  # noqa: E402

OUT = ROOT / "mxconvert" / "mxnet_ops.txt"


def forward_ops(names: list[str]) -> list[str]:
    return sorted(name for name in names if "backward" not in name.split("_"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(OUT), help="the list to write, one op a line")
    args = parser.parse_args(argv)
    mx = import_mxnet()
    ops = forward_ops(mx.operator.get_all_registered_operators())
    header = (f"# The forward ops MXNet {mx.__version__} registers ({len(ops)}), written by tools/mxnet_registry.py: "
              "one name a line.\n")
    Path(args.out).write_text(header + "".join(f"{op}\n" for op in ops))
    print(f"{args.out}: {len(ops)} forward ops")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
