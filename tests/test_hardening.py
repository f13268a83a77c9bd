"""Hostile and broken inputs against every script: exit codes, one stderr line, nothing written, nothing run.

``BAD_INPUTS`` is the matrix: each case runs one script in a subprocess on one bad input and asserts exit 2,
a single ``<script>: error: ...`` line naming the problem, no traceback, and that no file appeared anywhere
under the test's folder (outputs, temporary files, bytecode). The other tests cover what a matrix cannot:
interrupted and failing writes, injection through names, pickles, and inputs built to exhaust time or memory.

Longer than 600 lines: the matrix is one table (89 bad inputs, each a few lines) that must stay in one place to
be checked for covering every script.
"""
from __future__ import annotations

import ast
import io
import json
import os
import pickle
import resource
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from conftest import ROOT
from mxconvert.checkpoint import load_checkpoint
from mxconvert.convert import convert_to_onnx, convert_to_pytorch
from mxconvert.errors import EXIT_INTERNAL, MxConvertError
from mxconvert.params import save_params
from mxconvert.symbol import MAX_ATTR_CHARS, parse_symbol
from mxconvert.to_onnx import ExportOptions
from mxconvert.to_torch import TorchOptions

SHAPE = "1,3,8,8"
PAYLOAD = "x\"); import os; os.system('touch PWNED')#\n名前\u2028"


# --- a tiny checkpoint written without MXNet ------------------------------------------------------------------

def _node(op: str, name: str, inputs: list[int], **attrs: str) -> dict:
    return {"op": op, "name": name, "inputs": [[i, 0, 0] for i in inputs], **({"attrs": attrs} if attrs else {})}


def net_symbol(conv: str = "conv0", fc: str = "fc1") -> dict:
    """data -> Convolution -> BatchNorm -> relu -> global avg pool -> FullyConnected -> SoftmaxOutput."""
    nodes = [_node("null", "data", []), _node("null", f"{conv}_weight", []),
             _node("Convolution", conv, [0, 1], kernel="(3, 3)", num_filter="2", pad="(1, 1)", no_bias="True"),
             *(_node("null", f"bn0_{p}", []) for p in ("gamma", "beta", "moving_mean", "moving_var")),
             _node("BatchNorm", "bn0", [2, 3, 4, 5, 6], fix_gamma="False"),
             _node("Activation", "relu0", [7], act_type="relu"),
             _node("Pooling", "pool0", [8], kernel="(1, 1)", global_pool="True", pool_type="avg"),
             _node("null", f"{fc}_weight", []), _node("null", f"{fc}_bias", []),
             _node("FullyConnected", fc, [9, 10, 11], num_hidden="3"),
             _node("null", "softmax_label", []), _node("SoftmaxOutput", "softmax", [12, 13])]
    return {"nodes": nodes, "arg_nodes": [i for i, n in enumerate(nodes) if n["op"] == "null"],
            "heads": [[len(nodes) - 1, 0, 0]], "attrs": {"mxnet_version": ["int", 10901]}}


def net_params(conv: str = "conv0", fc: str = "fc1") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {f"arg:{conv}_weight": rng.normal(size=(2, 3, 3, 3)).astype(np.float32),
            "arg:bn0_gamma": np.ones(2, np.float32), "arg:bn0_beta": np.zeros(2, np.float32),
            f"arg:{fc}_weight": rng.normal(size=(3, 2)).astype(np.float32), f"arg:{fc}_bias": np.zeros(3, np.float32),
            "aux:bn0_moving_mean": np.zeros(2, np.float32), "aux:bn0_moving_var": np.ones(2, np.float32)}


