"""MXNet 1.9.1 as an oracle for graphs that may be hostile: it runs in a child process (hostile attribute values
can make MXNet segfault), restarted after each crash. ``python mxnet_oracle.py`` is that child.

The child runs MXNet's own CPU kernels (MKLDNN off): those are the semantics mxconvert reproduces. MKLDNN's
kernels differ on some inputs (SoftmaxOutput on 4-D data takes the last axis) and crash on others."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np


def run_in_mxnet(mx, symbol: str, weights: dict[str, np.ndarray], data: np.ndarray) -> list[np.ndarray] | None:
    """Inference outputs of the symbol JSON with these weights on ``data``, or None where MXNet rejects the
    graph (bad attributes, shapes it cannot infer, weights that do not fit)."""
    try:
        sym = mx.sym.load_json(symbol)
        arguments = set(sym.list_arguments())
        given = {name.split(":", 1)[1]: array.shape for name, array in weights.items()}
        given = {name: shape for name, shape in given.items() if name in arguments}
        args, _, aux = sym.infer_shape(data=data.shape, **given)
        if args is None or any(0 in shape for shape in args + aux):  # 0: a size MXNet could not infer
            return None
        executor = sym.simple_bind(mx.cpu(), data=data.shape, grad_req="null", **given)
        for name, array in weights.items():
            kind, key = name.split(":", 1)
            target = (executor.arg_dict if kind == "arg" else executor.aux_dict).get(key)
            if target is None or target.shape != array.shape:
                return None
            target[:] = array
        executor.arg_dict["data"][:] = data
        return [out.asnumpy() for out in executor.forward(is_train=False)]
    except (mx.base.MXNetError, RuntimeError):  # simple_bind re-raises MXNetError as RuntimeError
        return None


class MxnetOracle:
    """A long-lived MXNet child process answering ``run_in_mxnet`` requests; a crash answers None."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None

    def __call__(self, symbol: dict, weights: dict[str, np.ndarray], data: np.ndarray) -> list[np.ndarray] | None:
        if self.child is None or self.child.poll() is not None:
            env = {**os.environ, "MXNET_SUBGRAPH_BACKEND": "NONE", "MXNET_MKLDNN_ENABLED": "0", "PYTHONPATH": str(Path(__file__).parents[1])}
            self.child = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, env=env)
        try:
            pickle.dump((json.dumps(symbol), weights, data), self.child.stdin)
            self.child.stdin.flush()
            return pickle.load(self.child.stdout)
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):  # it died on this graph
            self.child.kill()
            self.child.wait()
            return None


def serve() -> None:
    from mxconvert.mxnet_compat import import_mxnet

    mx = import_mxnet()
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            symbol, weights, data = pickle.load(requests)
        except EOFError:
            return
        pickle.dump(run_in_mxnet(mx, symbol, weights, data), answers)
        answers.flush()


if __name__ == "__main__":
    serve()
