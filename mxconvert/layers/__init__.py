"""Where a conversion goes wrong: every intermediate tensor of the converted models against MXNet's.

Tensors are paired by MXNet node name (output ``i`` of a multi-output node as ``node:i``):

* MXNet runs its symbol's internals (``sym.get_internals()``);
* ONNX Runtime runs a copy of our file with ``<node>_output`` / ``<node>_output<i>`` made graph outputs;
* PyTorch runs the generated ``forward`` with a tap after each assignment (one line per MXNet node).

A node inside a control-flow body is a row ``outer/inner``; a loop body node's value is its steps stacked along
a new axis 0 (:mod:`bodies`).

MXNet also runs in float64, the exact result: at each node, MXNet float32's own distance from it is the noise
floor. A node diverges when a target is past the tolerance against MXNet float32 and further from float64 than
``noise_factor`` times that floor, so float32 rounding that MXNet shares is never mistaken for a bug. Where MXNet
cannot run the graph in float64, the fixed tolerance alone decides (and the report says so).

Memory stays bounded: the probes (node outputs in graph order) are split into chunks of at most
``chunk_bytes`` per backend (float64 counted twice). Each chunk is one forward pass per backend, compared and
dropped before the next; every backend stops at the chunk's last node, so a pass costs only the graph up to there.

Modules: ``probes`` (the rows and their chunks), ``taps`` (each backend's tensors), ``bodies`` (those inside
control-flow bodies), ``divergence`` (the comparison, :func:`divergence.checkpoint_report`), ``report`` (table,
summary, JSON, markdown, plot); :func:`main` is ``compare_layers.py``.
"""
from __future__ import annotations

import argparse
import sys

from .. import cli
from ..errors import EXIT_OK, EXIT_TOLERANCE, MxConvertError
from ..inference import input_sources, load_named
from ..preprocess import load_input
from .divergence import BACKENDS, checkpoint_report
from .report import summary, table, write_report


def main(args: argparse.Namespace) -> int:
    """``compare_layers.py``: print the table and summary, write the report; exit 1 when a node is over."""
    if len(args.input_shape) != 2:
        raise MxConvertError(f"--input_shape takes H,W, got {args.input_shape}")
    if (args.kit_model is None) != (args.pytorch_model is None):
        raise MxConvertError("--kit_model and --pytorch_model go together")
    if args.onnx_model is None and args.kit_model is None:
        raise MxConvertError("nothing to compare: give --onnx_model and/or --kit_model with --pytorch_model")
    sources = input_sources(args.input_image)
    given = (load_input(sources, args.input_shape).array if isinstance(sources, str)
             else load_named(sources, args.input_shape)[0])
    report = checkpoint_report(cli.checkpoint_of(args), args.epoch, given, args.onnx_model, args.kit_model,
                               args.pytorch_model, args.tolerance, args.noise_factor, source=" ".join(args.input_image))
    print(table(report))
    for line in summary(report):
        print(line)
    paths = write_report(report, args.report)
    print(f"report: {', '.join(map(str, paths))}")
    over = [key for key in report.diffs if report.first_offender(key) is not None]
    if over:
        print(f"{report.criterion}: {', '.join(BACKENDS[k] for k in over)}", file=sys.stderr)
    return EXIT_TOLERANCE if over else EXIT_OK
