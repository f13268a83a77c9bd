"""The support table's account of MXNet 1.9.1's whole registry of forward ops against the converter registries."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mxcases import mx

from mxconvert import support_table as table
from mxconvert.semantics.fused import FUSED
from mxconvert.semantics.loss import LOSS_HEADS
from mxconvert.semantics.schema import ALIASES

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_list_is_the_installed_mxnets_forward_ops(tmp_path):
    """``tools/mxnet_registry.py`` run again writes the committed list: sorted, no gradient op."""
    out = tmp_path / "ops.txt"
    subprocess.run([sys.executable, str(ROOT / "tools" / "mxnet_registry.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=300)
    assert out.read_text() == table.MXNET_OPS_FILE.read_text()
    ops = table.mxnet_registry()
    assert ops == sorted(set(ops)) and not [op for op in ops if "backward" in op.split("_")]
    assert len(ops) < len(mx.operator.get_all_registered_operators())
    assert {"Convolution", "Custom", "_npi_normal", "sgd_update", "_backward_relu"} & set(ops) == {
        "Convolution", "Custom", "_npi_normal", "sgd_update"}


def test_every_forward_op_is_converted_rewritten_or_refused_as_the_registries_say():
    statuses = table.registry_statuses()
    kinds = {op: status.split(":")[0].split(" (")[0] for op, status in statuses.items()}
    assert set(kinds.values()) == {table.CONVERTED, table.REWRITTEN, table.REFUSED}
    for op, kind in kinds.items():
        canonical = ALIASES.get(op, op)
        converters = [registry.entries.get(canonical) for registry in (table.ONNX, table.TORCH)]
        converting = [entry for entry in converters if entry is not None and not entry.refuses]
        if kind == table.REWRITTEN:
            assert canonical in LOSS_HEADS or canonical in FUSED, op
        elif kind == table.CONVERTED:
            assert converting and canonical not in LOSS_HEADS and canonical not in FUSED, op
            assert statuses[op] == table.CONVERTED or len(converting) == 1, op
        else:
            assert not converting and canonical not in LOSS_HEADS and canonical not in FUSED, op
            assert statuses[op] != "refused: ", op
    counts = table.registry_counts(statuses)
    numbers = [int(n) for n in re.fullmatch(r"MXNet 1\.9\.1 registry: (\d+) forward ops: (\d+) converted, (\d+) "
                                            r"rewritten, (\d+) refused", counts).groups()]
    assert numbers == [len(kinds), *(list(kinds.values()).count(kind)
                                     for kind in (table.CONVERTED, table.REWRITTEN, table.REFUSED))]
    assert numbers[0] == sum(numbers[1:])
    rows = table.registry_table(statuses).splitlines()[2:]
    assert sum(int(row.split(" | ")[1]) for row in rows) == len(statuses)


def test_the_classes_the_issue_names_are_refused_with_their_reason():
    statuses = table.registry_statuses()
    assert statuses["sgd_update"] == statuses["adam_update"] == "refused: optimizer step (training, no part of a " \
                                                                "forward pass)"
    assert statuses["_sparse_dot"].startswith("refused: sparse storage")
    assert statuses["_contrib_quantized_rnn"].startswith("refused: quantized")
    assert statuses["_contrib_quantized_conv"] == statuses["_contrib_requantize"] == "converted"
    assert statuses["Custom"].startswith("refused: Python code MXNet calls back: converted by a plugin")
    assert statuses["SoftmaxOutput"].startswith("rewritten: its inference forward")
    assert statuses["random_pdf_normal"] == "converted"  # a density, not a draw


def test_numpy_interface_line_counts_its_ops():
    statuses = table.registry_statuses()
    converted, deterministic, draws = (int(n) for n in re.fullmatch(
        r"MXNet 1\.9\.1 NumPy-interface ops: (\d+) converted of (\d+) deterministic \((\d+) random draws refused\)",
        table.numpy_counts(statuses)).groups())
    numpy_ops = [op for op in statuses if op.startswith(("_np_", "_npi_", "_npx_"))]
    assert deterministic + draws == len(numpy_ops) and converted <= deterministic
    assert converted == sum(statuses[op] == table.CONVERTED or statuses[op].startswith(f"{table.CONVERTED} (")
                            for op in numpy_ops)
    assert statuses["_npi_normal"].endswith("random sampling: no deterministic conversion")


def test_the_registry_tail_is_converted_rewritten_or_refused_by_name():
    statuses = table.registry_statuses()
    assert statuses["make_loss"].startswith("rewritten: its inference forward")
    assert statuses["fill_element_0index"].startswith("refused: an NDArray function")
    for op in ("_contrib_hawkesll", "_contrib_count_sketch", "_identity_with_attr_like_rhs", "_scatter_elemwise_div",
               "_scatter_plus_scalar", "_scatter_minus_scalar", "_random_pdf_gamma", "_random_pdf_poisson",
               "_random_pdf_negative_binomial", "_random_pdf_generalized_negative_binomial", "_random_pdf_dirichlet"):
        assert statuses[op] == table.CONVERTED, op