def write_checkpoint(folder: Path, symbol: dict | str | bytes | None = None, params: dict | bytes | None = None,
                     name: str = "net") -> Path:
    """``folder/name-symbol.json`` and ``folder/name-0000.params``; raw text or bytes are written verbatim."""
    folder.mkdir(parents=True, exist_ok=True)
    symbol = net_symbol() if symbol is None else symbol
    params = net_params() if params is None else params
    sym_path, params_path = folder / f"{name}-symbol.json", folder / f"{name}-0000.params"
    if isinstance(symbol, dict):
        sym_path.write_text(json.dumps(symbol))
    else:
        sym_path.write_bytes(symbol if isinstance(symbol, bytes) else symbol.encode())
    if isinstance(params, dict):
        save_params(params_path, params)
    else:
        params_path.write_bytes(params)
    return folder / name


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny network as a checkpoint, an ONNX file, kit_model.py + model.pth and an input tensor."""
    folder = tmp_path_factory.mktemp("converted")
    prefix = write_checkpoint(folder)
    graph = load_checkpoint(str(prefix), 0)
    convert_to_onnx(graph, ExportOptions(input_shape=(1, 3, 8, 8)), folder / "net.onnx")
    convert_to_pytorch(graph, TorchOptions(input_shape=(1, 3, 8, 8)), folder / "kit_model.py", folder / "model.pth")
    np.save(folder / "input.npy", np.ones((1, 3, 8, 8), np.float32))
    return {"prefix": prefix, "onnx": folder / "net.onnx", "kit": folder / "kit_model.py",
            "pth": folder / "model.pth", "input": folder / "input.npy", "folder": folder}


# --- running a script ---------------------------------------------------------------------------------------

SCRIPTS = {
    "mxnet2onnx": ("mxnet2onnx.py", ["--onnx_model", "out/m.onnx", "--conversion_log", "out/log.txt"]),
    "mxnet2pytorch": ("mxnet2pytorch.py", ["--pytorch_model", "out/model.pth", "--kit_model", "out/kit_model.py"]),
    "mxnet_inference": ("mxnet_inference.py", ["--mxnet_model_output", "out/mx.npy"]),
    "onnxruntime_inference": ("onnxruntime_inference.py", ["--onnxruntime_model_output", "out/ort.npy"]),
    "onnx_inference_mxnet_back": ("onnx_inference_mxnet_back.py", ["--onnx_mx_model_output", "out/omx.npy"]),
    "pytorch_inference": ("pytorch_inference.py", ["--pytorch_model_output", "out/pt.npy"]),
    "compare_onnx": ("outputs_comparison/test_mxnet_onnx_outputs.py", []),
    "compare_pytorch": ("outputs_comparison/test_mxnet_pytorch_outputs.py", []),
    "run_all": ("run_all.py", ["--onnx_dir", "out/onnx", "--pytorch_dir", "out/pt", "--result_dir", "out/res",
                               "--test_mx_onnx", "out/onnx.txt", "--test_mx_pytorch", "out/pt.txt"]),
}


def run_script(script: str, args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    path, outputs = SCRIPTS[script]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, str(ROOT / path), *outputs, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, **kwargs)


def files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def assert_one_line(done: subprocess.CompletedProcess, script: str, needle: str, code: int = 2) -> None:
    assert done.returncode == code, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.splitlines()
    if script == "run_all":  # its progress lines go to stderr too; the error is the last line
        lines = [line for line in lines if not line.startswith(("[", "   "))]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert lines[0].startswith(f"{Path(SCRIPTS[script][0]).name}: "), lines[0]
    assert ("internal error" in lines[0]) == (code == EXIT_INTERNAL), lines[0]
    assert needle in lines[0], lines[0]


# --- the matrix ---------------------------------------------------------------------------------------------

Setup = Callable[[Path, dict[str, Path]], list[str]]  # (input folder, converted files) -> flags


@dataclass(frozen=True)
class Bad:
    script: str
    setup: Setup
    needle: str


def conv(symbol: dict | str | bytes | None = None, params: dict | bytes | None = None, *extra: str) -> Setup:
    """Flags of a conversion (or MXNet run) of a checkpoint with the given symbol and params."""
    def setup(folder: Path, _: dict[str, Path]) -> list[str]:
        return ["--prefix", str(write_checkpoint(folder, symbol, params)), "--epoch", "0", "--input_shape", SHAPE,
                *extra]
    return setup


def infer(kind: str, extra: tuple[str, ...] = (), **files: Callable[[Path, dict[str, Path]], Path]) -> Setup:
    """Flags of an inference script: the converted model and input, each replaceable through ``files``."""
    model_flags = {"onnx": ("onnx_model",), "torch": ("kit_model", "pytorch_model"), "mxnet": ("prefix",)}[kind]

    def setup(folder: Path, ok: dict[str, Path]) -> list[str]:
        defaults = {"onnx_model": ok["onnx"], "kit_model": ok["kit"], "pytorch_model": ok["pth"],
                    "prefix": ok["prefix"], "input_image": ok["input"]}
        args: list[str] = []
        for flag in (*model_flags, "input_image"):
            args += [f"--{flag}", str(files[flag](folder, ok) if flag in files else defaults[flag])]
        return args + list(extra)
    return setup


def file(name: str, content: bytes | str | Callable[[Path], None]) -> Callable[[Path, dict[str, Path]], Path]:
    def make(folder: Path, _: dict[str, Path]) -> Path:
        path = folder / name
        folder.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        else:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path
    return make


def symbol_with(*changes: tuple[int, str, object], **top: object) -> dict:
    """The tiny net's symbol with ``(node index, key, value)`` changes and top-level keys set."""
    doc = net_symbol()
    for index, key, value in changes:
        doc["nodes"][index][key] = value
    return {**doc, **top}


def attrs_of(index: int, **attrs: str) -> tuple[int, str, dict]:
    return index, "attrs", {**net_symbol()["nodes"][index].get("attrs", {}), **attrs}


def record(ndim: int, dims: tuple[int, ...], flag: int = 0, stype: int = 0, data: bytes = b"") -> bytes:
    """One array record as MXNet 1.x writes it (v2: magic, storage type, shape, cpu context, dtype flag, data)."""
    return struct.pack(f"<Iii{len(dims)}qiii", 0xF993FAC9, stype, ndim, *dims, 1, 0, flag) + data


def params_file(count: int | None = None, **broken: bytes) -> bytes:
    """The tiny net's params file, written record by record, with the records named in ``broken``
    (``arg__conv0_weight=...`` for ``arg:conv0_weight``) replaced by raw bytes and the header's array count
    replaced by ``count``: every other record and every name is as MXNet would have them."""
    arrays = net_params()
    broken = {key.replace("__", ":"): value for key, value in broken.items()}
    assert set(broken) <= set(arrays), set(broken) - set(arrays)
    records = [broken.get(name) or record(value.ndim, value.shape, data=value.astype("<f4").tobytes())
               for name, value in arrays.items()]
    names = [struct.pack("<Q", len(name)) + name.encode() for name in arrays]
    return (struct.pack("<QQQ", 0x112, 0, len(arrays) if count is None else count) + b"".join(records)
            + struct.pack("<Q", len(arrays)) + b"".join(names))


def saved_params(**changes: np.ndarray | None) -> dict[str, np.ndarray]:
    arrays = net_params()
    for key, value in changes.items():
        key = key.replace("__", ":")
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value
    return arrays


def malicious_pickle(path: Path) -> None:
    """A .pth whose unpickling would create a file: ``weights_only=True`` must refuse it."""
    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {path.parent / 'PWNED'}",)
    torch.save({"conv0.weight": Payload()}, path)


def list_file(line: str, arrays: dict[str, np.ndarray | bytes] | None = None) -> Callable[[Path, dict], Path]:
    def make(folder: Path, _: dict[str, Path]) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, value in (arrays or {"mx.npy": np.ones((1, 5)), "b.npy": np.ones((1, 5))}).items():
            if isinstance(value, bytes):
                (folder / name).write_bytes(value)
            else:
                np.save(folder / name, value)
        (folder / "list.txt").write_text(line + "\n")
        return folder / "list.txt"
    return make


