"""The pure-numpy ``.params`` reader/writer against MXNet 1.9.1 itself, and against hostile files."""
from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mxconvert.errors import MxConvertError
from mxconvert.mxnet_compat import import_mxnet
from mxconvert.params import LAYOUTS, detect_layout, load_params, save_params

V2_MAGIC, V3_MAGIC = 0xF993FAC9, 0xF993FACA
MXNET_DTYPES = ("float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool")
EXTRA_DTYPES = ("int16", "uint16", "uint32", "uint64")


@pytest.fixture(scope="module")
def mx():
    return import_mxnet()


def sample_arrays(dtypes: tuple[str, ...] = MXNET_DTYPES) -> dict[str, np.ndarray]:
    """Every dtype in several shapes, under 'arg:', 'aux:' and bare names."""
    rng = np.random.default_rng(0)
    shapes = [(1,), (2, 3, 4, 5), (7,), (3, 1, 2)]
    arrays = {}
    for index, dtype in enumerate(dtypes):
        shape = shapes[index % len(shapes)]
        values = rng.standard_normal(shape) * 50
        prefix = ("arg:", "aux:", "")[index % 3]
        arrays[f"{prefix}{dtype}_param{index}"] = (values > 0 if dtype == "bool" else values).astype(dtype)
    return arrays


def assert_same(actual: dict[str, np.ndarray], expected: dict[str, np.ndarray]) -> None:
    assert list(actual) == list(expected)
    for name, array in expected.items():
        assert actual[name].dtype == array.dtype, name
        assert actual[name].shape == array.shape, name
        assert actual[name].tobytes() == array.tobytes(), name


def mxnet_load(mx, path: Path, layout: str) -> dict[str, np.ndarray]:
    with mx.util.np_shape(layout == "v3"):
        return {name: value.asnumpy() for name, value in mx.nd.load(str(path)).items()}


def mxnet_save(mx, path: Path, arrays: dict[str, np.ndarray], np_shape: bool) -> None:
    with mx.util.np_shape(np_shape):
        mx.nd.save(str(path), {name: mx.nd.array(value, dtype=value.dtype) for name, value in arrays.items()})


# --- agreement with MXNet -------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_mxnet_reads_what_we_write(mx, tmp_path: Path, layout: str) -> None:
    arrays = sample_arrays()
    path = tmp_path / "model.params"
    save_params(path, arrays, layout)
    assert_same(mxnet_load(mx, path, layout), arrays)
    assert_same(load_params(path), arrays)
    assert detect_layout(path) == layout


def test_we_read_mxnet_v2(mx, tmp_path: Path) -> None:
    arrays = sample_arrays()
    path = tmp_path / "mxnet.params"
    mxnet_save(mx, path, arrays, np_shape=False)
    assert detect_layout(path) == "v2"
    assert_same(load_params(path), arrays)


def test_we_read_mxnet_v3(mx, tmp_path: Path) -> None:
    arrays = {**sample_arrays(), "scalar": np.array(2.5, np.float32), "aux:empty": np.zeros((0, 3), np.int64)}
    path = tmp_path / "mxnet.params"
    mxnet_save(mx, path, arrays, np_shape=True)
    assert detect_layout(path) == "v3"
    assert_same(load_params(path), arrays)


def test_mxnet_reads_our_v3_scalars_and_empty_arrays(mx, tmp_path: Path) -> None:
    arrays = {"scalar": np.array(7, np.int32), "empty": np.zeros((2, 0), np.float16)}
    path = tmp_path / "model.params"
    save_params(path, arrays, "v3")
    assert_same(mxnet_load(mx, path, "v3"), arrays)


def test_mxnet_list_without_names_is_rejected(mx, tmp_path: Path) -> None:
    path = tmp_path / "list.params"
    mx.nd.save(str(path), [mx.nd.ones((2,))])
    with pytest.raises(MxConvertError, match="unnamed"):
        load_params(path)


# --- our own round trip ---------------------------------------------------------------------

