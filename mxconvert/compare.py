"""Compare converted models' outputs with the original MXNet outputs: metrics, list files, reports.

Definitions (float64 throughout):

* Max Absolute error: ``max |ref - out|`` over every element of every output.
* Max Relative error: ``max |ref - out| / max |ref|`` per image (per row of the batch axis; the
  whole output when it has none), then the largest over images and outputs. Dividing by the
  output's scale rather than elementwise keeps it meaningful near zero. ``0/0`` is 0; a nonzero
  error against an all-zero reference is ``inf``.
* Cosine similarity: per image (each row flattened), the smallest reported; two zero rows count
  as 1, one zero row as 0.
* Top-k agreement: for class-score outputs (2-D ``N x C`` with ``C >= 5``), the mean over rows of
  ``|topk(ref) & topk(out)| / k``; Top-1 is argmax agreement. Otherwise "n/a".
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import math
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from prettytable import PrettyTable

from .api import labels
from .errors import EXIT_OK, EXIT_TOLERANCE, MxConvertError
from .fileio import load_outputs

MIN_CLASSES = 5
FORMATS = ("table", "markdown", "json", "csv")


@dataclass(frozen=True)
class Metrics:
    """Worst-case agreement of one backend's outputs with the reference outputs."""

    max_abs_error: float
    max_rel_error: float
    min_cosine_similarity: float
    top1_agreement: float | None
    top5_agreement: float | None
    images: int
    worst_image: int | None
    mean_image_rel_error: float | None


@dataclass(frozen=True)
class Suite:
    """What one comparison script compares: list-file keys, labels and table layout."""

    backends: dict[str, str]
    corner: tuple[str, str]
    models_as_columns: bool


ONNX = Suite(labels("onnx_mxnet", "onnxruntime"),
             ("MAX Errors to original", "MXNet model output"), models_as_columns=True)
PYTORCH = Suite(labels("pytorch"),
                ("MAX Errors PyTorch model to original", "MXNet model output"), models_as_columns=False)


@dataclass(frozen=True)
class ModelEntry:
    """One list-file line: a model's MXNet output file and its converted outputs' files."""

    name: str
    line: int
    mxnet: Path
    outputs: dict[str, Path]
    mxnet_fp64: Path | None = None  # MXNet run in float64: the exact result, to show MXNet's own rounding
    not_run: dict[str, str] = field(default_factory=dict)  # backend key -> why it gave no output (run_all)


@dataclass(frozen=True)
class Result:
    """Metrics of one model, backend and (with ``--per_output``) output index."""

    model: str
    backend: str
    output: int | None
    metrics: Metrics
    worst_image_file: str | None
    mxnet_rounding: float | None = None  # Max Relative error of MXNet's float32 output against float64
    fp64_rel_error: float | None = None  # this backend's Max Relative error against MXNet's float64 output

    @property
    def label(self) -> str:
        suffix = "" if self.output is None else f" output {self.output}"
        return f"{self.model} {self.backend}{suffix}"


# ---------------------------------------------------------------- metrics

def _rows(array: np.ndarray) -> np.ndarray:
    """View as (images, features) float64: the leading axis is the batch axis when ndim >= 2."""
    a = np.asarray(array, dtype=np.float64)
    return a.reshape(1, -1) if a.ndim < 2 else a.reshape(a.shape[0], -1)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0/0 -> 0 and x/0 -> inf, without warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    return np.where((num == 0) & (den == 0), 0.0, ratio)


def max_abs_error(ref: np.ndarray, out: np.ndarray) -> float:
    """Largest elementwise ``|ref - out|``."""
    return float(np.abs(np.asarray(ref, np.float64) - np.asarray(out, np.float64)).max())


