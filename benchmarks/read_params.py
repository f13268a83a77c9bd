#!/usr/bin/env python3
"""How fast our .params reader is against reading the file's bytes and against mx.nd.load (a table)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mxconvert.params import load_params  # noqa: E402


def median_seconds(action, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models-dir", default="build/bench")
    parser.add_argument("--depths", type=int, nargs="*", default=[18, 50, 152])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from mxconvert.zoo.common import mx
    from mxconvert.zoo.resnet import build_classic

    print(f"{'model':<12} {'MB':>7} {'read bytes s':>13} {'ours s':>8} {'ours/read':>10} {'mx.nd.load s':>13}")
    for depth in args.depths:
        prefix = os.path.join(args.models_dir, f"resnet-{depth}")
        if not os.path.exists(f"{prefix}-0000.params"):
            build_classic(depth, args.models_dir)
        path = f"{prefix}-0000.params"
        raw = median_seconds(lambda: read_bytes(path), args.repeat)
        ours = median_seconds(lambda: load_params(path), args.repeat)
        theirs = median_seconds(lambda: mx.nd.load(path), args.repeat)
        size = os.path.getsize(path) / 2 ** 20
        print(f"resnet-{depth:<5} {size:7.1f} {raw:13.3f} {ours:8.3f} {ours / raw:10.2f} {theirs:13.3f}")


if __name__ == "__main__":
    main()