@pytest.mark.parametrize("layout", LAYOUTS)
def test_round_trip(tmp_path: Path, layout: str) -> None:
    arrays = {**sample_arrays(MXNET_DTYPES + EXTRA_DTYPES), "zero_size": np.zeros((0, 4), np.float32)}
    if layout == "v3":
        arrays["scalar"] = np.array(-3, np.int64)
    save_params(tmp_path / "model.params", arrays, layout)
    assert_same(load_params(tmp_path / "model.params"), arrays)


def test_writer_normalises_byte_order_and_strides(tmp_path: Path) -> None:
    base = np.arange(24, dtype=">f8").reshape(4, 6)
    save_params(tmp_path / "model.params", {"w": base[:, ::2], "b": base.T})
    loaded = load_params(tmp_path / "model.params")
    np.testing.assert_array_equal(loaded["w"], base[:, ::2])
    np.testing.assert_array_equal(loaded["b"], base.T)
    assert loaded["w"].dtype == np.float64


def test_unaligned_arrays_come_back_aligned(tmp_path: Path) -> None:
    arrays = {"odd": np.arange(3, dtype=np.float16), "wide": np.arange(5, dtype=np.float64)}
    save_params(tmp_path / "model.params", arrays)
    loaded = load_params(tmp_path / "model.params")
    assert all(array.flags.aligned for array in loaded.values())
    assert_same(loaded, arrays)


def test_empty_list(tmp_path: Path) -> None:
    save_params(tmp_path / "empty.params", {})
    assert load_params(tmp_path / "empty.params") == {}
    with pytest.raises(MxConvertError, match="no arrays"):
        detect_layout(tmp_path / "empty.params")


@pytest.mark.parametrize(("arrays", "layout", "message"), [
    ({"s": np.array(1.0, np.float32)}, "v2", "0-d"),
    ({"c": np.zeros(2, np.complex64)}, "v2", "complex64"),
    ({"o": np.array([None, 1])}, "v1", "object"),
    ({"\ud800": np.zeros(1, np.float32)}, "v2", "UTF-8"),
])
def test_writer_rejects_what_the_layout_cannot_hold(tmp_path: Path, arrays, layout: str, message: str) -> None:
    with pytest.raises(MxConvertError, match=message):
        save_params(tmp_path / "bad.params", arrays, layout)
    assert not list(tmp_path.iterdir())


def test_writer_rejects_unknown_layout(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="layout"):
        save_params(tmp_path / "bad.params", {}, "v4")


# --- hostile files --------------------------------------------------------------------------

def params_file(records: list[bytes], names: list[bytes]) -> bytes:
    """A list file around hand-built records and names."""
    head = struct.pack("<QQQ", 0x112, 0, len(records))
    tail = struct.pack("<Q", len(names)) + b"".join(struct.pack("<Q", len(n)) + n for n in names)
    return head + b"".join(records) + tail


def v2_record(shape: tuple[int, ...], flag: int = 0, data: bytes | None = None,
              stype: int = 0, ndim: int | None = None, magic: int = V2_MAGIC) -> bytes:
    """One dense record; ``data`` defaults to zeros of the right size for float32."""
    ndim = len(shape) if ndim is None else ndim
    head = struct.pack(f"<Iii{len(shape)}qiii", magic, stype, ndim, *shape, 1, 0, flag)
    return head + (bytes(4 * math.prod(shape)) if data is None else data)


def load_bytes(tmp_path: Path, data: bytes) -> dict[str, np.ndarray]:
    path = tmp_path / "hostile.params"
    path.write_bytes(data)
    return load_params(path)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_truncation_is_reported(tmp_path: Path, layout: str) -> None:
    save_params(tmp_path / "good.params", {"arg:w": np.ones((2, 3), np.float32), "b": np.arange(2)}, layout)
    data = (tmp_path / "good.params").read_bytes()
    for size in range(len(data)):
        with pytest.raises(MxConvertError):
            load_bytes(tmp_path, data[:size])


