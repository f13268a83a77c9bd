"""Normalisation layers: BatchNorm (and its legacy, synchronised and ReLU-fused forms), LRN, InstanceNorm, GroupNorm,
LayerNorm and L2Normalization."""
from __future__ import annotations

from ..ir import Node
from .rules import Shape, ShapeError, axis_index, expect, shape_rule
from .schema import (COUNT, CUDNN_OFF, OpDef, REQUIRED, alias, choice, define, optional, parse_bool, parse_float,
                     parse_float32, parse_int, parse_str)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
_NORM_OUTPUTS = (lambda a: 3 if a["output_mean_var"] else 1)


_BATCH_NORM_ATTRS = {
    "eps": (parse_float, 1e-3),
    "momentum": (parse_float32, 0.9),
    "fix_gamma": (parse_bool, True),
    "use_global_stats": (parse_bool, False),
    "output_mean_var": (parse_bool, False),
}
# gamma and beta are weights, the moving mean and variance auxiliary states the op updates in training
_BATCH_NORM_SLOTS = {"param_inputs": (1, 2), "aux_inputs": (3, 4), "outputs": _NORM_OUTPUTS,
                     "input_names": lambda a: ("data", "gamma", "beta", "moving_mean", "moving_var")}
_BATCH_NORM_1X = {
    **_BATCH_NORM_ATTRS,
    "axis": (parse_int, 1),
    "cudnn_off": CUDNN_OFF,
    "min_calib_range": (optional(parse_float32), None),
    "max_calib_range": (optional(parse_float32), None),
}


define({
    "BatchNorm": OpDef(_BATCH_NORM_1X, **_BATCH_NORM_SLOTS),
    # MXNet 0.x's BatchNorm: channels on axis 1 of 4-D (or 2-D) data, float eps; outputs the moving variance
    "BatchNorm_v1": OpDef({**_BATCH_NORM_ATTRS, "eps": (parse_float32, 1e-3)}, **_BATCH_NORM_SLOTS),
    # Gluon's SyncBatchNorm: at inference the BatchNorm of its moving statistics over axis 1
    "_contrib_SyncBatchNorm": OpDef({**_BATCH_NORM_ATTRS, "eps": (parse_float32, 1e-3), "ndev": (parse_int, 1),
                                     "key": (parse_str, REQUIRED)}, **_BATCH_NORM_SLOTS),
    # BatchNorm then ReLU (MXNet runs it with MKLDNN only: 4-D data, axis 1)
    "_contrib_BatchNormWithReLU": OpDef(_BATCH_NORM_1X, **_BATCH_NORM_SLOTS),
    "L2Normalization": OpDef(
        {
            "eps": (parse_float32, 1e-10),
            "mode": (choice("channel", "instance", "spatial"), "instance"),
        }
    ),
    "LRN": OpDef({"alpha": (parse_float32, 1e-4), "beta": (parse_float32, 0.75), "knorm": (parse_float32, 2.0),
                  "nsize": (COUNT, REQUIRED)}),
    "InstanceNorm": OpDef({"eps": (parse_float32, 1e-3)}, param_inputs=(1, 2),
                          input_names=lambda a: ("data", "gamma", "beta")),
    "GroupNorm": OpDef({"num_groups": (COUNT, 1), "eps": (parse_float32, 1e-5),
                        "output_mean_var": (parse_bool, False)},
                       param_inputs=(1, 2), outputs=_NORM_OUTPUTS, input_names=lambda a: ("data", "gamma", "beta")),
    "LayerNorm": OpDef({"axis": (parse_int, -1), "eps": (parse_float32, 1e-5), "output_mean_var": (parse_bool, False)},
                       param_inputs=(1, 2), outputs=_NORM_OUTPUTS, input_names=lambda a: ("data", "gamma", "beta")),
})


alias("_npx_layer_norm", "LayerNorm")
alias("_npx_batch_norm", "BatchNorm")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
BATCH_NORMS = ("BatchNorm", "BatchNorm_v1", "_contrib_SyncBatchNorm", "_contrib_BatchNormWithReLU")


def batch_norm_axis(node: Node, rank: int) -> int:
    """The channel axis of a BatchNorm of any form (the legacy and synchronised forms normalise axis 1)."""
    return node.attrs.get("axis", 1) % rank


def batch_norm_relu(node: Node) -> bool:
    """Whether the BatchNorm's output passes through a ReLU (``_contrib_BatchNormWithReLU``)."""
    return node.op == "_contrib_BatchNormWithReLU"


