"""Loss heads: their schemas (label slots) and output shapes. ``inference_graph.inference_forward`` rewrites
each into its inference forward before anything is emitted (SoftmaxOutput, whose forward is a softmax, is in
``activation``), so the family has no emitter modules."""
from __future__ import annotations

from ..ir import Node
from .rules import Shape, shape_rule
from .schema import OpDef, alias, choice, define, parse_bool, parse_float32, parse_int, parse_str

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
_GRAD_SCALE = (parse_float32, 1.0)


_LABELLED = {"label_inputs": (1,), "input_names": lambda a: ("data", "label")}


_REGRESSION = OpDef({"grad_scale": (parse_str, "1")}, **_LABELLED)  # read by MXNet in backward only: any text


LOSS_HEADS = ("SoftmaxOutput", "LinearRegressionOutput", "MAERegressionOutput", "LogisticRegressionOutput",
              "SVMOutput", "WarpCTC", "MakeLoss", "make_loss", "CTCLoss")


define({
    "LinearRegressionOutput": _REGRESSION,
    "MAERegressionOutput": _REGRESSION,
    "LogisticRegressionOutput": _REGRESSION,
    "SVMOutput": OpDef({"margin": (parse_float32, 1.0), "regularization_coefficient": (parse_float32, 1.0),
                        "use_linear": (parse_bool, False)}, **_LABELLED),
    "WarpCTC": OpDef({"label_length": (parse_int, 0), "input_length": (parse_int, 0)}, **_LABELLED),
    "MakeLoss": OpDef({"grad_scale": _GRAD_SCALE, "valid_thresh": (parse_float32, 0.0),
                       "normalization": (choice("batch", "null", "valid"), "null")}),
    "make_loss": OpDef(),  # MakeLoss as a unary op without attributes: its data forward, a gradient of ones
    # its forward is the loss; at inference the head yields its data, the per-step class scores
    "CTCLoss": OpDef({"use_data_lengths": (parse_bool, False), "use_label_lengths": (parse_bool, False),
                      "blank_label": (choice("first", "last"), "first")}, label_inputs=(1, 2, 3),
                     input_names=lambda a: ("data", "label") + ("data_lengths",) * a["use_data_lengths"]
                     + ("label_lengths",) * a["use_label_lengths"]),
})


alias("ctc_loss", "CTCLoss")
alias("_contrib_CTCLoss", "CTCLoss")
alias("_contrib_ctc_loss", "CTCLoss")


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
@shape_rule(*(head for head in LOSS_HEADS if head != "SoftmaxOutput"))
def _loss_head(node: Node, shapes: list[Shape]) -> list[Shape]:
    """A loss head's forward keeps its data's shape (before ``inference_forward`` rewrites it)."""
    return [shapes[0]]
