"""Per-node differences of each target from MXNet: tensors compared chunk by chunk, first divergent node found."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..api import labels
from ..checkpoint import Checkpoint, CheckpointPaths
from ..compare import NOISE_FACTOR, cosine_similarity, max_abs_error, max_rel_error
from ..errors import MxConvertError
from ..feeds import Feeds, Given
from ..ir import Graph
from ..symbol import read_symbol
from .probes import CHUNK_BYTES, Probe, chunks, probe_inputs, probes_of
from .taps import Backend, MxnetInternals, OrtInternals, TorchInternals

BACKENDS = labels("onnxruntime", "pytorch")


@dataclass(frozen=True)
class Diff:
    """One backend's tensor against MXNet's (metrics as in :mod:`mxconvert.compare`)."""

    max_abs_error: float
    rel_error: float  # max |ref - out| / max |ref| per image, the largest over images
    cosine: float  # smallest per image
    fp64_rel_error: float | None = None  # the same relative error against MXNet's float64 tensor
    first_step: int | None = None  # a loop body node's: the first step that diverges on its own


@dataclass(frozen=True)
class Offender:
    """The first node past the tolerance and how far its inputs had already drifted."""

    position: int
    node: str
    op: str
    rel_error: float
    input_rel_error: float | None  # largest over its compared inputs; None when none was compared
    floor_ratio: float | None = None  # its distance from float64 over MXNet float32's; None without float64
    step: int | None = None  # a loop body node's: the first step where it diverges


@dataclass
class LayerReport:
    """Per-node differences of every target from MXNet, in graph order."""

    model: str
    input: str
    input_shape: tuple[int, ...]
    tolerance: float
    probes: list[Probe]
    diffs: dict[str, list[Diff | None]]  # backend key -> one entry per probe (None: not in that model)
    inputs: dict[int, list[int]]  # probe position -> positions of the probes it reads
    floors: list[float] | None = None  # MXNet float32's relative error against float64 per probe
    noise_factor: float = NOISE_FACTOR
    float64_note: str | None = None  # why MXNet could not run in float64, when it could not
    not_run: list[int] = dataclasses.field(default_factory=list)  # body probes MXNet never ran (branch not taken)

    def diverges(self, position: int, diff: Diff) -> bool:
        """Past the tolerance, and (with float64) further from it than ``noise_factor`` x MXNet's own floor."""
        return past(diff, None if self.floors is None else self.floors[position], self.tolerance, self.noise_factor)

    def floor_ratio(self, position: int, diff: Diff) -> float | None:
        if self.floors is None or diff.fp64_rel_error is None:
            return None
        floor = self.floors[position]
        return diff.fp64_rel_error / floor if floor else math.inf if diff.fp64_rel_error else 0.0

    def first_offender(self, key: str) -> Offender | None:
        """The first node in graph order that diverges (see :meth:`diverges`); within a loop's body, the one that
        diverges at the earliest step (a later step's inputs carry the earlier steps' errors round the loop)."""
        diffs = self.diffs[key]
        divergent = [i for i, diff in enumerate(diffs) if diff is not None and self.diverges(i, diff)]
        if not divergent:
            return None
        position, owner = divergent[0], self.probes[divergent[0]].owner
        if self.probes[position].stacked:
            position = min((i for i in divergent if self.probes[i].owner == owner),
                           key=lambda i: (math.inf if diffs[i].first_step is None else diffs[i].first_step, i))
        diff, probe = diffs[position], self.probes[position]
        upstream = [diffs[i].rel_error for i in self.inputs[position] if diffs[i] is not None]
        return Offender(position, probe.label, probe.op, diff.rel_error, max(upstream) if upstream else None,
                        self.floor_ratio(position, diff), diff.first_step)

    def worst(self, key: str) -> tuple[Probe, Diff]:
        position, diff = max(((i, d) for i, d in enumerate(self.diffs[key]) if d is not None),
                             key=lambda item: item[1].rel_error if not math.isnan(item[1].rel_error) else math.inf)
        return self.probes[position], diff

    @property
    def criterion(self) -> str:
        """What makes a node divergent, in words."""
        if self.floors is None:
            return f"over tolerance {self.tolerance:g}"
        return f"divergent (over {self.tolerance:g} and over {self.noise_factor:g}x MXNet's float32 rounding)"



def past(diff: Diff, floor: float | None, tolerance: float, noise_factor: float) -> bool:
    """Past ``tolerance``, and (with MXNet float32's distance ``floor`` from float64) further from float64 than
    ``noise_factor`` x ``floor``."""
    if diff.rel_error <= tolerance:  # NaN is past it
        return False
    if floor is None or diff.fp64_rel_error is None:
        return True
    return not diff.fp64_rel_error <= noise_factor * floor


def step_diff(ref: np.ndarray, out: np.ndarray, exact: np.ndarray | None, tolerance: float,
              noise_factor: float) -> Diff:
    """:func:`tensor_diff` of a loop body node's stacked steps, with the first step past the criterion."""
    whole = tensor_diff(ref, out, exact)
    if ref.shape != out.shape:
        return dataclasses.replace(whole, first_step=0)
    for step in range(ref.shape[0]):
        rows = slice(step, step + 1)  # one step as one image
        floor = None if exact is None else tensor_diff(exact[rows], ref[rows]).rel_error
        if past(tensor_diff(ref[rows], out[rows], None if exact is None else exact[rows]), floor, tolerance,
                noise_factor):
            return dataclasses.replace(whole, first_step=step)
    return whole