def batch_norm_statistics(node: Node) -> str:
    """What a BatchNorm's ``output_mean_var`` adds beside the moving mean at inference: ``"invstd"``,
    1 / sqrt(moving_var + eps), or ``"var"``, the moving variance itself (``BatchNorm_v1``)."""
    return "var" if node.op == "BatchNorm_v1" else "invstd"


def batch_norm_refusal(node: Node) -> str | None:
    """Why a BatchNorm form is not converted: a synchronised one's ``output_mean_var`` outputs, which MXNet
    leaves unwritten at inference."""
    if node.op == "_contrib_SyncBatchNorm" and node.attrs["output_mean_var"]:
        return "output_mean_var: MXNet leaves the mean and var outputs unwritten at inference"
    return None


@shape_rule(*BATCH_NORMS)
def _batch_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    if node.op == "BatchNorm_v1" and len(data) not in (2, 4):
        raise ShapeError(f"data of shape {data}: MXNet's BatchNorm_v1 runs on 4-D data (and 2-D, as 4-D)")
    if batch_norm_relu(node) and (len(data) != 4 or node.attrs["axis"] % 4 != 1):
        raise ShapeError(f"data of shape {data}, axis {node.attrs['axis']}: MXNet runs BatchNormWithReLU with MKLDNN "
                         "only, on 4-D data over axis 1")
    axis = axis_index(node.attrs.get("axis", 1), len(data))
    for slot, what in enumerate(("gamma", "beta", "moving_mean", "moving_var"), start=1):
        expect(shapes[slot], (data[axis],), what)
    extra = [(data[axis],)] * 2 if node.attrs["output_mean_var"] else []
    return [data, *extra]


def l2_normalization_axes(mode: str, rank: int) -> list[int]:
    """The axes L2Normalization sums squares over: all but the batch axis (``instance``; none for 1-D data,
    where each value is divided by its own norm), the channel axis, or the spatial axes (3-D data or more)."""
    if mode != "instance" and rank < 3:
        raise ShapeError(f"mode {mode} needs at least 3-D data, got {rank}-D")
    return {"instance": list(range(1, rank)), "channel": [1], "spatial": list(range(2, rank))}[mode]


@shape_rule("L2Normalization")
def _l2_normalization(node: Node, shapes: list[Shape]) -> list[Shape]:
    l2_normalization_axes(node.attrs["mode"], len(shapes[0]))
    return [shapes[0]]


@shape_rule("LRN")
def _lrn(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) not in (2, 4):
        raise ShapeError(f"data of shape {shapes[0]}: MXNet's LRN runs on 4-D data (and 2-D, as 4-D)")
    return [shapes[0]]


def _affine_per(shapes: list[Shape], size: int, what: str) -> None:
    """gamma and beta of a normalisation: one value per ``what`` (``size`` of them)."""
    for slot, name in ((1, "gamma"), (2, "beta")):
        if shapes[slot] != (size,):
            raise ShapeError(f"{name} has shape {shapes[slot]}, expected ({size},): one per {what}")


@shape_rule("InstanceNorm")
def _instance_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    if len(shapes[0]) < 3:
        raise ShapeError(f"data of shape {shapes[0]}: InstanceNorm takes 3-D data or more")
    _affine_per(shapes, shapes[0][1], "channel")
    return [shapes[0]]


@shape_rule("GroupNorm")
def _group_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, groups = shapes[0], node.attrs["num_groups"]
    if len(data) < 3 or data[1] % groups:
        raise ShapeError(f"data of shape {data}: GroupNorm takes 3-D data or more, channels split into {groups} "
                         "groups")
    _affine_per(shapes, groups, "group (MXNet 1.9.1's GroupNorm scales groups, not channels)")
    return [data] + [(data[0], groups)] * (2 if node.attrs["output_mean_var"] else 0)


@shape_rule("LayerNorm")
def _layer_norm(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis = axis_index(node.attrs["axis"], len(data))
    _affine_per(shapes, data[axis], f"position along axis {axis}")
    stats = tuple(1 if i == axis else size for i, size in enumerate(data))
    return [data] + [stats] * (2 if node.attrs["output_mean_var"] else 0)


def even_lrn_window(node: Node) -> str | None:
    """Why an LRN is not converted: an even nsize, whose window MXNet's MKLDNN kernel places unlike ONNX's LRN."""
    return f"even nsize {node.attrs['nsize']}" if node.attrs["nsize"] % 2 == 0 else None
