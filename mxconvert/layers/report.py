"""The layer report's formats: a table, a summary line per target, JSON, markdown and a plot of the error along
the graph."""
from __future__ import annotations

import io
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from prettytable import PrettyTable, TableStyle

from ..fileio import write_bytes, write_text
from .divergence import BACKENDS, LayerReport

PLOT_FLOOR = 1e-10  # exact agreement (0) is drawn here on the log axis


def _num(value: float) -> str:
    return format(value, ".2e")


def table(report: LayerReport, style: TableStyle = TableStyle.DEFAULT) -> str:
    """Node, op, shape, MXNet's float32 rounding (with float64) and per target max abs error, relative error
    (against MXNet and against float64) and cosine; first divergent nodes marked."""
    header = ["#", "node", "op", "shape"] + (["MXNet f32 vs f64"] if report.floors is not None else [])
    for key in report.diffs:
        label = BACKENDS[key]
        header += [f"{label} max abs", f"{label} rel"]
        header += [f"{label} vs f64"] if report.floors is not None else []
        header.append(f"{label} cosine")
    header.append("first divergent")
    firsts: dict[int, list[str]] = {}
    for key in report.diffs:
        if (offender := report.first_offender(key)) is not None:
            firsts.setdefault(offender.position, []).append(BACKENDS[key])
    grid = PrettyTable(header)
    grid.align = "l"
    for i, probe in enumerate(report.probes):
        row = [str(i), probe.label, probe.op, "x".join(map(str, probe.shape))]
        if report.floors is not None:
            row.append(_num(report.floors[i]))
        for key in report.diffs:
            diff = report.diffs[key][i]
            width = 4 if report.floors is not None else 3
            if diff is None:
                row += ["n/a"] * width
                continue
            row += [_num(diff.max_abs_error), _num(diff.rel_error)]
            row += [_num(diff.fp64_rel_error)] if report.floors is not None else []
            row.append(format(diff.cosine, ".7f"))
        row.append(("<< " + ", ".join(firsts[i])) if i in firsts else "")
        grid.add_row(row)
    grid.set_style(style)
    return grid.get_string()


def summary(report: LayerReport) -> list[str]:
    """One line per target: flat (with its worst node), or the first divergent node; a note first when MXNet
    could not run in float64."""
    lines = [] if report.float64_note is None else [
        f"note: MXNet cannot run this graph in float64 ({report.float64_note}): nodes are judged by the fixed "
        f"tolerance {report.tolerance:g} alone"]
    within = (f"within {report.tolerance:g} of their scale" if report.floors is None else
              f"within {report.tolerance:g} of their scale or {report.noise_factor:g}x MXNet's float32 rounding "
              "of float64")
    for key in report.diffs:
        label = BACKENDS[key]
        compared = sum(d is not None for d in report.diffs[key])
        missing = len(report.probes) - compared - len(report.not_run)
        absent = f"; {missing} node output(s) not in the model" if missing else ""
        absent += f"; {len(report.not_run)} body node output(s) not run" if report.not_run else ""
        offender = report.first_offender(key)
        if offender is None:
            probe, diff = report.worst(key)
            lines.append(f"{label}: flat: all {compared} node outputs {within} (worst {diff.rel_error:.2e} at "
                         f"{probe.label}, {probe.op}){absent}")
            continue
        before = ("its inputs were not compared" if offender.input_rel_error is None
                  else f"its inputs were at {offender.input_rel_error:.2e}")
        ratio = "" if offender.floor_ratio is None else \
            f", {offender.floor_ratio:.3g}x MXNet's float32 rounding from float64"
        at = "" if offender.step is None else f" at step {offender.step}"
        lines.append(f"{label}: first {report.criterion}: node {offender.node} ({offender.op}){at}, relative error "
                     f"{offender.rel_error:.2e}{ratio}; {before}, so the {offender.op} introduced the jump{absent}")
    return lines


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def to_json(report: LayerReport) -> str:
    targets = {}
    for key in report.diffs:
        offender = report.first_offender(key)
        targets[key] = {"label": BACKENDS[key], "first_divergent": None if offender is None else
                        {k: _json_float(v) if isinstance(v, float) else v for k, v in asdict(offender).items()}}
    nodes = []
    for i, probe in enumerate(report.probes):
        entry: dict[str, Any] = {"position": i, "node": probe.node, "output": probe.index, "op": probe.op,
                                 "shape": list(probe.shape),
                                 "mxnet_float32_vs_float64": None if report.floors is None else
                                 _json_float(report.floors[i])}
        for key in report.diffs:
            diff = report.diffs[key][i]
            entry[key] = None if diff is None else {k: v if v is None else _json_float(v)
                                                    for k, v in asdict(diff).items()}
        nodes.append(entry)
    document = {"reference": "MXNet", "model": report.model, "input": report.input,
                "input_shape": list(report.input_shape), "tolerance": report.tolerance,
                "noise_factor": report.noise_factor if report.floors is not None else None,
                "float64_note": report.float64_note, "targets": targets, "nodes": nodes}
    return json.dumps(document, indent=1, allow_nan=False) + "\n"


