"""``kit_model.py`` lines per MXNet node, before and after the generator rewrite (branch ``kitread``).

    python benchmarks/kit_model_lines.py [--format table|markdown] [--old COMMIT] [--models NAME ...]

For each model, ``mxnet2pytorch.py`` writes ``kit_model.py`` twice in fresh interpreters: with this tree's
generator and with the generator of ``--old`` (default: the commit before ``Merge branch 'kitread'``, its first
parent), run from a temporary ``git worktree add --detach`` of that commit (removed at the end). Counted per file:
its lines, the lines of ``KitModel.forward`` (signature and return included), the MXNet nodes (operators of the
graph, inputs and weights aside; the same for both), forward lines per node, and ``forward``'s ``del`` lines.

Models: zoo fixtures from ``--fixtures`` (``build/fixtures``, which the tests build) and two recurrent
checkpoints built into a temporary folder (Gluon's fused LSTM as ``HybridBlock.export`` writes it, an LSTM unrolled
by hand over 8 steps as MXNet's OCR examples build it); ~1.5 min on 2 cores.
"""
from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from conversion import render  # noqa: E402

# name -> (label, fixture or builder, input shapes)
MODELS = {
    "gluon-resnet18_v1": ("ResNet-18 (Gluon v1)", "fixture", ["data=1,3,224,224"]),
    "vision-densenet121": ("DenseNet-121", "fixture", ["data=1,3,224,224"]),
    "arcface-r18": ("ArcFace r18 (PReLU)", "fixture", ["data=1,3,112,112"]),
    "det-ssd_512_mobilenet1.0_voc": ("SSD-512 MobileNet1.0 (detector)", "fixture", ["data=1,3,512,512"]),
    "det-yolo3_mobilenet1.0_voc": ("YOLOv3 MobileNet1.0 (detector)", "fixture", ["data=1,3,416,416"]),
    "lstm-2x256-bi": ("LSTM 2x256 bidirectional (fused RNN)", "sequence",  # data1/data2: the begin states
                      ["data0=8,1,128", "data1=4,1,256", "data2=4,1,256"]),
    "lstm-unrolled": ("LSTM unrolled by hand, 8 steps (OCR-style)", "unrolled",
                      ["data=1,8,32", "l0_init_c=1,64", "l0_init_h=1,64"]),
}


def kitread_parent() -> str:
    """The first parent of the merge of branch ``kitread``: main before the rewrite."""
    merge = subprocess.run(["git", "log", "--merges", "--format=%H", "--grep=^Merge branch 'kitread'", "-1"],
                           cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
    if not merge:
        raise SystemExit("no \"Merge branch 'kitread'\" in this branch's history: give --old")
    return subprocess.run(["git", "rev-parse", f"{merge}^1"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def checkpoint(name: str, fixtures: Path, work: Path) -> tuple[str, list[str]]:
    """The checkpoint prefix of ``name`` and its ``--input_shape`` arguments."""
    _, source, shapes = MODELS[name]
    if source == "fixture":
        prefix = fixtures / name
        if not Path(f"{prefix}-symbol.json").exists():
            raise SystemExit(f"{prefix}-symbol.json missing: build the test fixtures first")
        return str(prefix), shapes
    if source == "sequence":
        from mxconvert.zoo.sequence import build_sequence

        return build_sequence(name, str(work)), shapes
    return unrolled_checkpoint(str(work / name), shapes), shapes


def unrolled_checkpoint(prefix: str, shapes: list[str]) -> str:
    """An LSTM unrolled by hand as MXNet's OCR examples build it (``mxconvert.zoo.sequence.unrolled_lstm``,
    8 steps, 64 hidden, 40 classes), seeded normal weights, saved as ``PREFIX-symbol.json`` + ``PREFIX-0000.params``."""
    import numpy as np

    from mxconvert.mxnet_compat import import_mxnet
    from mxconvert.zoo.sequence import unrolled_lstm

    mx = import_mxnet()
    sym = unrolled_lstm(8, 64, 40)
    inputs = {key: tuple(map(int, value.split(","))) for key, value in (s.split("=") for s in shapes)}
    arg_shapes, _, _ = sym.infer_shape_partial(**inputs)
    rng = np.random.default_rng(0)
    weights = {f"arg:{name}": mx.nd.array(rng.normal(0, 0.1, dims).astype(np.float32))
               for name, dims in zip(sym.list_arguments(), arg_shapes) if name not in inputs}
    sym.save(f"{prefix}-symbol.json")
    mx.nd.save(f"{prefix}-0000.params", weights)
    return prefix


def generate(tree: Path, prefix: str, shapes: list[str], out: Path) -> str:
    """``kit_model.py`` as ``tree``'s ``mxnet2pytorch.py`` writes it, in a fresh interpreter."""
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    run = subprocess.run([sys.executable, "mxnet2pytorch.py", "--prefix", prefix, "--input_shape", *shapes,
                          "--kit_model", str(out / "kit_model.py"), "--pytorch_model", str(out / "model.pth")],
                         cwd=tree, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"{tree}: mxnet2pytorch.py --prefix {prefix} failed:\n{run.stderr}")
    return (out / "kit_model.py").read_text()


def counts(source: str) -> tuple[int, int, int]:
    """(file lines, ``KitModel.forward``'s lines, its ``del`` statements)."""
    tree = ast.parse(source)
    kit = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "KitModel")
    forward = next(node for node in kit.body if isinstance(node, ast.FunctionDef) and node.name == "forward")
    deletes = sum(isinstance(node, ast.Delete) for node in ast.walk(forward))
    return len(source.splitlines()), forward.end_lineno - forward.lineno + 1, deletes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", choices=["table", "markdown"], default="table")
    parser.add_argument("--old", help="the previous generator's commit (default: the parent of the kitread merge)")
    parser.add_argument("--fixtures", type=Path, default=ROOT / "build" / "fixtures")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    args = parser.parse_args()
    from mxconvert import api

    old = args.old or kitread_parent()
    rows = []
    with tempfile.TemporaryDirectory(prefix="kit_model_lines_") as tmp:
        work, old_tree = Path(tmp), Path(tmp) / "oldgen"
        subprocess.run(["git", "worktree", "add", "--detach", str(old_tree), old], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            for name in args.models:
                prefix, shapes = checkpoint(name, args.fixtures, work)
                nodes = len(api.load(prefix).nodes)
                before = counts(generate(old_tree, prefix, shapes, work / "out" / name / "old"))
                after = counts(generate(ROOT, prefix, shapes, work / "out" / name / "new"))
                rows.append([MODELS[name][0], str(nodes),
                             f"{before[0]} → {after[0]}", f"{before[1]} → {after[1]}",
                             f"{before[1] / nodes:.2f} → {after[1] / nodes:.2f}", f"{before[2]} → {after[2]}"])
                print(f"  {name}: done", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT, check=False)
    print(f"previous generator: {old[:7]}; this one: the working tree", file=sys.stderr)
    print(render(["model", "MXNet nodes", "file lines", "forward lines", "forward lines / node", "del lines"],
                 rows, args.format))


if __name__ == "__main__":
    main()