def compare(script: str, line: str, needle: str, arrays: dict | None = None, *extra: str) -> Bad:
    flag = "--test_mx_onnx" if script == "compare_onnx" else "--test_mx_pytorch"
    return Bad(script, lambda folder, ok: [flag, str(list_file(line, arrays)(folder, ok)), *extra], needle)


def pickled_npy(path: Path) -> None:
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)


def _truncated_params() -> bytes:
    """The tiny net's params file cut in half."""
    with tempfile.TemporaryDirectory() as folder:
        save_params(Path(folder) / "net.params", net_params())
        data = (Path(folder) / "net.params").read_bytes()
    return data[: len(data) // 2]


def archive(kind: str, members: dict[str, bytes | tuple[str, str]], name: str = "model") -> Callable[[Path, dict], Path]:
    """A tar.gz or zip (.mar) of ``members``: bytes, or ``("symlink"|"hardlink"|"fifo", target)``."""
    def make(folder: Path, _: dict[str, Path]) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.{'tar.gz' if kind == 'tar' else 'mar'}"
        if kind == "tar":
            with tarfile.open(path, "w:gz") as tar:
                for member, data in members.items():
                    info = tarfile.TarInfo(member)
                    if isinstance(data, tuple):
                        info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                                     "fifo": tarfile.FIFOTYPE}[data[0]]
                        info.linkname = data[1]
                        tar.addfile(info)
                    else:
                        info.size = len(data)
                        tar.addfile(info, io.BytesIO(data))
        else:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
                for member, data in members.items():
                    if isinstance(data, tuple):
                        info = zipfile.ZipInfo(member)
                        info.external_attr = (0o120777 << 16)
                        zipped.writestr(info, data[1])
                    else:
                        zipped.writestr(member, data)
        return path
    return make


def checkpoint_members() -> dict[str, bytes]:
    """The tiny net's two files as archive members."""
    with tempfile.TemporaryDirectory() as folder:
        prefix = write_checkpoint(Path(folder))
        return {"model-symbol.json": Path(f"{prefix}-symbol.json").read_bytes(),
                "model-0000.params": Path(f"{prefix}-0000.params").read_bytes()}


def archived(kind: str, members: dict, *extra: str) -> Setup:
    return lambda folder, ok: ["--prefix", str(archive(kind, members)(folder, ok)), "--input_shape", SHAPE, *extra]


MEMBERS = checkpoint_members()
BOMB = {**MEMBERS, "model-shapes.json": b" " * (80 << 20)}  # 80 MiB of spaces: a few dozen KiB compressed


