"""MXNet operator schemas: attribute types and defaults, input roles, output counts.

The symbol reader parses every attribute string once through these schemas, so emitters only ever see
Python values (``tuple``/``bool``/``int``/``float``/``str``/``None``) with MXNet's defaults filled in.

The parsers, ``OpDef`` and the registries live here; each family module defines its ops' schemas
(``define``) and other spellings (``alias``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

Parser = Callable[[str], Any]


REQUIRED = object()  # marks an attribute MXNet requires


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_int(text: str) -> int:
    value = float(text.strip()) if "." in text or "e" in text.lower() else int(text.strip())
    if isinstance(value, float) and not value.is_integer():  # also rejects inf and nan ("1e400")
        raise ValueError(f"not an integer: {text!r}")
    return int(value)


def parse_float(text: str) -> float:
    """A ``double`` parameter. A lone sign or only whitespace reads as zero and an exponent without digits
    (``"4E"``, ``"2.5e+"``) as none, as in MXNet's parser; an empty value is refused."""
    if not text:
        raise ValueError("empty value")
    bare = re.fullmatch(r"\s*([+-]?)\.?([eE][+-]?\d*)?\s*", text)
    if bare:  # a mantissa without digits ("E", ".", "-.e5") reads as a zero of its sign, as in MXNet's parser
        return -0.0 if bare.group(1) == "-" else 0.0
    stripped = re.sub(r"(?<=[0-9.])[eE][+-]?$", "", text.strip())
    value = -0.0 if stripped == "-" else 0.0 if stripped in ("+", "") else float(stripped)
    if math.isnan(value):
        raise ValueError(f"not a number: {text!r}")
    if math.isinf(value) and "inf" not in text.lower():  # "1e400": MXNet's parser refuses it as out of range
        raise ValueError(f"out of range: {text[:40]!r}")
    return value


FLOAT32_MAX = 3.4028234663852886e38


def parse_float32(text: str) -> float:
    """A ``float`` parameter: finite values past float32's range are refused, as MXNet does."""
    value = parse_float(text)
    if not math.isinf(value) and abs(value) > FLOAT32_MAX:
        raise ValueError(f"out of range for float32: {text[:40]!r}")
    return value


INT64_MAX = 2**63 - 1


def parse_float32_tuple(text: str) -> tuple[float, ...]:
    """``"(0.2, 0.27)"``, ``"[1]"`` or ``"0.5"`` -> a tuple of float32 values (MXNet's ``Tuple<float>``)."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] in ("()", "[]"):
        stripped = stripped[1:-1]
    return tuple(parse_float32(item) for item in stripped.split(",") if item.strip())


def parse_shape(text: str) -> tuple:
    """``"(3, 3)"``, ``"[3,3]"``, ``"(3,)"``, ``"3"``, ``"(None, 2)"`` -> tuple of ints (``None`` kept), read
    element by element at any length; a size past int64 is refused as MXNet's stream parser refuses it."""
    stripped = text.strip()
    if stripped[:1] + stripped[-1:] in ("()", "[]"):
        stripped = stripped[1:-1].strip()
        if stripped.endswith(","):  # "(3,)"
            stripped = stripped[:-1]
    if not stripped:
        return ()
    values = []
    for item in stripped.split(","):
        item = item.strip().removesuffix("L")
        if item == "None":
            values.append(None)
        elif re.fullmatch(r"[+-]?[0-9]+", item):
            value = int(item)
            if abs(value) > INT64_MAX:
                raise ValueError(f"out of range: {item[:40]!r}")
            values.append(value)
        else:
            raise ValueError(f"not a shape: {text[:80]!r}")
    return tuple(values)


def in_range(parser: Parser, low: float, high: float | None = None) -> Parser:
    """``parser`` restricted to ``low <= value`` and, when ``high`` is given, ``value <= high`` (MXNet's
    ``set_lower_bound`` and ``set_range`` on a parameter)."""

    def parse(text: str) -> Any:
        value = parser(text)
        if high is None and value < low:
            raise ValueError(f"{value} is below {low}")
        if high is not None and not low <= value <= high:
            raise ValueError(f"{value} is outside [{low}, {high}]")
        return value

    parse.__name__ = parser.__name__
    return parse


def positive_sizes(parser: Parser) -> Parser:
    """``parser`` of a shape restricted to sizes of at least 1: MXNet rejects a zero in a kernel, stride or
    dilation (Pooling when parsing, Convolution in shape inference). A negative size is refused too, although
    MXNet's Pooling runs a negative stride (its output size formula then yields one window or none)."""

    def parse(text: str) -> Any:
        shape = parser(text)
        if any(size is not None and size < 0 for size in shape):
            raise ValueError(f"negative size refused, got {shape}")
        if any(size is None or size < 1 for size in shape):
            raise ValueError(f"every size must be at least 1, got {shape}")
        return shape

    parse.__name__ = parser.__name__
    return parse


def none_as_unknown(parser: Parser) -> Parser:
    """``parser`` of a shape reading ``None`` as -1, MXNet's unknown size (a pad of ``(0, None)`` is (0, -1))."""

    def parse(text: str) -> Any:
        return tuple(-1 if size is None else size for size in parser(text))

    parse.__name__ = parser.__name__
    return parse


