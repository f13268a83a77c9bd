"""mxconvert: exact MXNet checkpoint conversion to ONNX and PyTorch, without MXNet."""

__version__ = "0.1.0"
DEFAULT_OPSET = 13  # of the ONNX files written, unless --opset (or ExportOptions.opset) says otherwise
