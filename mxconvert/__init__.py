"""mxconvert: exact MXNet checkpoint conversion to ONNX and PyTorch, without MXNet."""

__version__ = "0.1.0"