def per_image_rel_error(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Per image: ``max |ref - out| / max |ref|`` (see the module docstring for zeros)."""
    r, o = _rows(ref), _rows(out)
    return _safe_ratio(np.abs(r - o).max(axis=1), np.abs(r).max(axis=1))


def max_rel_error(ref: np.ndarray, out: np.ndarray) -> float:
    """Largest per-image relative error (the whole array when it has no batch axis)."""
    return float(per_image_rel_error(ref, out).max())


def cosine_similarity(ref: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Cosine similarity of each image's flattened row; zero vs zero is 1, zero vs nonzero is 0."""
    r, o = _rows(ref), _rows(out)
    norms = np.linalg.norm(r, axis=1) * np.linalg.norm(o, axis=1)
    dots = np.einsum("ij,ij->i", r, o)
    both_zero = ~r.any(axis=1) & ~o.any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cos = np.where(norms == 0, 0.0, dots / norms)
    return np.where(both_zero, 1.0, np.clip(cos, -1.0, 1.0))


def looks_like_scores(array: np.ndarray) -> bool:
    """2-D ``N x C`` with at least MIN_CLASSES classes."""
    return array.ndim == 2 and array.shape[1] >= MIN_CLASSES


def topk_agreement(ref: np.ndarray, out: np.ndarray, k: int) -> float:
    """Mean over rows of the overlap of the two top-k class sets, as a fraction of k."""
    r, o = np.asarray(ref, np.float64), np.asarray(out, np.float64)
    if r.ndim != 2 or r.shape != o.shape or not 1 <= k <= r.shape[1]:
        raise ValueError(f"top-{k} agreement needs two N x C arrays with C >= {k}")
    top_r = np.argsort(-r, axis=1, kind="stable")[:, :k]
    top_o = np.argsort(-o, axis=1, kind="stable")[:, :k]
    hits = [len(np.intersect1d(a, b)) for a, b in zip(top_r, top_o)]
    return float(np.mean(hits)) / k


def _batch_size(arrays: Sequence[np.ndarray]) -> int:
    """N when every output has the same leading batch axis (ndim >= 2), else 1."""
    leading = {a.shape[0] if a.ndim >= 2 else 1 for a in arrays}
    return leading.pop() if len(leading) == 1 else 1


def compare_outputs(ref_list: Sequence[np.ndarray], out_list: Sequence[np.ndarray]) -> Metrics:
    """Worst case over all outputs; raises MxConvertError on mismatched output counts or shapes."""
    if len(ref_list) != len(out_list):
        raise MxConvertError(f"{len(out_list)} output(s), but the MXNet model has {len(ref_list)}")
    if not ref_list:
        raise MxConvertError("no outputs to compare")
    for index, (ref, out) in enumerate(zip(ref_list, out_list)):
        if ref.shape != out.shape:
            raise MxConvertError(f"output {index} has shape {out.shape}, but MXNet's has {ref.shape}")
        if ref.size == 0:
            raise MxConvertError(f"output {index} is empty (shape {ref.shape})")
    pairs = list(zip(ref_list, out_list))
    images = _batch_size(ref_list)
    rels = [per_image_rel_error(r, o) for r, o in pairs]
    image_rel = np.max(np.stack(rels), axis=0) if images > 1 else np.array([np.max(np.concatenate(rels))])
    scores = [(r, o) for r, o in pairs if looks_like_scores(r)]
    return Metrics(
        max_abs_error=float(np.max([max_abs_error(r, o) for r, o in pairs])),
        max_rel_error=float(image_rel.max()),
        min_cosine_similarity=float(np.min(np.concatenate([cosine_similarity(r, o) for r, o in pairs]))),
        top1_agreement=min(topk_agreement(r, o, 1) for r, o in scores) if scores else None,
        top5_agreement=min(topk_agreement(r, o, 5) for r, o in scores) if scores else None,
        images=images,
        worst_image=int(np.argmax(image_rel)) if images > 1 else None,
        mean_image_rel_error=float(image_rel.mean()) if images > 1 else None,
    )


# ---------------------------------------------------------------- list files

def parse_list_file(path: str | Path, suite: Suite) -> list[ModelEntry]:
    """Read ``NAME mxnet=PATH KEY=PATH ...`` lines; paths are relative to the list file."""
    list_path = Path(path)
    try:
        text = list_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MxConvertError("no such file", str(list_path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MxConvertError(f"cannot read list file ({exc})", str(list_path)) from None
    allowed = ["mxnet", "mxnet_fp64", *suite.backends]
    entries: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{list_path}:{number}"
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise MxConvertError(f"cannot split line ({exc})", where) from None
        if not tokens:
            continue
        name, pairs = tokens[0], tokens[1:]
        if "=" in name:
            raise MxConvertError(f"line must start with a model name, got {name!r}", where)
        if name in seen:
            raise MxConvertError(f"duplicate model {name!r} (first on line {seen[name]})", where)
        files: dict[str, Path] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep:
                raise MxConvertError(f"expected KEY=PATH, got {pair!r} (quote model names with spaces)", where)
            if key not in allowed:
                raise MxConvertError(f"unknown key {key!r} (expected one of: {', '.join(allowed)})", where)
            if key in files:
                raise MxConvertError(f"duplicate key {key!r}", where)
            if not value:
                raise MxConvertError(f"empty path for {key}=", where)
            files[key] = list_path.parent / value
        if "mxnet" not in files:
            raise MxConvertError(f"model {name!r} has no mxnet=PATH", where)
        if not set(files) & set(suite.backends):
            raise MxConvertError(f"model {name!r} has no converted output "
                                 f"(expected one of: {', '.join(suite.backends)})", where)
        for key, file in files.items():
            if not file.is_file():
                raise MxConvertError(f"missing file for {key}=: {file}", where)
        seen[name] = number
        outputs = {key: files[key] for key in suite.backends if key in files}
        entries.append(ModelEntry(name, number, files["mxnet"], outputs, files.get("mxnet_fp64")))
    if not entries:
        raise MxConvertError("no models listed", str(list_path))
    return entries


def image_names(mxnet_path: Path, images: int) -> list[str] | None:
    """Names from ``<stem>.files.txt`` beside the MXNet output, one per image, if present."""
    names_path = mxnet_path.with_name(f"{mxnet_path.stem}.files.txt")
    if not names_path.is_file():
        return None
    names = [line for line in names_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != images:
        raise MxConvertError(f"lists {len(names)} file name(s), but the outputs hold {images} image(s)",
                             str(names_path))
    return names


def compare_entries(entries: Sequence[ModelEntry], suite: Suite, per_output: bool) -> list[Result]:
    """Load every listed output and compare each backend with MXNet (and, where listed, MXNet float64)."""
    results = []
    for entry in entries:
        ref = load_outputs(entry.mxnet)
        names = image_names(entry.mxnet, _batch_size(ref))
        picks = {index: slice(None) if index is None else slice(index, index + 1)
                 for index in (range(len(ref)) if per_output else [None])}
        exact, rounding = None, dict.fromkeys(picks)
        if entry.mxnet_fp64 is not None:
            exact = load_outputs(entry.mxnet_fp64)
            try:  # MXNet float32's own distance from float64, once per output reported
                rounding = {index: compare_outputs(exact[pick], ref[pick]).max_rel_error
                            for index, pick in picks.items()}
            except MxConvertError as exc:
                raise MxConvertError(f"{entry.name} MXNet float64: {exc}", str(entry.mxnet_fp64)) from None
        for key, path in entry.outputs.items():
            backend = suite.backends[key]
            out = load_outputs(path)
            for index, pick in picks.items():
                try:
                    metrics = compare_outputs(ref[pick], out[pick])
                except MxConvertError as exc:
                    raise MxConvertError(f"{entry.name} {backend}: {exc} ({entry.mxnet})", str(path)) from None
                file = names[metrics.worst_image] if names and metrics.worst_image is not None else None
                fp64_error = None if exact is None else compare_outputs(exact[pick], out[pick]).max_rel_error
                results.append(Result(entry.name, backend, index, metrics, file, rounding[index], fp64_error))
    return results


# ---------------------------------------------------------------- reports

def not_run_lines(entries: Sequence[ModelEntry], suite: Suite) -> list[str]:
    """One line per model and backend of ``suite`` that has no column because it could not run the model."""
    return [f"{suite.backends[key]} did not run {entry.name}: {reason}"
            for entry in entries for key, reason in entry.not_run.items() if key in suite.backends]


def fmt_number(value: float | None) -> str:
    """8 significant digits like ``3.1292439e-07``; None is "n/a"."""
    return "n/a" if value is None else format(value, ".8g")


def _fmt_percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.8g}%"


ROWS = ("Max Absolute error", "Max Relative error", "Min Cosine similarity", "Top-1 agreement",
        "Top-5 agreement")
BATCH_ROWS = ("Images", "Worst image", "Mean image Relative error")
EXACT_ROWS = ("Max Relative error vs MXNet float64", "MXNet float32 vs float64")


def _cells(result: Result, batch: bool, rounding: bool) -> list[str]:
    m = result.metrics
    cells = [fmt_number(m.max_abs_error), fmt_number(m.max_rel_error), fmt_number(m.min_cosine_similarity),
             _fmt_percent(m.top1_agreement), _fmt_percent(m.top5_agreement)]
    if rounding:
        cells += [fmt_number(result.fp64_rel_error), fmt_number(result.mxnet_rounding)]
    if batch:
        worst = "n/a" if m.worst_image is None else str(m.worst_image)
        if result.worst_image_file:
            worst += f" ({result.worst_image_file})"
        cells += [str(m.images), worst, fmt_number(m.mean_image_rel_error)]
    return cells


def _grid(results: Sequence[Result], suite: Suite, corner: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows in the suite's layout; batch rows only when some output has N > 1."""
    batch = any(r.metrics.images > 1 for r in results)
    rounding = any(r.mxnet_rounding is not None for r in results)
    names = [*ROWS, *(EXACT_ROWS if rounding else ()), *(BATCH_ROWS if batch else ())]
    cells = [_cells(r, batch, rounding) for r in results]
    if suite.models_as_columns:
        return [corner, *(r.label for r in results)], [[n, *col] for n, col in zip(names, zip(*cells))]
    labels = [r.model if r.output is None else f"{r.model} output {r.output}" for r in results]
    return [corner, *names], [[label, *row] for label, row in zip(labels, cells)]


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _records(results: Sequence[Result]) -> list[dict[str, object]]:
    return [{"model": r.model, "backend": r.backend, "output": r.output,
             **{k: _json_value(v) for k, v in asdict(r.metrics).items()},
             "worst_image_file": r.worst_image_file, "mxnet_rounding": _json_value(r.mxnet_rounding),
             "fp64_rel_error": _json_value(r.fp64_rel_error)}
            for r in results]


def render(results: Sequence[Result], suite: Suite, fmt: str) -> str:
    """The report as a prettytable box, a GitHub markdown table, JSON or CSV (one record per result)."""
    if fmt == "json":
        return json.dumps({"reference": "MXNet", "results": _records(results)}, indent=2, allow_nan=False)
    if fmt == "csv":
        records = _records(results)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if v is None else repr(v) if isinstance(v, float) else v
                          for k, v in rec.items()} for rec in records)
        return buffer.getvalue().rstrip("\n")
    if fmt == "markdown":
        return _markdown(*_grid(results, suite, " <br/>".join(suite.corner)))
    header, rows = _grid(results, suite, " ".join(suite.corner))
    table = PrettyTable(header)
    table.align = "l"
    table.add_rows(rows)
    return table.get_string()


# ---------------------------------------------------------------- the tolerance gate

AUTO = "auto"
FIXED_TOLERANCE = 1e-5
# --tolerance auto allows a converted output NOISE_FACTOR times MXNet's own float32 distance from float64.
# Exact conversions measured 0.56-1.21x at the output and at most 1.31x at any node past 1e-5 (ResNet-50/152 and
# Gluon ResNet-50 v1 with full-scale residual branches, 112 and 224, both targets: benchmarks/noise_floor.py);
# planted one-node bugs 176x (eps 1e-3 for 2e-5) to 1.9e5x (a pad off by one) at their node.
NOISE_FACTOR = 4.0


@dataclass(frozen=True)
class Verdict:
    """What the gate measured for one result: ``error`` against ``reference``, allowed up to ``bound``."""

    result: Result
    error: float
    bound: float
    reference: str

    @property
    def passed(self) -> bool:
        return self.error <= self.bound  # NaN never passes


def judge(result: Result, tolerance: float | str, noise_factor: float = NOISE_FACTOR) -> Verdict:
    """A fixed tolerance bounds the error against MXNet; ``auto`` bounds the distance from MXNet's float64
    result by max(1e-5, noise_factor x MXNet float32's own distance), or by 1e-5 against MXNet float32 where
    no float64 result exists."""
    if tolerance != AUTO:
        return Verdict(result, result.metrics.max_rel_error, float(tolerance), "MXNet")
    if result.fp64_rel_error is None or result.mxnet_rounding is None:
        return Verdict(result, result.metrics.max_rel_error, FIXED_TOLERANCE, "MXNet float32")
    bound = max(FIXED_TOLERANCE, noise_factor * result.mxnet_rounding)
    return Verdict(result, result.fp64_rel_error, bound, "MXNet float64")


def gate(results: Sequence[Result], tolerance: float | str | None, noise_factor: float = NOISE_FACTOR) -> int:
    """Print each output over its bound (and, for ``auto``, each model judged without a float64 result) to
    stderr; EXIT_TOLERANCE if any is over."""
    if tolerance is None:
        return EXIT_OK
    verdicts = [judge(r, tolerance, noise_factor) for r in results]
    if tolerance == AUTO:
        for model in dict.fromkeys(v.result.model for v in verdicts if v.reference == "MXNet float32"):
            print(f"note: {model} has no MXNet float64 result: judged at the fixed {FIXED_TOLERANCE:g} against "
                  "MXNet float32", file=sys.stderr)
    over = [v for v in verdicts if not v.passed]
    for v in over:
        print(f"over tolerance {tolerance}: {v.result.label}: Max Relative error {fmt_number(v.error)} against "
              f"{v.reference}, allowed {fmt_number(v.bound)}", file=sys.stderr)
    return EXIT_TOLERANCE if over else EXIT_OK


# ---------------------------------------------------------------- scripts

def parse_tolerance(text: str) -> float | str:
    """``auto`` or a non-negative number (an argparse type)."""
    if text == AUTO:
        return AUTO
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def parse_fixed_tolerance(text: str) -> float:
    """A non-negative number (an argparse type) where ``auto`` has no meaning."""
    value = parse_tolerance(text)
    if value == AUTO:
        raise argparse.ArgumentTypeError("takes a number here")
    return float(value)


def add_tolerance_flags(p: argparse.ArgumentParser, default: float | str | None, help_default: str) -> None:
    """``--tolerance`` (a number or ``auto``) and ``--noise_factor``."""
    p.add_argument("--tolerance", type=parse_tolerance, default=default,
                   help="exit 1 if an output's Max Relative error exceeds this; 'auto': judged against MXNet's "
                        "float64 result, allowing max(1e-5, NOISE_FACTOR x MXNet float32's own distance from it) "
                        f"({help_default})")
    p.add_argument("--noise_factor", type=float, default=NOISE_FACTOR,
                   help=f"with --tolerance auto: how many times MXNet's own float32 rounding a converted output "
                        f"may be from float64 (default {NOISE_FACTOR:g})")


def add_report_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (box), markdown (GitHub table), json or csv (default: table)")
    add_tolerance_flags(p, None, "default: no gate")
    p.add_argument("--per_output", action="store_true",
                   help="report every output of multi-output models instead of the worst")


def add_list_flag(p: argparse.ArgumentParser, flag: str, default: str, suite: Suite) -> None:
    """The list-file flag of ``suite``'s comparison script."""
    keys = " ".join(f"{key}=PATH" for key in suite.backends)
    p.add_argument(flag, default=default, help=f"list file: one model a line, NAME mxnet=PATH {keys} "
                                               "(see outputs_comparison/README.md)")


def report(list_file: str | Path, suite: Suite, args: argparse.Namespace) -> int:
    """Compare, print the report to stdout and offenders to stderr; the exit code."""
    results = compare_entries(parse_list_file(list_file, suite), suite, args.per_output)
    print(render(results, suite, args.format))
    return gate(results, args.tolerance, args.noise_factor)
