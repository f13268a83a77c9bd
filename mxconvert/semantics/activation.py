"""Activations and softmaxes: Activation, LeakyReLU (PReLU, ELU, GELU, SELU...), softmax (with
``use_length``), log_softmax, softmin, SoftmaxActivation, SoftmaxOutput (its inference forward, a softmax) and
softmax_cross_entropy."""
from __future__ import annotations

from ..ir import Node
from .rules import Shape, ShapeError, axis_index, expect, input_rule, same_shape, same_shape_inputs, shape_rule
from .schema import (OpDef, REQUIRED, alias, choice, define, in_range, optional, parse_bool, parse_float,
                     parse_float32, parse_int)

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
_SOFTMAX_LIKE = OpDef({
    "axis": (parse_int, -1),
    "temperature": (optional(parse_float), None),
    "dtype": (choice(None, "float16", "float32", "float64"), None),
    "use_length": (optional(parse_bool), False),
})


define({
    "Activation": OpDef(
        {"act_type": (choice("relu", "sigmoid", "softrelu", "softsign", "tanh"), REQUIRED)}
    ),
    "LeakyReLU": OpDef(
        {
            "act_type": (choice("elu", "gelu", "leaky", "prelu", "rrelu", "selu"), "leaky"),
            "slope": (parse_float32, 0.25),
            "lower_bound": (parse_float32, 0.125),
            "upper_bound": (parse_float32, 0.334),
        },
        param_inputs=(1,),
        input_names=lambda a: ("data", "gamma") if a["act_type"] == "prelu" else ("data",),
    ),
    "SoftmaxOutput": OpDef(
        {
            "grad_scale": (parse_float32, 1.0),
            "ignore_label": (parse_float32, -1.0),
            "multi_output": (parse_bool, False),
            "use_ignore": (parse_bool, False),
            "preserve_shape": (parse_bool, False),
            "normalization": (choice("batch", "null", "valid"), "null"),
            "out_grad": (parse_bool, False),
            "smooth_alpha": (in_range(parse_float32, 0, 1), 0.0),
        },
        label_inputs=(1,),
        input_names=lambda a: ("data", "label"),
    ),
    "SoftmaxActivation": OpDef({"mode": (choice("channel", "instance"), "instance")}),
    "softmax": OpDef(
        {
            "axis": (parse_int, -1),
            "temperature": (optional(parse_float), None),
            "dtype": (choice(None, "float16", "float32", "float64"), None),
            "use_length": (optional(parse_bool), False),
        }
    ),
    "log_softmax": _SOFTMAX_LIKE,
    "softmin": _SOFTMAX_LIKE,
    # the sum over rows of -log(max(softmax(row)[label], 1e-8)): a value at inference, its label an input
    "softmax_cross_entropy": OpDef(input_names=lambda a: ("data", "label")),
})


alias("Softmax", "SoftmaxOutput")
alias("_npx_log_softmax", "log_softmax")
alias("_npx_softmax", "softmax")
alias("_npx_activation", "Activation")
alias("_npx_leaky_relu", "LeakyReLU")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
shape_rule("Activation", "SoftmaxActivation")(same_shape)
input_rule("Activation", "SoftmaxActivation")(same_shape_inputs)


@input_rule("LeakyReLU")
def _leaky_relu_data(node: Node, inputs: list, outputs: list) -> list:
    """The data of a LeakyReLU has the shape of its output (a PReLU slope keeps its own)."""
    return same_shape_inputs(node, inputs, outputs)[:1]


@shape_rule("LeakyReLU")
def _leaky_relu(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["act_type"] == "prelu":
        channels = shapes[0][1] if len(shapes[0]) > 1 else 1
        if shapes[1] not in ((channels,), (1,)):
            raise ShapeError(f"gamma has shape {shapes[1]}, expected ({channels},)")
    return [shapes[0]]


@shape_rule("softmax")
def _softmax(node: Node, shapes: list[Shape]) -> list[Shape]:
    data = shapes[0]
    axis_index(node.attrs["axis"], len(data))
    use_length = bool(node.attrs["use_length"])  # None (unset) is False
    if len(shapes) != 1 + use_length:
        raise ShapeError(f"use_length={use_length} takes {1 + use_length} inputs, not {len(shapes)}")
    if use_length:
        expect(shapes[1], _softmax_length_shape(data, node.attrs["axis"]), "length")
    return [data]


def _softmax_length_shape(data: Shape, axis: int) -> Shape:
    """The shape of softmax's ``length`` input: one length per row along ``axis`` (MXNet takes -1 or an axis
    from 0; 1-D data has one length)."""
    if axis < -1 or axis >= len(data):
        raise ShapeError(f"axis {axis} with use_length: MXNet takes -1 or 0..{len(data) - 1}")
    axis %= len(data)
    return tuple(d for i, d in enumerate(data) if i != axis) or (1,)


@shape_rule("SoftmaxOutput")
def _softmax_output(node: Node, shapes: list[Shape]) -> list[Shape]:
    if node.attrs["multi_output"] and len(shapes[0]) < 2:
        raise ShapeError(f"multi_output takes a softmax over axis 1: data of shape {shapes[0]} has none")
    return [shapes[0]]


SOFTMAX_CROSS_ENTROPY_FLOOR = 1e-8  # the least probability MXNet takes the log of


@shape_rule("softmax_cross_entropy")
def _softmax_cross_entropy(node: Node, shapes: list[Shape]) -> list[Shape]:
    data, label = shapes
    if len(data) != 2 or len(label) != 1 or data[0] != label[0]:
        raise ShapeError(f"data of shape {data} and label of shape {label}: MXNet takes 2-D data and one label per "
                         "row")
    return [(1,)]


@shape_rule("log_softmax", "softmin")
def _softmax_without_length(node: Node, shapes: list[Shape]) -> list[Shape]:
    axis_index(node.attrs["axis"], len(shapes[0]))
    if node.attrs["use_length"] or len(shapes) != 1:
        raise ShapeError(f"{node.op} takes one input and no use_length (MXNet 1.9.1 has no length input for it)")
    return [shapes[0]]


def float16_output(node: Node) -> str | None:
    """Why a log_softmax or softmin is not converted: ``dtype`` float16 rounds MXNet's output to half precision,
    which a float32 model does not reproduce within its tolerance."""
    return "dtype float16" if node.attrs["dtype"] == "float16" else None
