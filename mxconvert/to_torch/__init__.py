"""MXNet IR -> PyTorch: a ``kit_model.py`` source (``KitModel``) and its state dict."""
from .codegen import TorchOptions, emit_pytorch
from .loader import build_model, load_kit_module

__all__ = ["TorchOptions", "build_model", "emit_pytorch", "load_kit_module"]
