"""The Python API as the README shows it: its example block runs as written, against real MXNet output."""
from __future__ import annotations

import os
import re

import numpy as np
import torch

from conftest import ROOT
from mxcases import S, assert_close, mx


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- api-example:start.*?-->\n```python\n(.*?)```\n<!-- api-example:end -->", text, re.S)
    assert block, "README lost its API example"
    return block.group(1)


def test_readme_api_example_runs_and_matches_mxnet(tmp_path, capsys):
    sym = S.LinearRegressionOutput(S.FullyConnected(S.relu(S.FullyConnected(S.var("data"), num_hidden=8, name="fc1")),
                                                    num_hidden=2, name="fc2"), name="reg")
    rng = np.random.default_rng(7)
    params = {"fc1_weight": rng.normal(size=(8, 4)), "fc1_bias": rng.normal(size=8),
              "fc2_weight": rng.normal(size=(2, 8)), "fc2_bias": rng.normal(size=2)}
    mx.model.save_checkpoint(str(tmp_path / "mlp"), 0, sym, {k: mx.nd.array(v) for k, v in params.items()}, {})
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(_readme_example(), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    assert "'mxnet': (3, 2)" in capsys.readouterr().out
    outputs, rows = namespace["outputs"], namespace["rows"]
    executor = sym.simple_bind(mx.cpu(), data=rows.shape, grad_req="null")
    for name, value in params.items():
        executor.arg_dict[name][:] = value
    executor.arg_dict["data"][:] = rows
    want = [executor.forward(is_train=False)[0].asnumpy()]
    assert_close(want, outputs["mxnet"])
    assert_close(want, outputs["onnxruntime"])
    with torch.no_grad():
        assert_close(want, [namespace["module"](torch.from_numpy(rows)).numpy()])
    assert "class KitModel(nn.Module)" in namespace["source"]
    assert (tmp_path / "mlp.onnx").is_file()