HOSTILE = [
    (b"", "not an MXNet params file"),
    (struct.pack("<QQQ", 0x113, 0, 0), "bad magic 0x113"),
    (params_file([v2_record((2,), ndim=1000)], [b"w"]), "invalid ndim 1000"),
    (params_file([v2_record((2,), ndim=-7)], [b"w"]), "invalid ndim -7"),
    (params_file([v2_record((), ndim=0)], [b"w"]), "uninitialised"),
    (params_file([v2_record((1 << 62, 1 << 62, 1 << 62), data=b"")], [b"w"]), "too large"),
    (params_file([v2_record((1 << 40,), data=bytes(64))], [b"w"]), f"claims {4 << 40} bytes"),
    (params_file([v2_record((0, 1 << 62, 1 << 62), data=b"")], [b"w"]), "too large"),
    (params_file([v2_record((-3, 2), data=b"")], [b"w"]), "negative dimension"),
    (params_file([v2_record((2,), stype=1)], [b"w"]), r"sparse storage \(row_sparse\)"),
    (params_file([v2_record((2,), stype=2)], [b"w"]), r"sparse storage \(csr\)"),
    (params_file([v2_record((2,), stype=5)], [b"w"]), "unknown storage type 5"),
    (params_file([v2_record((2,), flag=99)], [b"w"]), "unknown dtype flag 99"),
    (params_file([v2_record((2,), flag=12, data=bytes(4))], [b"w"]), "bfloat16"),
    (params_file([v2_record((2,), magic=0xDEADBEEF)], [b"w"]), "unknown record magic 0xdeadbeef"),
    (struct.pack("<QQQ", 0x112, 0, 1 << 60) + bytes(64), f"claims {1 << 60} arrays"),
    (params_file([v2_record((2,))], [b"w"])[:-9] + struct.pack("<Q", 1 << 62) + b"w", "truncated"),
    (params_file([v2_record((2,))], [b"w"]) + b"junk", "4 trailing bytes"),
    (params_file([v2_record((2,))], [b"w", b"v"]), "1 arrays but 2 names"),
    (params_file([v2_record((2,)), v2_record((1,))], [b"w", b"w"]), "duplicate array name 'w'"),
    (params_file([v2_record((2,))], [b"\xff\xfe"]), "not valid UTF-8"),
]


@pytest.mark.parametrize(("data", "message"), HOSTILE, ids=[message for _, message in HOSTILE])
def test_hostile_headers(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(MxConvertError, match=message):
        load_bytes(tmp_path, data)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(MxConvertError, match="no such file"):
        load_params(tmp_path / "absent.params")
    with pytest.raises(MxConvertError, match="directory"):
        load_params(tmp_path)
    with pytest.raises(MxConvertError, match="no such file"):
        detect_layout(tmp_path / "absent.params")


def test_v3_uninitialised_marker_is_reported(tmp_path: Path) -> None:
    with pytest.raises(MxConvertError, match="uninitialised"):
        load_bytes(tmp_path, params_file([v2_record((), ndim=-1, magic=V3_MAGIC)], [b"w"]))


def legacy_record(shape: tuple[int, ...], flag: int, data: bytes) -> bytes:
    return struct.pack(f"<I{len(shape)}Iiii", len(shape), *shape, 1, 0, flag) + data


VALID = params_file([v2_record((2, 3)), v2_record((1,), flag=6, data=bytes(8)), legacy_record((2,), 3, b"\x01\x02")],
                    [b"arg:w", b"aux:b", b"c"])


def test_valid_fixture_for_fuzzing_loads(tmp_path: Path) -> None:
    loaded = load_bytes(tmp_path, VALID)
    assert [array.shape for array in loaded.values()] == [(2, 3), (1,), (2,)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_our_error(tmp_path: Path, data: bytes) -> None:
    try:
        load_bytes(tmp_path, struct.pack("<QQ", 0x112, 0) + data)
    except MxConvertError:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), min_size=1, max_size=6),
       st.integers(0, len(VALID)))
def test_mutated_files_raise_only_our_error(tmp_path: Path, edits: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(VALID)
    for position, value in edits:
        data[position] = value
    try:
        load_bytes(tmp_path, bytes(data[:keep]))
    except MxConvertError:
        pass
