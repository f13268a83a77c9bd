"""An ONNX model written without copying its weights: protobuf framing around the arrays' own bytes.

A model is a small skeleton (graph, small constants, metadata) plus large initializers kept as numpy arrays.
Protobuf accepts a message's fields in any order, so the file is the skeleton's bytes with each large
initializer appended to the graph as a ``TensorProto`` whose ``raw_data`` is streamed from the array.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import onnx
from onnx import helper

_MODEL_GRAPH, _GRAPH_INITIALIZER, _TENSOR_RAW_DATA = 7, 5, 9  # field numbers in onnx.proto
_LENGTH_DELIMITED = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field_header(number: int, length: int) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(length)


def _little_endian(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))


@dataclass
class StreamedModel:
    """``skeleton`` holds everything but ``weights``, which become initializers when written."""

    skeleton: onnx.ModelProto
    weights: dict[str, np.ndarray]

    def _tensor_header(self, name: str, array: np.ndarray) -> bytes:
        tensor = onnx.TensorProto(name=name, data_type=helper.np_dtype_to_tensor_dtype(array.dtype),
                                  dims=array.shape)
        return tensor.SerializeToString()

    def write(self, handle: BinaryIO) -> None:
        """Serialize to ``handle``; peak extra memory is one tensor header, not the weights."""
        graph = self.skeleton.graph.SerializeToString()
        pieces = []
        for name, array in self.weights.items():
            data = _little_endian(array)
            header = self._tensor_header(name, data) + _field_header(_TENSOR_RAW_DATA, data.nbytes)
            pieces.append((_field_header(_GRAPH_INITIALIZER, len(header) + data.nbytes) + header, data))
        graph_length = len(graph) + sum(len(prefix) + data.nbytes for prefix, data in pieces)
        outer = onnx.ModelProto()
        outer.CopyFrom(self.skeleton)
        outer.ClearField("graph")
        handle.write(outer.SerializeToString())
        handle.write(_field_header(_MODEL_GRAPH, graph_length))
        handle.write(graph)
        for prefix, data in pieces:
            handle.write(prefix)
            handle.write(memoryview(data).cast("B"))

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self.write(buffer)
        return buffer.getvalue()

    def to_model(self) -> onnx.ModelProto:
        return onnx.load_from_string(self.to_bytes())

    def checkable(self) -> onnx.ModelProto:
        """The skeleton with the streamed weights declared as typed graph inputs: same shapes and types, so
        shape inference and the checker see the whole graph without a copy of the weights."""
        model = onnx.ModelProto()
        model.CopyFrom(self.skeleton)
        model.graph.input.extend(
            helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), array.shape)
            for name, array in self.weights.items())
        return model
