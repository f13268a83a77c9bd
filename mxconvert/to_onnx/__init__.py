"""MXNet IR -> ONNX: a registry of per-op converters and the exporter that drives them."""
from .exporter import ExportOptions, build_onnx, export_onnx, save_onnx

__all__ = ["ExportOptions", "build_onnx", "export_onnx", "save_onnx"]