TRUNCATED = _truncated_params()
BIG = "1" * (MAX_ATTR_CHARS + 1)
HOSTILE = 'x"); import os; os.system(\'touch PWNED\')#\\n名前\\u2028'  # PAYLOAD as one_line escapes it
HUGE = 2**62
BAD_INPUTS: dict[str, Bad] = {
    # mxnet2onnx: the symbol file
    "onnx/no such checkpoint": Bad("mxnet2onnx", lambda f, ok: ["--prefix", str(f / "absent"), "--epoch", "0"],
                                   "absent-symbol.json: no such file"),
    "onnx/symbol not json": Bad("mxnet2onnx", conv("{nodes: ["), "net-symbol.json: not a symbol JSON file "
                                "(Expecting property name enclosed in double quotes"),
    "onnx/symbol not utf-8": Bad("mxnet2onnx", conv(b"\xff\xfe{}"),
                                 "net-symbol.json: not a symbol JSON file (not UTF-8 text)"),
    "onnx/symbol is a list": Bad("mxnet2onnx", conv("[1, 2]"),
                                 "net-symbol.json: not an MXNet symbol: expected a JSON object with a 'nodes' list"),
    "onnx/symbol empty": Bad("mxnet2onnx", conv(""),
                             "net-symbol.json: not a symbol JSON file (Expecting value: line 1 column 1 (char 0))"),
    "onnx/symbol cycle": Bad("mxnet2onnx", conv(symbol_with((2, "inputs", [[8, 0, 0], [1, 0, 0]]))),
                             "net-symbol.json: inputs of 'conv0': reference to node 8, a later node (cycle)"),
    "onnx/symbol self reference": Bad("mxnet2onnx", conv(symbol_with((2, "inputs", [[2, 0, 0], [1, 0, 0]]))),
                                      "net-symbol.json: inputs of 'conv0': reference to node 2, the node itself "
                                      "(cycle)"),
    "onnx/symbol dangling input": Bad("mxnet2onnx", conv(symbol_with((2, "inputs", [[99, 0, 0], [1, 0, 0]]))),
                                      "net-symbol.json: inputs of 'conv0': reference to node 99, a node that does "
                                      "not exist"),
    "onnx/symbol missing output": Bad("mxnet2onnx", conv(symbol_with((8, "inputs", [[7, 5, 0]]))),
                                      "net-symbol.json: inputs of 'relu0': node 'bn0' has no output 5"),
    "onnx/symbol unknown top key": Bad("mxnet2onnx", conv(symbol_with(extra=1)),
                                       "net-symbol.json: not an MXNet symbol: unknown top-level keys ['extra']"),
    "onnx/symbol unknown node key": Bad("mxnet2onnx", conv(symbol_with((8, "evil", 1))),
                                        "net-symbol.json: node 8: unknown keys ['evil']"),
    "onnx/symbol huge attribute": Bad("mxnet2onnx", conv(symbol_with(attrs_of(8, __doc__=BIG))),
                                      f"net-symbol.json: node 'relu0': attribute '__doc__' is {len(BIG)} characters "
                                      "long"),
    "onnx/symbol overflowing int": Bad("mxnet2onnx", conv(symbol_with(attrs_of(2, num_filter="1e400"))),
                                       "net-symbol.json: node 'conv0' (Convolution): bad attribute "
                                       "num_filter='1e400': not an integer: '1e400'"),
    "onnx/symbol huge json int": Bad("mxnet2onnx", conv('{"nodes": [' + "7" * 5000 + "]}"),
                                     "net-symbol.json: not a symbol JSON file (Exceeds the limit (4300 digits) for "
                                     "integer string conversion"),
    "onnx/symbol deep nesting": Bad("mxnet2onnx", conv("[" * 100000),
                                    "net-symbol.json: not a symbol JSON file (maximum recursion depth exceeded"),
    "onnx/symbol missing attribute": Bad("mxnet2onnx", conv(symbol_with((2, "attrs", {"num_filter": "2"}))),
                                         "net-symbol.json: node 'conv0' (Convolution): missing required attribute "
                                         "'kernel'"),
    "onnx/symbol unsupported op with hostile name": Bad(
        "mxnet2onnx", conv(symbol_with((8, "op", "_grad_add"), (8, "name", PAYLOAD))),
        f"cannot convert to ONNX opset 13: unsupported ops: _grad_add ({HOSTILE})"),
    "onnx/symbol stride zero": Bad("mxnet2onnx", conv(symbol_with(attrs_of(2, stride="(0, 0)"))),
                                   "net-symbol.json: node 'conv0' (Convolution): bad attribute stride='(0, 0)': "
                                   "every size must be at least 1, got (0, 0)"),
    "onnx/symbol num_filter zero": Bad("mxnet2onnx", conv(symbol_with(attrs_of(2, num_filter="0"))),
                                       "net-symbol.json: node 'conv0' (Convolution): bad attribute num_filter='0': "
                                       "0 is below 1"),
    "onnx/symbol upsampling bomb": Bad("mxnet2onnx", conv(symbol_with(
        (8, "op", "UpSampling"), (8, "attrs", {"scale": "1000000", "sample_type": "nearest", "num_args": "1"}))),
        "net-0000.params: node 'relu0' (UpSampling): output of shape (1, 2, 8000000, 8000000) has more than "
        "1073741824 elements"),
    # mxnet2onnx: the params file (the tiny net's, with one record broken)
    "onnx/params missing": Bad("mxnet2onnx", conv(None, None, "--epoch", "3"), "net-0003.params: no such file"),
    "onnx/params bad magic": Bad("mxnet2onnx", conv(None, b"\0" * 64),
                                 "net-0000.params: not an MXNet params file (bad magic 0x0)"),
    "onnx/params truncated": Bad("mxnet2onnx", conv(None, TRUNCATED),
                                 f"net-0000.params: truncated at byte {len(TRUNCATED)} while reading array 2"),
    "onnx/params ndim 2^31": Bad("mxnet2onnx", conv(None, params_file(arg__conv0_weight=record(2**31 - 1, ()))),
                                 "net-0000.params: array 0: invalid ndim 2147483647 (allowed 0..32)"),
    "onnx/params dims overflow": Bad("mxnet2onnx", conv(None, params_file(
        arg__conv0_weight=record(3, (HUGE, HUGE, HUGE)))),
        f"net-0000.params: array 0 shape {(HUGE, HUGE, HUGE)} is too large for any machine"),
    "onnx/params count beyond file": Bad("mxnet2onnx", conv(None, params_file(count=2**60)),
                                         f"net-0000.params: claims {2**60} arrays but only"),
    "onnx/params sparse": Bad("mxnet2onnx", conv(None, params_file(arg__fc1_bias=record(1, (3,), stype=2))),
                              "net-0000.params: array 4: sparse storage (csr) is not supported"),
    "onnx/params bfloat16": Bad("mxnet2onnx", conv(None, params_file(
        arg__fc1_bias=record(1, (3,), flag=12, data=bytes(6)))),
        "net-0000.params: array 4: dtype bfloat16 (flag 12) is not supported"),
    "onnx/params weight missing": Bad("mxnet2onnx", conv(None, saved_params(arg__fc1_weight=None)),
                                      "net-0000.params: missing weights the symbol needs: fc1_weight"),
    "onnx/params weight misshapen": Bad("mxnet2onnx", conv(None, saved_params(arg__fc1_weight=np.ones((3, 7)))),
                                        "net-0000.params: node 'fc1' (FullyConnected): weight has shape (3, 7), "
                                        "expected (3, 2)"),
    "onnx/params aux stored as arg": Bad("mxnet2onnx", conv(None, saved_params(
        aux__bn0_moving_var=None, arg__bn0_moving_var=np.ones(2, np.float32))),
        "net-0000.params: 'arg:bn0_moving_var' is stored as arg but the symbol uses it as aux"),
    # mxnet2onnx: flags
    "onnx/flag opset 99": Bad("mxnet2onnx", conv(None, None, "--opset", "99"),
                              "opset 99 is not supported (choose 11..21)"),
    "onnx/flag zero input shape": Bad("mxnet2onnx", conv(None, None, "--input_shape", "0,3,8,8"),
                                      "argument --input_shape: expected positive integers, got '0,3,8,8'"),
    "onnx/flag wrong channels": Bad("mxnet2onnx", conv(None, None, "--input_shape", "1,5,8,8"),
                                    "net-0000.params: node 'conv0' (Convolution): weight has shape (2, 3, 3, 3), "
                                    "expected (2, 5, 3, 3)"),
    "onnx/flag epoch not int": Bad("mxnet2onnx", conv(None, None, "--epoch", "zero"),
                                   "argument --epoch: invalid int value: 'zero'"),
    "onnx/flag unknown": Bad("mxnet2onnx", conv(None, None, "--evil"), "unrecognized arguments: --evil"),
    "onnx/output under a file": Bad("mxnet2onnx", lambda f, ok: [*conv()(f, ok), "--onnx_model",
                                                                 str(f / "net-symbol.json" / "m.onnx")],
                                    "net-symbol.json/m.onnx: cannot write output: File exists"),
    # mxnet2pytorch
    "torch/unsupported op with hostile name": Bad(
        "mxnet2pytorch", conv(symbol_with((8, "op", "_grad_add"), (8, "name", PAYLOAD))),
        f"cannot convert to PyTorch: unsupported ops: _grad_add ({HOSTILE})"),
    "torch/dropout p=-1": Bad("mxnet2pytorch", conv(symbol_with((8, "op", "Dropout"), (8, "attrs", {"p": "-1"}))),
                              "net-symbol.json: node 'relu0' (Dropout): bad attribute p='-1': -1.0 is outside "
                              "[0, 1]"),
    "torch/split num_outputs=0": Bad("mxnet2pytorch", conv(symbol_with(
        (8, "op", "SliceChannel"), (8, "attrs", {"num_outputs": "0"}))),
        "net-symbol.json: node 'relu0' (SliceChannel): bad attribute num_outputs='0': 0 is below 1"),
    "torch/params truncated": Bad("mxnet2pytorch", conv(None, TRUNCATED),
                                  f"net-0000.params: truncated at byte {len(TRUNCATED)} while reading array 2"),
    "torch/flag bad input shape": Bad("mxnet2pytorch", conv(None, None, "--input_shape", "a,b"),
                                      "argument --input_shape: expected comma-separated integers, got 'a,b'"),
    # pytorch_inference
    "ptinf/kit missing": Bad("pytorch_inference", infer("torch", kit_model=lambda f, ok: f / "absent.py"),
                             "absent.py: no such file"),
    "ptinf/kit without KitModel": Bad("pytorch_inference", infer("torch", kit_model=file("k.py", "x = 1\n")),
                                      "k.py: defines no KitModel class"),
    "ptinf/kit syntax error": Bad("pytorch_inference", infer("torch", kit_model=file("k.py", "def (:\n")),
                                  "k.py: cannot import the generated model: SyntaxError: invalid syntax"),
    "ptinf/pth malicious pickle": Bad("pytorch_inference", infer("torch", pytorch_model=file(
        "m.pth", malicious_pickle)), "m.pth: not a readable state dict (refused by torch.load(weights_only=True): "
        "Trying to load unsupported GLOBAL posix.system"),
    "ptinf/pth garbage": Bad("pytorch_inference", infer("torch", pytorch_model=file("m.pth", b"\x80\x04junk")),
                             "m.pth: not a readable state dict ("),
    "ptinf/pth wrong tensors": Bad("pytorch_inference", infer("torch", pytorch_model=file(
        "m.pth", lambda p: torch.save({"nope": torch.zeros(1)}, p))),
        "m.pth: the weights do not fit the model: missing conv0.weight, bn0.weight, bn0.bias and 5 more; "
        "unexpected nope"),
    "ptinf/input missing": Bad("pytorch_inference", infer("torch", input_image=lambda f, ok: f / "absent.png"),
                               "absent.png: no such file"),
    "ptinf/input not an image": Bad("pytorch_inference", infer("torch", input_image=file("x.png", b"\x89PNG junk")),
                                    "x.png: not an image file Pillow can read"),
    "ptinf/input pickled npy": Bad("pytorch_inference", infer("torch", input_image=file("x.npy", pickled_npy)),
                                   "x.npy: not a readable .npy file (Object arrays cannot be loaded when "
                                   "allow_pickle=False)"),
    "ptinf/input 2-d npy for 4-d model": Bad("pytorch_inference", infer("torch", input_image=file(
        "x.npy", lambda p: np.save(p, np.ones((3, 8), np.float32)))),
        "PyTorch forward failed on an input of shape (3, 8): "),
    "ptinf/input scalar npy": Bad("pytorch_inference", infer("torch", input_image=file(
        "x.npy", lambda p: np.save(p, np.float32(1)))),
        "x.npy: expected a tensor with a batch axis, got a scalar"),
    "ptinf/input wrong size": Bad("pytorch_inference", infer("torch", input_image=file(
        "x.npy", lambda p: np.save(p, np.ones((1, 4, 8, 8), np.float32)))),
        "PyTorch forward failed on an input of shape (1, 4, 8, 8): "),
    "ptinf/empty folder": Bad("pytorch_inference", infer("torch", input_image=lambda f, ok: (f / "e").mkdir(
        parents=True) or f / "e"), "/e: folder holds no image files"),
    "ptinf/flag batch size 0": Bad("pytorch_inference", infer("torch", extra=("--batch_size", "0")),
                                   "--batch_size must be positive, got 0"),
    "ptinf/flag bad device": Bad("pytorch_inference", infer("torch", extra=("--device", "quantum")),
                                 "unknown device 'quantum' (use cpu, cuda or cuda:N)"),
    # onnxruntime_inference and onnx_inference_mxnet_back
    "ort/onnx missing": Bad("onnxruntime_inference", infer("onnx", onnx_model=lambda f, ok: f / "absent.onnx"),
                            "absent.onnx: no such file"),
    "ort/onnx garbage": Bad("onnxruntime_inference", infer("onnx", onnx_model=file("m.onnx", b"\x08\x07garbage")),
                            "m.onnx: not a readable ONNX model (DecodeError: "),
    "ort/onnx empty": Bad("onnxruntime_inference", infer("onnx", onnx_model=file("m.onnx", b"")),
                          "m.onnx: not an ONNX model (no graph nodes or outputs)"),
    "ort/flag 3-d input shape": Bad("onnxruntime_inference", infer("onnx", extra=("--input_shape", "1,2,3")),
                                    "--input_shape takes H,W, got (1, 2, 3)"),
    "omx/onnx garbage": Bad("onnx_inference_mxnet_back", infer("onnx", onnx_model=file("m.onnx", b"\x08\x07xx")),
                            "m.onnx: not an ONNX model (no graph nodes or outputs)"),
    # mxnet_inference: MXNet's own loaders, their failures turned into one line
    "mxinf/no such checkpoint": Bad("mxnet_inference", infer("mxnet", prefix=lambda f, ok: f / "absent"),
                                    "absent-symbol.json: no such file"),
    "mxinf/params absurd ndim": Bad("mxnet_inference", infer("mxnet", prefix=lambda f, ok: write_checkpoint(
        f, params=params_file(arg__conv0_weight=record(2**31 - 1, ())))),
        "net-0000.params: not a readable MXNet params file (Check failed: fi->Read(data): Invalid NDArray file "
        "format)"),
    # MXNet 1.9.1 reads a shape whose element count overflows 64 bits as an empty array: caught when binding
    "mxinf/params dims overflow": Bad("mxnet_inference", infer("mxnet", prefix=lambda f, ok: write_checkpoint(
        f, params=params_file(arg__conv0_weight=record(3, (HUGE, HUGE, HUGE))))),
        "net-0000.params: cannot run with input data of shape (1, 3, 8, 8): Error in operator conv0: Shape "
        "inconsistent, Provided = [-1,-1,-1], inferred shape=(2,3,3,3)"),
    "mxinf/symbol not json": Bad("mxnet_inference", infer("mxnet", prefix=lambda f, ok: write_checkpoint(
        f, symbol="{nodes")), "net-symbol.json: not a readable MXNet symbol file ("),
    # archives (SageMaker model.tar.gz, Model Server .mar) and folders where --prefix goes
    "archive/path traversal": Bad("mxnet2onnx", archived("tar", {**MEMBERS, "../evil.json": b"{}"}),
                                  "model.tar.gz: member '../evil.json' points outside the archive (absolute path or "
                                  "'..')"),
    "archive/absolute path": Bad("mxnet2pytorch", archived("zip", {**MEMBERS, "/etc/evil.json": b"{}"}),
                                 "model.mar: member '/etc/evil.json' points outside the archive"),
    "archive/symlink": Bad("mxnet2onnx", archived("tar", {"model-symbol.json": ("symlink", "/etc/passwd"),
                                                          "model-0000.params": MEMBERS["model-0000.params"]}),
                           "model.tar.gz: member 'model-symbol.json' is a link (to '/etc/passwd')"),
    "archive/hardlink": Bad("mxnet2onnx", archived("tar", {**MEMBERS, "x.params": ("hardlink", "/etc/shadow")}),
                            "model.tar.gz: member 'x.params' is a link (to '/etc/shadow')"),
    "archive/zip symlink": Bad("mxnet2onnx", archived("zip", {**MEMBERS, "link.json": ("symlink", "/etc/passwd")}),
                               "model.mar: member 'link.json' is a link"),
    "archive/device": Bad("mxnet2onnx", archived("tar", {**MEMBERS, "pipe": ("fifo", "")}),
                          "model.tar.gz: member 'pipe' is a device, pipe or other special file"),
    "archive/tar bomb": Bad("mxnet2onnx", archived("tar", BOMB), "model.tar.gz: decompresses to more than "),
    "archive/zip bomb": Bad("mxnet2onnx", archived("zip", BOMB), "model.mar: decompresses to 83888126 bytes, more than 67108864: refused as a possible archive bomb"),
    "archive/no params": Bad("mxnet2onnx", archived("tar", {"model-symbol.json": MEMBERS["model-symbol.json"]}),
                             "model.tar.gz: holds no params files for model-symbol.json (none); name them with "
                             "--symbol and --params"),
    "archive/no symbol": Bad("mxnet2pytorch", archived("zip", {"model-0000.params": MEMBERS["model-0000.params"]}),
                             "model.mar: holds no MXNet symbol (*-symbol.json) among model-0000.params"),
    "archive/truncated": Bad("mxnet2onnx", lambda f, ok: ["--prefix", str(file("model.tar.gz", b"\x1f\x8b\x08\x00")(
        f, ok))], "model.tar.gz: not a readable archive"),
    "archive/bad shapes file": Bad("mxnet2onnx", archived("tar", {**MEMBERS, "model-shapes.json": b'[{"name": 1}]'}),
                                   "model.tar.gz:model-shapes.json: not a shapes file: entry {\"name\": 1} is not a "
                                   "name with a shape"),
    "archive/mxnet run": Bad("mxnet_inference", lambda f, ok: ["--prefix", str(archive(
        "tar", {**MEMBERS, "../evil.json": b"{}"})(f, ok)), "--input_image", str(ok["input"])],
        "model.tar.gz: member '../evil.json' points outside the archive"),
    "archive/params broken": Bad("mxnet2onnx", archived("zip", {**MEMBERS, "model-0000.params": TRUNCATED}),
                                         "model.mar:model-0000.params: truncated at byte"),
    # the comparison scripts
    "cmp/list missing": Bad("compare_onnx", lambda f, ok: ["--test_mx_onnx", str(f / "absent.txt")],
                            "absent.txt: no such file"),
    "cmp/unknown key": compare("compare_onnx", "M mxnet=mx.npy evil=b.npy",
                               "list.txt:1: unknown key 'evil' (expected one of: mxnet, mxnet_fp64, onnx_mxnet, "
                               "onnxruntime)"),
    "cmp/unbalanced quote": compare("compare_onnx", 'M "mxnet=mx.npy',
                                    "list.txt:1: cannot split line (No closing quotation)"),
    "cmp/npy missing": compare("compare_onnx", "M mxnet=mx.npy onnxruntime=absent.npy",
                               "list.txt:1: missing file for onnxruntime="),
    "cmp/shape mismatch": compare("compare_pytorch", "M mxnet=mx.npy pytorch=b.npy",
                                  "b.npy: M PyTorch: output 0 has shape (1, 6), but MXNet's has (1, 5)",
                                  {"mx.npy": np.ones((1, 5)), "b.npy": np.ones((1, 6))}),
    "cmp/pickled npy": compare("compare_pytorch", "M mxnet=mx.npy pytorch=b.npy",
                               "b.npy: not a readable .npy file (Cannot load file containing pickled data when "
                               "allow_pickle=False)",
                               {"mx.npy": np.ones((1, 5)), "b.npy": pickle.dumps(np.ones((1, 5)))}),
    "cmp/negative tolerance": compare("compare_pytorch", "M mxnet=mx.npy pytorch=b.npy",
                                      "argument --tolerance: expected a non-negative number, got '-1'", None,
                                      "--tolerance", "-1"),
    # run_all
    "run_all/broken checkpoint": Bad("run_all", lambda f, ok: ["--models_dir", str(write_checkpoint(
        f, params=TRUNCATED).parent), "--input_image", str(ok["input"])],
        f"net-0000.params: truncated at byte {len(TRUNCATED)} while reading array 2"),
    "run_all/flag unknown depth": Bad("run_all", lambda f, ok: ["--depths", "7"],
                                      "argument --depths: invalid choice: 7 (choose from 18, 34, 50, 101, 152)"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(case: str, tmp_path: Path, converted: dict[str, Path]) -> None:
    bad = BAD_INPUTS[case]
    inputs, cwd = tmp_path / "in", tmp_path / "cwd"
    inputs.mkdir()
    cwd.mkdir()
    args = bad.setup(inputs, converted)
    before = files_under(tmp_path)
    done = run_script(bad.script, args, cwd)
    assert_one_line(done, bad.script, bad.needle)
    assert files_under(tmp_path) == before, "a file appeared or changed"
    assert not (inputs / "PWNED").exists() and not (cwd / "PWNED").exists()


def test_params_file_is_the_tiny_nets_as_mxnet_reads_it(tmp_path: Path) -> None:
    """Unbroken, ``params_file`` loads in MXNet as the tiny net's params: the matrix's broken files differ from a
    valid checkpoint only where they claim to."""
    from mxconvert.mxnet_compat import import_mxnet

    path = tmp_path / "net-0000.params"
    path.write_bytes(params_file())
    loaded = {name: array.asnumpy() for name, array in import_mxnet().nd.load(str(path)).items()}
    expected = net_params()
    assert sorted(loaded) == sorted(expected)
    for name, array in expected.items():
        np.testing.assert_array_equal(loaded[name], array)


# Runs a script with one mxconvert function replaced by one raising an exception no input explains (a bug).
BROKEN = """
import builtins, importlib, runpy, sys
from mxconvert import errors
target, kind, message = sys.argv[1:4]
module, name = target.rsplit(".", 1)
def broken(*args, **kwargs):
    raise (getattr(errors, kind, None) or getattr(builtins, kind))(message)
setattr(importlib.import_module(module), name, broken)
sys.argv = sys.argv[4:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script, kind", [("mxnet2onnx", "KeyError"), ("mxnet2pytorch", "InternalError")])
def test_unexpected_exception_is_an_internal_error(script: str, kind: str, tmp_path: Path) -> None:
    """A failure inside the pipeline that is not bad input: exit 3, one line saying so, nothing written."""
    args = conv()(tmp_path / "in", {})
    path, outputs = SCRIPTS[script]
    before = files_under(tmp_path)
    done = subprocess.run([sys.executable, "-c", BROKEN, "mxconvert.semantics.inference.inferred_shapes", kind, "deliberate",
                           str(ROOT / path), *outputs, *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=180, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(ROOT)})
    assert_one_line(done, script, f"internal error: {kind}: ", code=EXIT_INTERNAL)
    assert "deliberate" in done.stderr and "report" in done.stderr, done.stderr
    assert files_under(tmp_path) == before, "a file appeared or changed"


def test_matrix_size(capsys: pytest.CaptureFixture[str]) -> None:
    """The matrix covers at least 40 bad inputs and every script; the count is printed (by xdist's workers too)."""
    scripts = {bad.script for bad in BAD_INPUTS.values()}
    assert len(BAD_INPUTS) >= 40 and scripts == set(SCRIPTS), (len(BAD_INPUTS), set(SCRIPTS) - scripts)
    with capsys.disabled():
        print(f"\nhardening: {len(BAD_INPUTS)} bad inputs across {len(scripts)} scripts", file=sys.stderr)


# --- interrupted and failing writes -------------------------------------------------------------------------

# Runs a script with os.fsync stalled: the output is complete in its temporary file but not yet renamed. Ctrl-C
# raises KeyboardInterrupt as in a terminal, even where the test runner was started with SIGINT ignored (a
# background job of a non-interactive shell), which the child would otherwise inherit.
STALLED = """
import os, runpy, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
def stalled_fsync(fd):
    open(os.environ["MXCONVERT_READY"], "w").close()
    time.sleep(60)
os.fsync = stalled_fsync
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""
WRITERS = {"mxnet2onnx": ("out/m.onnx", "out/log.txt"), "mxnet2pytorch": ("out/model.pth", "out/kit_model.py"),
           "onnxruntime_inference": ("out/ort.npy",)}


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("script", sorted(WRITERS))
def test_interrupted_write_keeps_previous_outputs(script: str, signum: int, tmp_path: Path,
                                                  converted: dict[str, Path]) -> None:
    previous = {name: f"previous {name}".encode() for name in WRITERS[script]}
    for name, data in previous.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(data)
    args = conv()(tmp_path / "in", converted) if script.startswith("mxnet2") else infer("onnx")(tmp_path, converted)
    path, outputs = SCRIPTS[script]
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", STALLED, str(ROOT / path), *outputs, *args], cwd=tmp_path,
                             env={**os.environ, "MXCONVERT_READY": str(ready), "PYTHONDONTWRITEBYTECODE": "1"},
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ready.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), child.communicate(timeout=10)[1]
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")], "no write in progress"
    child.send_signal(signum)
    _, stderr = child.communicate(timeout=60)
    assert child.returncode == 130 and stderr.splitlines() == [f"{Path(path).name}: interrupted"], stderr
    assert {name: (tmp_path / name).read_bytes() for name in previous} == previous
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(Path(n).name for n in previous)


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))  # Python ignores SIGXFSZ: writes fail with EFBIG


def test_full_disk_keeps_previous_output(tmp_path: Path) -> None:
    """The real write path failing in the OS (a 512-byte file size limit stands in for a full disk)."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "m.onnx").write_bytes(b"previous")
    done = run_script("mxnet2onnx", conv()(tmp_path / "in", {}), tmp_path, preexec_fn=_limit_file_size)
    assert_one_line(done, "mxnet2onnx", "cannot write output: File too large")
    assert sorted(p.name for p in out.iterdir()) == ["m.onnx"] and (out / "m.onnx").read_bytes() == b"previous"


def test_no_space_left_keeps_previous_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mxconvert.fileio import write_bytes

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(MxConvertError, match="No space left on device"):
        write_bytes(target, b"new" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"] and target.read_bytes() == b"previous"


# --- injection through names, and pickles --------------------------------------------------------------------

def test_hostile_names_never_run_through_the_scripts(tmp_path: Path, converted: dict[str, Path]) -> None:
    """A checkpoint whose node names are code converts, imports and runs; the payload never executes."""
    conv_name, fc_name = PAYLOAD, "fc\"\"\"; __import__('os').system('touch PWNED') #\r\n\u00e9"
    arrays = {k.replace("conv0", conv_name).replace("fc1", fc_name): v for k, v in net_params().items()}
    prefix = write_checkpoint(tmp_path / "in", net_symbol(conv_name, fc_name), arrays)
    done = run_script("mxnet2pytorch", ["--prefix", str(prefix), "--input_shape", SHAPE], tmp_path)
    assert done.returncode == 0, done.stderr
    kit = tmp_path / "out" / "kit_model.py"
    source = kit.read_text(encoding="utf-8")
    names = ast.literal_eval(next(n.value for n in ast.parse(source).body
                                  if isinstance(n, ast.Assign) and n.targets[0].id == "MXNET_NAMES"))
    assert {conv_name, fc_name} <= set(names.values())
    done = run_script("pytorch_inference", ["--kit_model", str(kit), "--pytorch_model", str(tmp_path / "out" /
                      "model.pth"), "--input_image", str(converted["input"])], tmp_path)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.rglob("PWNED"))


def test_no_pickle_of_user_data(tmp_path: Path) -> None:
    """Every torch.load is weights_only=True, every np.load/np.save refuses pickles, nothing unpickles."""
    sources = [*(ROOT / "mxconvert").rglob("*.py"), *ROOT.glob("*.py"), *(ROOT / "outputs_comparison").glob("*.py")]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            where = f"{path.relative_to(ROOT)}:{node.lineno}: {func}"
            assert not func.startswith(("pickle.", "dill.", "joblib.", "marshal.", "shelve.")) or \
                func.endswith("Error"), where
            if func == "torch.load" or func.endswith(".torch.load"):
                assert keywords.get("weights_only") == "True", where
            if func in ("np.load", "numpy.load", "np.save", "numpy.save"):
                assert keywords.get("allow_pickle") == "False", where


# --- inputs built to exhaust memory or time ------------------------------------------------------------------

MEASURE = """
import resource, sys, time
from mxconvert.errors import MxConvertError
from mxconvert.params import load_params
from mxconvert.symbol import read_symbol
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
try:
    (read_symbol if sys.argv[1].endswith(".json") else load_params)(sys.argv[1])
    message = "loaded"
except MxConvertError as exc:
    message = str(exc)[-120:]
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(f"{time.perf_counter() - started} {grown} {message}")
"""


def measure(path: Path) -> tuple[float, int, str]:
    """Seconds and bytes of peak memory growth of reading ``path`` in a fresh process, and the outcome."""
    done = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds, grown, message = done.stdout.split(" ", 2)
    return float(seconds), int(grown), message.strip()


def test_100_mb_attribute_is_rejected_quickly_in_bounded_memory(tmp_path: Path) -> None:
    doc = symbol_with((8, "attrs", {"act_type": "relu", "__doc__": "x" * (100 << 20)}))
    path = tmp_path / "big-symbol.json"
    path.write_text(json.dumps(doc))
    seconds, grown, message = measure(path)
    assert message.endswith(f"attribute '__doc__' is {100 << 20} characters long")
    assert seconds < 10 and grown < 3 * path.stat().st_size, (seconds, grown)


def test_many_tiny_arrays_load_in_linear_time(tmp_path: Path) -> None:
    """200k names: the duplicate-name check was a list lookup (quadratic, hours); it is a set now."""
    count = 200_000
    records = struct.pack("<IIiii", 1, 0, 1, 0, 0) * count  # legacy layout: ndim 1, dim 0, cpu, float32
    names = b"".join(struct.pack("<Q", len(n)) + n for n in (b"a%d" % i for i in range(count)))
    path = tmp_path / "many.params"
    path.write_bytes(struct.pack("<QQQ", 0x112, 0, count) + records + struct.pack("<Q", count) + names)
    seconds, _, message = measure(path)
    assert message == "loaded" and seconds < 20, (seconds, message)


def test_many_nodes_parse_in_linear_time(tmp_path: Path) -> None:
    count = 100_000
    nodes = [_node("null", "data", [])] + [_node("Flatten", f"f{i}", [i]) for i in range(count)]
    path = tmp_path / "long-symbol.json"
    path.write_text(json.dumps({"nodes": nodes, "heads": [[count, 0, 0]]}))
    seconds, _, message = measure(path)
    assert message == "loaded" and seconds < 20, (seconds, message)


def test_every_truncation_of_a_symbol_is_a_clean_error() -> None:
    text = json.dumps(net_symbol())
    for size in range(len(text)):
        with pytest.raises(MxConvertError):
            parse_symbol(text[:size])
