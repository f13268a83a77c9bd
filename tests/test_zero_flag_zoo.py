"""Every zoo family with no input shape given: the checkpoint fixes each data input's shape (said on one line),
or the converter exits 2 naming the input to give; a few converted at the chosen shape and checked against
MXNet."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from conftest import ROOT
from mxconvert import api
from mxconvert.errors import MxConvertError
from mxconvert.inputs import resolve_input_shape
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.zoo import nlp, sequence, tracking

RNG = np.random.default_rng(0)
FREE = "height and width free: the default chosen"
# zoo fixture -> (data input shapes at the API's 224 x 224 default, what the line says about the size)
IMAGE_FAMILIES = {
    "resnet-18": ({"data": (1, 3, 224, 224)}, FREE),
    "resnet-18-legacy": ({"data": (1, 3, 224, 224)}, FREE),
    "gluon-resnet18_v1": ({"data": (1, 3, 224, 224)}, FREE),
    "vision-squeezenet1.1": ({"data": (1, 3, 224, 224)}, FREE),
    "gluoncv-resnet18_v1b": ({"data": (1, 3, 224, 224)}, FREE),
    "det-yolo3_mobilenet1.0_voc": ({"data": (1, 3, 224, 224)}, FREE),
    "retinaface-r50": ({"data": (1, 3, 224, 224)}, FREE),
    "mtcnn-pnet": ({"data": (1, 3, 224, 224)}, FREE),
    "mtcnn-rnet": ({"data": (1, 3, 24, 24)}, "fixed by the graph: 22 to 25 fit (the default does not), 24 chosen, "
                                             "the largest multiple of 8"),
    "mtcnn-onet": ({"data": (1, 3, 48, 48)}, "fixed by the graph: 42 to 49 fit (the default does not), 48 chosen, "
                                             "the largest multiple of 8"),
    "arcface-r18": ({"data": (1, 3, 112, 112)}, "fixed by the graph: 97 to 112 fit (the default does not), 112 "
                                                "chosen, the largest multiple of 8"),
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, str]:
    """The families built in a folder of their own: NLP, sequence, tracking."""
    out = str(tmp_path_factory.mktemp("zero_flag"))
    prefixes = {f"nlp-{name}": nlp.build_nlp(name, out) for name in ("bert-classifier", "standard-lstm", "text-cnn")}
    prefixes["sequence"] = sequence.build_sequence(next(iter(sequence.MODELS)), out)
    prefixes["tracking"] = tracking.build_tracker(tracking.MODELS[0], out)
    return prefixes


@pytest.mark.parametrize("name", IMAGE_FAMILIES)
def test_image_family_shape_from_the_first_convolution(zoo_model, name):
    shapes, lines = resolve_input_shape(api.load(zoo_model(name)), None)
    expected, size = IMAGE_FAMILIES[name]
    assert shapes == expected
    assert len(lines) == 1 and "from the first layer's weight (Convolution" in lines[0] and "takes 3 channels" in lines[0]
    assert lines[0].endswith(size) or size == FREE and size in lines[0], lines


@pytest.mark.parametrize("name, expected, why", [
    ("nlp-standard-lstm", {"data0": (32, 1)}, "takes token ids, time-major); length free"),
    ("nlp-text-cnn", {"data": (32, 1)}, "takes token ids, time-major); length free"),
    ("sequence", {"data0": (32, 1, 128)}, "_rnn0' takes 128 input features, time-major); length free"),
    ("tracking", {"data0": (1, 3, 224, 224), "data1": (1, 3, 224, 224)}, "takes 3 channels); height and width free"),
])
def test_sequence_and_tracking_families(built, name, expected, why):
    shapes, lines = resolve_input_shape(api.load(built[name]), None)
    assert shapes == expected
    assert len(lines) == len(expected) and all(why in line for line in lines), lines


def test_bert_valid_length_is_named(built):
    """Nothing in BERT's checkpoint sizes its valid length: refused, naming the input."""
    with pytest.raises(MxConvertError, match=r"^input 'data2': no --input_shape given and the checkpoint does not "
                                             r"fix its shape \(it feeds Reshape 'bertencoder0_reshape0', "
                                             r"SequenceMask 'bertencoder0_sequencemask0'\); give it with "
                                             r"--input_shape data2=SHAPE$"):
        resolve_input_shape(api.load(built["nlp-bert-classifier"]), None)


def test_bert_by_script_exits_2_writing_nothing(built, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "mxnet2onnx.py"), "--prefix", built["nlp-bert-classifier"],
                           "--onnx_model", str(out / "m.onnx"), "--conversion_log", str(out / "log.txt")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 2 and not out.exists(), done.stderr
    assert done.stderr.count("\n") == 1 and "error: input 'data2': no --input_shape given" in done.stderr


def onnx_agrees_with_mxnet(prefix: str, feeds_of) -> None:
    graph = api.load(prefix)
    shapes = api.input_shape_of(graph)
    feeds = {name: feeds_of(shape) for name, shape in shapes.items()}
    expected = MxnetModel(prefix)(feeds)
    got = ort.InferenceSession(api.to_onnx(graph).SerializeToString()).run(None, feeds)
    assert len(got) == len(expected)
    for have, want in zip(got, expected):
        assert have.shape == want.shape
        np.testing.assert_allclose(have, want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("name", ["mtcnn-onet", "arcface-r18"])
def test_fixed_size_families_convert_at_the_chosen_size(zoo_model, name):
    onnx_agrees_with_mxnet(zoo_model(name), lambda shape: RNG.uniform(0, 255, size=shape).astype(np.float32))


def test_time_major_token_ids_convert(built):
    """Text CNN: batch-major ids do not fit its convolutions; time-major ones, (32, 1), do, and match MXNet."""
    onnx_agrees_with_mxnet(built["nlp-text-cnn"],
                           lambda shape: RNG.integers(0, nlp.VOCAB_SIZE, size=shape).astype(np.float32))
