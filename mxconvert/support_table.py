"""Print the README's tables of supported model families and MXNet ops (markdown), generated from the zoo's
model families and the ONNX and PyTorch converter registries: ``python -m mxconvert.support_table``.

A family counts as supported by a target when the registry converts every node of its graphs, attributes
included (the graphs are the zoo's symbols read by mxconvert's own symbol reader); for ONNX, the opsets where
that holds. Needs MXNet (to build the symbols).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from . import zoo, zoo_faces
from .ir import Node
from .registry import ConverterRegistry
from .symbol import parse_symbol
from .to_onnx import ops as _onnx_ops  # noqa: F401  (registers the converters)
from .to_onnx.exporter import MAX_OPSET, MIN_OPSET
from .to_onnx.registry import REGISTRY as ONNX
from .to_torch import ops as _torch_ops  # noqa: F401  (registers the converters)
from .to_torch.registry import REGISTRY as TORCH

YES, NO, LIMITED = "yes", "no", "yes¹"


@dataclass(frozen=True)
class Family:
    name: str
    short: str
    models: tuple[str, ...]
    symbol_json: Callable[[str], str]
    note: str = ""


def _face_json(name: str) -> str:
    return zoo_faces.face_symbol(name).tojson()


def _classic_json(name: str) -> str:
    return zoo.classic_resnet_symbol(int(name.split("-")[1])).tojson()


def _legacy_json(name: str) -> str:
    """A classic ResNet in MXNet 0.x form (0.x op names, ``param`` keys, implicit BatchNorm aux inputs)."""
    sym = zoo.classic_resnet_symbol(int(name.split("-")[1]))
    graph = json.loads(sym.tojson())
    return json.dumps(zoo.legacy_graph(graph, zoo._implicit_aux(graph, set(sym.list_auxiliary_states()))))


FAMILIES = (
    Family("Classic MXNet model-zoo ResNet (v2, pre-activation)", "Classic ResNet",
           tuple(f"resnet-{d}" for d in zoo.CLASSIC_UNITS), _classic_json, "SoftmaxOutput head"),
    Family("Classic ResNet saved by MXNet 0.x", "MXNet 0.x", tuple(f"resnet-{d}-legacy" for d in zoo.CLASSIC_UNITS),
           _legacy_json, "`param` keys, `_Plus`, implicit aux inputs, magic-less params"),
    Family("Gluon model-zoo ResNet v1 / v2 exports", "Gluon ResNet", tuple(f"gluon-{m}" for m in zoo.GLUON_MODELS),
           lambda name: zoo.gluon_symbol(name.removeprefix("gluon-")).tojson(), "`HybridBlock.export`"),
    Family("InsightFace ArcFace LResNet-IR", "ArcFace", tuple(f"arcface-r{d}" for d in zoo_faces.ARCFACE_UNITS),
           _face_json, "PReLU, fix_gamma BatchNorm on the 512-d embedding"),
    Family("RetinaFace (ResNet-50 v2 backbone, FPN, SSH)", "RetinaFace", ("retinaface-r50",),
           _face_json, "UpSampling + Crop, SoftmaxActivation (channel), 9 outputs"),
    Family("MTCNN P-Net / R-Net / O-Net", "MTCNN", ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"),
           _face_json, "`full` pooling, SliceChannel + Concat, several outputs"),
)


def family_nodes(family: Family) -> list[Node]:
    """Every node of every model of ``family``, as mxconvert's symbol reader sees it."""
    return [node for model in family.models for node in parse_symbol(family.symbol_json(model), model).nodes]


def _onnx_support(nodes: list[Node]) -> str:
    opsets = [opset for opset in range(MIN_OPSET, MAX_OPSET + 1) if not ONNX.unsupported(nodes, opset)]
    if not opsets:
        return f"{NO} ({', '.join(sorted(ONNX.unsupported(nodes, MAX_OPSET)))})"
    return f"{YES} (opsets {opsets[0]}–{opsets[-1]})" if len(opsets) == opsets[-1] - opsets[0] + 1 else \
        f"{YES} (opsets {', '.join(map(str, opsets))})"


def _torch_support(nodes: list[Node]) -> str:
    offenders = TORCH.unsupported(nodes)
    return f"{NO} ({', '.join(sorted(offenders))})" if offenders else YES


def markdown(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def families_table(nodes: dict[Family, list[Node]]) -> str:
    """One row per family of ``nodes`` (family -> its graphs' nodes): its models and support per target."""
    rows = [(family.name, ", ".join(f"`{model}`" for model in family.models), family.note,
             _onnx_support(family_nodes), _torch_support(family_nodes)) for family, family_nodes in nodes.items()]
    return markdown(("Family", "Zoo models", "Notable", "ONNX", "PyTorch"), rows)


def ops_table(nodes: dict[Family, list[Node]]) -> str:
    """One row per op either registry converts, with the families of ``nodes`` that use it."""
    def cell(op: str, registry: ConverterRegistry) -> str:
        entry = registry.entries.get(op)
        return NO if entry is None else LIMITED if entry.check else YES

    rows = []
    for op in sorted(ONNX.entries.keys() | TORCH.entries.keys(), key=lambda op: (op.lstrip("_").lower(), op)):
        users = [family.short for family, family_nodes in nodes.items() if any(node.op == op for node in family_nodes)]
        rows.append((f"`{op}`", cell(op, ONNX), cell(op, TORCH), "; ".join(users)))
    return markdown(("MXNet op", "ONNX", "PyTorch", "Used by"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mxconvert.support_table", description=__doc__.split("\n")[0])
    parser.parse_args(argv)
    nodes = {family: family_nodes(family) for family in FAMILIES}
    print(families_table(nodes))
    print()
    print(ops_table(nodes))
    print()
    print(f"{LIMITED[-1]} Some attribute values are rejected before conversion, with the reason "
          "(e.g. non-nearest `UpSampling`, `layout` other than NC..).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
