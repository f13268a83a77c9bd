"""Attention products: ``_contrib_div_sqrt_dim`` and the interleaved attention products of GluonNLP,
self-attention and encoder-decoder (queries, keys and values interleaved per head in one projection)."""
from __future__ import annotations

from ..errors import NotExpressible
from ..ir import Node
from .rules import Shape, ShapeError, same_shape, shape_rule
from .schema import OpDef, REQUIRED, UNARY, define, parse_int

# --- schemas: attributes (types, defaults), weight and label slots, outputs; other spellings ----------
define({
    "_contrib_div_sqrt_dim": UNARY,
    "_contrib_interleaved_matmul_selfatt_qk": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_selfatt_valatt": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_encdec_qk": OpDef({"heads": (parse_int, REQUIRED)}),
    "_contrib_interleaved_matmul_encdec_valatt": OpDef({"heads": (parse_int, REQUIRED)}),
})


# --- shape rules, and the MXNet semantics both emitters share ---------------------------------------
shape_rule("_contrib_div_sqrt_dim")(same_shape)


def _interleaved_projections(*projections: Shape) -> None:
    for shape in projections:
        if len(shape) != 3:
            raise ShapeError(f"projections of shape {shape}: expected 3-D (sequence, batch, projections)")


@shape_rule("_contrib_interleaved_matmul_selfatt_qk")
def _selfatt_qk(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv = shapes[0]
    _interleaved_projections(qkv)
    return [(node.attrs["heads"] * qkv[1], qkv[0], qkv[0])]


@shape_rule("_contrib_interleaved_matmul_selfatt_valatt")
def _selfatt_valatt(node: Node, shapes: list[Shape]) -> list[Shape]:
    qkv, attention = shapes
    _interleaved_projections(qkv)
    if qkv[2] % 3 or len(attention) != 3 or attention[1:] != (qkv[0], qkv[0]):
        raise ShapeError(f"queries_keys_values of shape {qkv} and attention of shape {attention}: expected "
                         f"3 * projections and ({qkv[0]}, {qkv[0]}) attention maps")
    return [(qkv[0], qkv[1], qkv[2] // 3)]


@shape_rule("_contrib_interleaved_matmul_encdec_qk")
def _encdec_qk(node: Node, shapes: list[Shape]) -> list[Shape]:
    queries, keys_values = shapes
    _interleaved_projections(queries, keys_values)
    if keys_values[2] != 2 * queries[2] or keys_values[1] != queries[1]:
        raise ShapeError(f"queries of shape {queries} and keys_values of shape {keys_values}: expected the same "
                         "batch and twice the projections")
    return [(node.attrs["heads"] * queries[1], queries[0], keys_values[0])]


@shape_rule("_contrib_interleaved_matmul_encdec_valatt")
def _encdec_valatt(node: Node, shapes: list[Shape]) -> list[Shape]:
    keys_values, attention = shapes
    _interleaved_projections(keys_values)
    if len(attention) != 3 or attention[2] != keys_values[0] or attention[0] != keys_values[1] * node.attrs["heads"]:
        raise ShapeError(f"keys_values of shape {keys_values} and attention of shape {attention}: expected "
                         f"(batch * heads, queries, {keys_values[0]}) attention maps")
    return [(attention[1], keys_values[1], keys_values[2] // 2)]


# how many projections each input interleaves per head: queries, keys and values (3), keys and values (2), queries
INTERLEAVED_PARTS = {"_contrib_interleaved_matmul_selfatt_qk": (3,),
                     "_contrib_interleaved_matmul_selfatt_valatt": (3,),
                     "_contrib_interleaved_matmul_encdec_qk": (1, 2),
                     "_contrib_interleaved_matmul_encdec_valatt": (2,)}


# the (input, part) projections each reads: queries and keys for the scores, the values for the attended values
INTERLEAVED_READS = {"_contrib_interleaved_matmul_selfatt_qk": ((0, 0), (0, 1)),
                     "_contrib_interleaved_matmul_selfatt_valatt": ((0, 2),),
                     "_contrib_interleaved_matmul_encdec_qk": ((0, 0), (1, 0)),
                     "_contrib_interleaved_matmul_encdec_valatt": ((0, 1),)}


def interleaved_heads(node: Node, shapes: list[Shape]) -> tuple[int, int]:
    """Heads and size per head of interleaved ``(sequence, batch, heads x parts x size)`` projections
    (:data:`INTERLEAVED_PARTS`). MXNet strides its rows as ``parts * heads * size`` values, which is not the row
    length unless the projections split evenly into heads, and reads ``batch * heads`` attention maps whatever
    their number: other values are not converted."""
    heads, parts = node.attrs["heads"], INTERLEAVED_PARTS[node.op]
    sizes = {shape[2] // part // heads for shape, part in zip(shapes, parts)} if heads >= 1 else set()
    if heads < 1 or any(shape[2] % (part * heads) for shape, part in zip(shapes, parts)) or len(sizes) != 1:
        sizes_read = " and ".join(str(shape[2]) for shape in shapes[:len(parts)])
        raise NotExpressible(f"{sizes_read} projections do not split into {' and '.join(map(str, parts))} x {heads} "
                             "heads")
    batch = shapes[0][1]
    if node.op.endswith("valatt") and shapes[1][0] != batch * heads:
        raise NotExpressible(f"{shapes[1][0]} attention maps for {batch} sequences x {heads} heads")
    return heads, sizes.pop()