def to_markdown(report: LayerReport) -> str:
    shape = "x".join(map(str, report.input_shape))
    lines = [f"# Layer-by-layer divergence from MXNet: {report.model}", "",
             f"Input `{report.input}` ({shape}); tolerance {report.tolerance:g} of each tensor's scale "
             "(max |MXNet - target| / max |MXNet|, per image)"
             + ("." if report.floors is None else
                f"; a node diverges only when also further from MXNet's float64 result than "
                f"{report.noise_factor:g}x MXNet float32's own distance from it (column MXNet f32 vs f64)."), "",
             *(f"* {line}" for line in summary(report)), "", "![divergence](divergence.png)", "",
             table(report, TableStyle.MARKDOWN), ""]
    return "\n".join(lines)


def plot(report: LayerReport) -> bytes:
    """PNG: relative error per node along the graph, log scale, one line per target, first offenders marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 5.5), dpi=100)
    positions = np.arange(len(report.probes))
    for key, diffs in report.diffs.items():
        rel = np.array([np.nan if d is None else d.rel_error for d in diffs], dtype=np.float64)
        line, = axes.plot(positions, np.maximum(rel, PLOT_FLOOR), linewidth=1.2, label=BACKENDS[key])
        offender = report.first_offender(key)
        if offender is not None:
            color = line.get_color()
            y = max(offender.rel_error, PLOT_FLOOR) if math.isfinite(offender.rel_error) else 1.0
            axes.axvline(offender.position, color=color, linestyle=":", linewidth=1)
            axes.plot([offender.position], [y], "o", color=color, markersize=9, markerfacecolor="none",
                      markeredgewidth=2, label=f"{BACKENDS[key]}: first divergent at "
                                              f"#{offender.position} {offender.node} ({offender.op})")
            axes.annotate(offender.node, (offender.position, y), xytext=(8, -14), textcoords="offset points",
                          color=color, fontsize=10, fontweight="bold")
    axes.axhline(report.tolerance, color="red", linestyle="--", linewidth=1,
                 label=f"tolerance {report.tolerance:g}")
    if report.floors is not None:
        floors = report.noise_factor * np.array(report.floors, dtype=np.float64)
        axes.plot(positions, np.maximum(floors, PLOT_FLOOR), color="gray", linestyle=":", linewidth=1.2,
                  label=f"{report.noise_factor:g}x MXNet float32 vs float64 (noise floor)")
    axes.set_yscale("log")
    axes.set_xlim(-0.5, max(len(report.probes) - 0.5, 0.5))
    if len(report.probes) <= 40:
        axes.set_xticks(positions, [p.label for p in report.probes], rotation=45, ha="right")
    axes.set_xlabel("node in graph order (depth)")
    axes.set_ylabel("max |MXNet - target| / max |MXNet|")
    shape = "x".join(map(str, report.input_shape))
    exact = any(d is not None and d.rel_error == 0 for diffs in report.diffs.values() for d in diffs)
    axes.set_title(f"{report.model}: relative error per node against MXNet (input {shape})"
                   + (f"; exact agreement drawn at {PLOT_FLOOR:g}" if exact else ""))
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(0, -0.12 if len(report.probes) > 40 else -0.25), ncol=2,
                frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def write_report(report: LayerReport, folder: str | Path) -> list[Path]:
    """``report.md``, ``report.json`` and ``divergence.png`` in ``folder``, each written atomically."""
    root = Path(folder)
    paths = [root / "report.md", root / "report.json", root / "divergence.png"]
    write_text(paths[0], to_markdown(report))
    write_text(paths[1], to_json(report))
    write_bytes(paths[2], plot(report))
    return paths
