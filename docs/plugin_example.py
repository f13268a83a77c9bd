"""An mxconvert plugin: the ``Custom`` op ``scaled_softsign`` (``scale * x / (1 + |x|)``, a Python
``mx.operator.CustomOp`` in the model), converted to ONNX and to PyTorch.

    python mxnet2onnx.py --prefix model --plugin docs/plugin_example.py
    python mxnet2pytorch.py --prefix model --plugin docs/plugin_example.py
"""
from mxconvert import plugins

SCALED_SOFTSIGN = plugins.custom_op("scaled_softsign")  # Custom nodes whose op_type is "scaled_softsign"

# The attributes the model's Custom node carries besides op_type (MXNet writes them as strings), typed once;
# one output of its input's shape (the default shape rule).
plugins.define_op(SCALED_SOFTSIGN, {"scale": (plugins.parse_float, 1.0)})


@plugins.onnx_converter(SCALED_SOFTSIGN)
def scaled_softsign_onnx(ctx, node):
    """ONNX's Softsign, then times the scale."""
    softsign = ctx.add("Softsign", [ctx.input(0)])
    ctx.add("Mul", [softsign, ctx.const(node.attrs["scale"])], ctx.output())


SOFTSIGN_HELPER = '''
def scaled_softsign(x: torch.Tensor, scale: float) -> torch.Tensor:
    return scale * (x / (1 + x.abs()))
'''


@plugins.torch_lowering(SCALED_SOFTSIGN, helpers={"scaled_softsign": SOFTSIGN_HELPER})
def scaled_softsign_torch(ctx, node):
    """A call of the helper function, which is written into kit_model.py."""
    return plugins.Lowering(f"{ctx.helper('scaled_softsign')}({ctx.input(0)}, {plugins.num(node.attrs['scale'])})")