def tensor_diff(ref: np.ndarray, out: np.ndarray, exact: np.ndarray | None = None) -> Diff:
    """Max abs error, error relative to the reference's scale and cosine (float64), and with ``exact`` the
    relative error against it; a shape mismatch is inf."""
    if ref.shape != out.shape:
        return Diff(math.inf, math.inf, 0.0, None if exact is None else math.inf)
    if ref.size == 0:
        return Diff(0.0, 0.0, 1.0, None if exact is None else 0.0)
    r, o = ref.astype(np.float64), out.astype(np.float64)
    fp64 = None if exact is None else max_rel_error(exact, o)
    return Diff(max_abs_error(r, o), max_rel_error(r, o), float(cosine_similarity(r, o).min()), fp64)



def compare_layers(reference: MxnetInternals, graph: Graph, targets: dict[str, Backend], tolerance: float,
                   chunk_bytes: int = CHUNK_BYTES, model: str = "", source: str = "",
                   exact: MxnetInternals | None = None, noise_factor: float = NOISE_FACTOR) -> LayerReport:
    """Run MXNet (and with ``exact``, MXNet in float64) and each target chunk by chunk and compare every probe;
    nothing is kept but the metrics. The inputs are the reference's (:attr:`MxnetInternals.feeds`)."""
    feeds = reference.feeds
    batch = next(iter(feeds.values()))
    probes = probes_of(graph, reference.shapes)
    for key, target in targets.items():
        if not any(target.has(p) for p in probes):
            raise MxConvertError(f"the {BACKENDS[key]} model holds none of the checkpoint's node outputs "
                                 "(was it converted from this checkpoint?)")
    inputs = probe_inputs(graph, probes)
    diffs: dict[str, list[Diff | None]] = {key: [] for key in targets}
    not_run: list[int] = []
    floors: list[float] | None = None if exact is None else []
    budget = chunk_bytes if exact is None else chunk_bytes // 2  # a float64 tensor counts twice
    for chunk in chunks(probes, batch.shape[0], budget):
        ref = reference.fetch(feeds, chunk)
        ref64 = {} if exact is None else exact.fetch(feeds, chunk)
        not_run += [probes.index(p) for p in chunk if p.label not in ref]  # a branch not taken has no value
        if floors is not None:
            floors += [tensor_diff(ref64[p.label], ref[p.label]).rel_error if p.label in ref else math.nan
                       for p in chunk]
        for key, target in targets.items():
            out = target.fetch(feeds, chunk)
            diffs[key] += [None if p.label not in out or p.label not in ref else
                           step_diff(ref[p.label], out[p.label], ref64.get(p.label), tolerance, noise_factor)
                           if p.stacked else tensor_diff(ref[p.label], out[p.label], ref64.get(p.label))
                           for p in chunk]
            del out
        del ref, ref64
    return LayerReport(model, source, tuple(batch.shape), tolerance, probes, diffs, inputs, floors, noise_factor,
                       not_run=not_run)



def float64_reference(checkpoint: Checkpoint, epoch: int, feeds: Feeds, graph: Graph, probes: Sequence[Probe]
                      ) -> tuple[MxnetInternals | None, str | None]:
    """MXNet in float64 for the noise floor, tried on the graph's outputs first; else None and why not."""
    heads = {(ref.node, ref.index) for ref in graph.outputs}
    try:
        exact = MxnetInternals(checkpoint, epoch, feeds, dtype="float64")
        exact.fetch(feeds, [p for p in probes if (p.node, p.index) in heads])
    except MxConvertError as exc:
        return None, str(exc).split(": ", 1)[-1]
    return exact, None


def checkpoint_report(checkpoint: Checkpoint, epoch: int, given: Given, onnx_model: str | None = None,
                      kit_model: str | None = None, pytorch_model: str | None = None, tolerance: float = 1e-5,
                      noise_factor: float = NOISE_FACTOR, source: str = "") -> LayerReport:
    """The layer report of a checkpoint's converted files on ``given`` (an array for the data input, or arrays
    by input name): MXNet in float32 and in float64 (where it can run it) against each target given."""
    paths = CheckpointPaths.of(checkpoint, epoch)
    reference = MxnetInternals(paths, epoch, given)
    graph = read_symbol(paths.symbol)
    probes = probes_of(graph, reference.shapes)
    exact, float64_note = float64_reference(paths, epoch, reference.feeds, graph, probes)
    targets: dict[str, Backend] = {}
    if onnx_model is not None:
        targets["onnxruntime"] = OrtInternals(onnx_model, probes)
    if kit_model is not None:
        targets["pytorch"] = TorchInternals(kit_model, pytorch_model, graph)
    report = compare_layers(reference, graph, targets, tolerance, model=paths.name, source=source,
                            exact=exact, noise_factor=noise_factor)
    report.float64_note = float64_note
    return report