def leading(parser: Parser, count: int) -> Parser:
    """``parser`` of a shape keeping its first ``count`` values: MXNet reads no further (Crop's h_w, offset)."""

    def parse(text: str) -> Any:
        return parser(text)[:count]

    parse.__name__ = parser.__name__
    return parse


def parse_str(text: str) -> str:
    return text


def optional(parser: Parser) -> Parser:
    """Accept ``"None"`` (MXNet's spelling of an unset optional) as ``None``."""

    def parse(text: str) -> Any:
        return None if text.strip() == "None" else parser(text)

    parse.__name__ = f"optional_{parser.__name__}"
    return parse


def choice(*allowed: str | None) -> Parser:
    def parse(text: str) -> str | None:
        value = None if text == "None" and None in allowed else text
        if value not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(map(str, allowed))}")
        return value

    return parse


@dataclass(frozen=True)
class OpDef:
    """What the reader needs to know about one op."""

    attrs: dict[str, tuple[Parser, Any]] = field(default_factory=dict)
    param_inputs: tuple[int, ...] = ()  # input slots that hold learned weights
    aux_inputs: tuple[int, ...] = ()  # input slots that hold auxiliary states
    label_inputs: tuple[int, ...] = ()  # input slots that hold labels of a loss head
    outputs: Callable[[dict[str, Any]], int] = lambda attrs: 1
    # Named input slots of fixed-arity ops; MXNet 0.x JSON may leave trailing ones (aux states) implicit,
    # to be re-created as variables called ``<node>_<slot>``.
    input_names: Callable[[dict[str, Any]], tuple[str, ...]] | None = None


SHAPE_EMPTY = (parse_shape, ())


WINDOW = (positive_sizes(parse_shape), ())  # a kernel, stride or dilation; () means MXNet's default


PAD = (none_as_unknown(parse_shape), ())


def refusing_negative(parser: Parser) -> Parser:
    """``parser`` of a count that refuses negative values by name (``_split_v2`` takes a negative ``sections``
    and then writes outside its outputs; RNN runs a negative ``num_layers`` into garbage)."""

    def parse(text: str) -> Any:
        value = parser(text)
        if value < 0:
            raise ValueError(f"negative size refused, got {value}")
        return value

    parse.__name__ = parser.__name__
    return parse


COUNT = in_range(refusing_negative(parse_int), 1)  # a count of at least 1 (MXNet bounds some, runs others wrong)


CUDNN_OFF = (parse_bool, False)


LAYOUT = (optional(parse_str), None)


SCALAR = OpDef({"scalar": (parse_float, REQUIRED), "is_int": (parse_bool, False)})


BINARY = OpDef()


UNARY = OpDef()


# --- the registries the family modules fill: schemas by canonical name, other names, their normalisers ---------
# An alias's normaliser maps the attribute strings of its spelling (NumPy's ``axis``/``keepdims``, say) onto those
# of the canonical op's schema, before they are parsed; without one the attributes are the canonical op's own.
Normaliser = Callable[[dict[str, str]], dict[str, str]]
OPS: dict[str, OpDef] = {}
ALIASES: dict[str, str] = {}
NORMALISERS: dict[str, Normaliser] = {}


def define(schemas: dict[str, OpDef]) -> None:
    """Register the schemas of a family's canonical ops; a name may be defined once, and never be an alias."""
    for op, schema in schemas.items():
        if op in OPS or op in ALIASES:
            raise ValueError(f"op {op!r} is defined twice")
        OPS[op] = schema


def alias(name: str, op: str, normalise: Normaliser | None = None) -> None:
    """Read op ``name`` as the canonical ``op`` (defined in the same family), its attribute strings passed through
    ``normalise`` first where the spelling's attributes differ from the canonical op's."""
    if name in OPS or name in ALIASES:
        raise ValueError(f"alias {name!r} names an op already known")
    if op in ALIASES:
        raise ValueError(f"alias {name!r} -> {op!r}: the target is itself an alias")
    ALIASES[name] = op
    if normalise is not None:
        NORMALISERS[name] = normalise


def numpy_spelled(node) -> bool:
    """Whether the symbol file spells ``node``'s op in MXNet's NumPy interface (``_np_*``, ``_npi_*``, ``_npx_*``):
    NumPy's shapes (a reduction over every axis is 0-d) and types (``semantics.dtypes``) apply."""
    return (node.spelling or node.op).startswith(("_np_", "_npi_", "_npx_"))


def canonical_op(op: str) -> str:
    return ALIASES.get(op, op)


def custom_op(op_type: str) -> str:
    """The op a ``Custom`` node of ``op_type`` (Python code MXNet calls back) is read as where a plugin defines it."""
    return f"Custom:{op_type}"


def normalised(op: str, attrs: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The canonical op of spelling ``op`` and the attribute strings its schema reads (a ``Custom`` node whose
    ``op_type`` a plugin defines: that op, its other attributes)."""
    if op == "Custom" and custom_op(attrs.get("op_type", "")) in OPS:
        rest = dict(attrs)
        return custom_op(rest.pop("op_type")), rest
    normalise = NORMALISERS.get(op)
    return canonical_op(op), (normalise(dict(attrs)) if normalise is not None else attrs)
