"""The registry of MXNet-op -> ONNX converters: ``convert(ctx, node)``, ``check(node, opset)``."""
from ..registry import ConverterRegistry

REGISTRY = ConverterRegistry()
CONVERTERS = REGISTRY.entries
register = REGISTRY.register
refuse = REGISTRY.refuse
