"""Ops the reader has no schema for (a Python ``Custom`` op, MXNet ops not converted yet) and the legacy
BatchNorms' auxiliary states: read from real MXNet checkpoints, refused by name with the other unsupported ops."""
from __future__ import annotations

import numpy as np
import pytest
from mxcases import S, mx

from mxconvert.checkpoint import load_checkpoint
from mxconvert.errors import UnsupportedOpsError
from mxconvert.ir import VarKind
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_torch import TorchOptions, emit_pytorch


class _NegativeMining(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        self.assign(out_data[0], req[0], in_data[0])
        self.assign(out_data[1], req[1], in_data[1])


@mx.operator.register("negativemining")
class _NegativeMiningProp(mx.operator.CustomOpProp):
    """MTCNN's online hard-example mining: the class probabilities and a keep mask, with a running count."""

    def __init__(self):
        super().__init__(need_top_grad=False)

    def list_arguments(self):
        return ["cls_prob", "label"]

    def list_outputs(self):
        return ["cls_out", "cls_keep"]

    def list_auxiliary_states(self):
        return ["count"]

    def infer_shape(self, in_shape):
        return in_shape, in_shape, [(1,)]

    def create_operator(self, ctx, shapes, dtypes):
        return _NegativeMining()


def _save(sym, prefix, data_shape, **shapes):
    """MXNet's own checkpoint of ``sym`` (random weights, moving statistics as aux states)."""
    executor = sym.simple_bind(mx.cpu(), data=data_shape, grad_req="null", **shapes)
    rng = np.random.default_rng(0)
    for array in [*executor.arg_dict.values(), *executor.aux_dict.values()]:
        array[:] = rng.uniform(0.5, 1.5, array.shape)
    args = {k: v for k, v in executor.arg_dict.items() if k != "data" and k not in shapes}
    mx.model.save_checkpoint(str(prefix), 0, sym, args, executor.aux_dict)
    return load_checkpoint(str(prefix))


def _both_refuse(graph, shape) -> list[str]:
    messages = []
    for emit in (lambda: export_onnx(graph, ExportOptions(input_shape=shape)),
                 lambda: emit_pytorch(graph, TorchOptions(shape))):
        with pytest.raises(UnsupportedOpsError) as info:
            emit()
        messages.append(str(info.value))
    return messages


def test_custom_op_with_aux_state_and_two_outputs_is_refused_by_op_type(tmp_path):
    """A published MTCNN training graph: the Custom op's second output is a head and it keeps an aux state."""
    d = S.var("data")
    prob = S.softmax(S.FullyConnected(d, num_hidden=2, name="fc"), name="cls_prob")
    mined = S.Custom(prob, S.var("label"), op_type="negativemining", name="negative_mining")
    graph = _save(S.Group([mined[0], S.BlockGrad(mined[1], name="keep")]), tmp_path / "mtcnn", (4, 6),
                  label=(4, 2))
    assert graph.variables["negative_mining_count"].kind is VarKind.AUX
    assert next(n for n in graph.nodes if n.op == "Custom").num_outputs == 2
    for message in _both_refuse(graph, (4, 6)):
        assert "unsupported ops: Custom [op_type negativemining] (negative_mining)" in message


def test_custom_op_under_its_numpy_name_is_refused_by_op_type(tmp_path):
    """``_npi_Custom`` (the name ``npx`` code may write) is read as ``Custom``."""
    d = S.var("data")
    mined = S.Custom(S.softmax(d, name="cls_prob"), S.var("label"), op_type="negativemining", name="negative_mining")
    _save(S.Group([mined[0], S.BlockGrad(mined[1], name="keep")]), tmp_path / "mtcnn", (4, 2), label=(4, 2))
    symbol = tmp_path / "mtcnn-symbol.json"
    symbol.write_text(symbol.read_text().replace('"op": "Custom"', '"op": "_npi_Custom"'))
    graph = load_checkpoint(str(tmp_path / "mtcnn"))
    custom = next(n for n in graph.nodes if n.op == "Custom")
    assert custom.spelling == "_npi_Custom" and custom.num_outputs == 2
    for message in _both_refuse(graph, (4, 2)):
        assert "unsupported ops: Custom [op_type negativemining] (negative_mining)" in message


def test_unknown_ops_read_with_the_outputs_their_readers_read(tmp_path):
    """Ops of a fork of MXNet (no schema: ``_linalg_syevd`` and ``_linalg_gelqf`` renamed in the symbol file of
    MXNet's own checkpoint): their second outputs read, both refused at once."""
    d = S.var("data")
    square = S.reshape(d, shape=(2, 3, 3))
    vectors, values = S.linalg.syevd(square + S.transpose(square, axes=(0, 2, 1)), name="ev")
    gelqf = S.linalg.gelqf(square, name="lq")
    _save(S.Group([S.batch_dot(vectors, gelqf[1]), values]), tmp_path / "stats", (2, 9))
    symbol = tmp_path / "stats-symbol.json"
    symbol.write_text(symbol.read_text().replace('"_linalg_syevd"', '"_fork_syevd"')
                      .replace('"_linalg_gelqf"', '"_fork_gelqf"'))
    graph = load_checkpoint(str(tmp_path / "stats"))
    assert {node.op: node.num_outputs for node in graph.nodes if node.op.startswith("_fork")} == {
        "_fork_syevd": 2, "_fork_gelqf": 2}
    for message in _both_refuse(graph, (2, 9)):
        assert "_fork_gelqf (lq)" in message and "_fork_syevd (ev)" in message


def test_legacy_batch_norms_read_their_moving_statistics_as_aux(tmp_path):
    """BatchNorm_v1, SyncBatchNorm and BatchNormWithReLU checkpoints: the moving statistics are aux states."""
    d = S.var("data")
    x = S.BatchNorm_v1(S.Convolution_v1(d, kernel=(3, 3), num_filter=4, name="conv"), name="bn1")
    x = S.contrib.SyncBatchNorm(x, key="sync", name="bn2")
    x = S.Pooling_v1(S.contrib.BatchNormWithReLU(x, name="bn3"), kernel=(2, 2), pool_type="avg", name="pool")
    graph = _save(x, tmp_path / "legacy", (1, 3, 8, 8))
    assert sorted(graph.aux) == sorted(f"bn{i}_moving_{s}" for i in (1, 2, 3) for s in ("mean", "var"))
    assert {n.op for n in graph.nodes} == {"Convolution", "BatchNorm_v1", "_contrib_SyncBatchNorm",
                                           "_contrib_BatchNormWithReLU", "Pooling_v1"}
