"""The zoo builds checkpoints laid out like MXNet's model zoo, with calibrated, realistic weights."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mxconvert.zoo import cli, common, resnet
from mxconvert.params import detect_layout

mx = common.mx
SIZE, COUNT, SEED = 64, 16, 3


def _load(prefix: str):
    return mx.model.load_checkpoint(prefix, 0)


def _softmax(prefix: str, images: np.ndarray, **replace: np.ndarray) -> np.ndarray:
    sym, arg, aux = _load(prefix)
    arg.update({name: mx.nd.array(value) for name, value in replace.items()})
    return common.forward(sym, arg, aux, {"data": images})[0]


@pytest.fixture(scope="module")
def resnet18(tmp_path_factory) -> str:
    return resnet.build_classic(18, str(tmp_path_factory.mktemp("zoo")), seed=SEED, calib_size=SIZE, calib_images=COUNT)


@pytest.fixture(scope="module")
def fresh_images() -> np.ndarray:
    return common.sample_images(COUNT, SIZE, SEED + 1)


def test_sample_images_are_deterministic_smooth_and_in_pixel_range():
    images = common.sample_images(4, 64, seed=5)
    assert images.shape == (4, 3, 64, 64) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 255 and images.std() > 20
    assert np.array_equal(images, common.sample_images(4, 64, seed=5))
    neighbour_step = np.abs(np.diff(images, axis=3)).mean()
    assert neighbour_step < 0.35 * np.abs(images - images.mean()).mean()


def test_build_writes_exactly_the_two_checkpoint_files(resnet18):
    folder = Path(resnet18).parent
    assert sorted(os.listdir(folder)) == ["resnet-18-0000.params", "resnet-18-symbol.json"]


def test_classic_layout_matches_the_model_zoo(resnet18):
    nodes = json.loads(Path(f"{resnet18}-symbol.json").read_text())["nodes"]
    names = [node["name"] for node in nodes]
    ops = {node["name"]: node["op"] for node in nodes}
    assert names[:16] == ["data", "bn_data_gamma", "bn_data_beta", "bn_data_moving_mean", "bn_data_moving_var",
                          "bn_data", "conv0_weight", "conv0", "bn0_gamma", "bn0_beta", "bn0_moving_mean",
                          "bn0_moving_var", "bn0", "relu0", "pooling0", "stage1_unit1_bn1_gamma"]
    assert names[-6:] == ["flatten0", "fc1_weight", "fc1_bias", "fc1", "softmax_label", "softmax"]
    assert [ops[f"_plus{i}"] for i in range(8)] == ["elemwise_add"] * 8
    assert [name for name in names if name.endswith("_sc")] == [f"stage{s}_unit1_sc" for s in range(1, 5)]
    assert sum(op == "Convolution" for op in ops.values()) == 21
    assert sum(op == "BatchNorm" for op in ops.values()) == 19
    assert {ops[name] for name in ("pooling0", "pool1", "softmax")} == {"Pooling", "SoftmaxOutput"}
    batchnorms = {node["name"]: node["attrs"] for node in nodes if node["op"] == "BatchNorm"}
    assert {name for name, attrs in batchnorms.items() if attrs["fix_gamma"] == "True"} == {"bn_data"}
    assert {attrs["eps"] for attrs in batchnorms.values()} == {"2e-05"}


def test_bottleneck_depths_have_the_zoo_units():
    arguments = set(resnet.classic_resnet_symbol(152).list_arguments())
    assert {"stage2_unit8_conv3_weight", "stage3_unit36_conv3_weight", "stage4_unit1_sc_weight"} <= arguments
    assert "stage2_unit9_conv1_weight" not in arguments and "stage2_unit2_sc_weight" not in arguments
    _, shapes, _ = resnet.classic_resnet_symbol(50).infer_shape(data=(1, 3, 224, 224))
    assert shapes == [(1, 1000)]


def _batchnorm_outputs(prefix: str, images: np.ndarray) -> dict[str, np.ndarray]:
    """Each BatchNorm's inference output with its affine part undone: what the moving statistics normalise."""
    sym, arg, aux = _load(prefix)
    internals = sym.get_internals()
    outputs = dict(zip(internals.list_outputs(), common.forward(internals, arg, aux, {"data": images})))
    normalised = {}
    for node in json.loads(sym.tojson())["nodes"]:
        if node["op"] == "BatchNorm":
            name = node["name"]
            gamma = arg[f"{name}_gamma"].asnumpy()
            gamma = np.ones_like(gamma) if name == "bn_data" else gamma
            beta = arg[f"{name}_beta"].asnumpy()
            normalised[name] = (outputs[f"{name}_output"] - beta[:, None, None]) / gamma[:, None, None]
    return normalised


def test_moving_stats_match_the_calibration_batch_exactly(resnet18):
    calibration = common.sample_images(2 * COUNT, SIZE, SEED)[:COUNT]
    for name, value in _batchnorm_outputs(resnet18, calibration).items():
        assert np.abs(value.mean(axis=(0, 2, 3))).max() < 1e-3, name
        assert np.abs(value.var(axis=(0, 2, 3)) - 1).max() < 2e-2, name


def test_fresh_images_give_roughly_standardised_batchnorm_outputs(resnet18, fresh_images):
    for name, value in _batchnorm_outputs(resnet18, fresh_images).items():
        assert np.abs(value.mean(axis=(0, 2, 3))).mean() < 0.5, name
        assert 0.5 < np.median(value.std(axis=(0, 2, 3))) < 1.5, name


def test_mxnet_ignores_the_stored_bn_data_gamma(resnet18, fresh_images):
    gamma = _load(resnet18)[1]["bn_data_gamma"].asnumpy()
    assert np.abs(gamma - 1).min() > 0.1
    stored = _softmax(resnet18, fresh_images)
    assert np.array_equal(stored, _softmax(resnet18, fresh_images, bn_data_gamma=np.ones_like(gamma)))
    assert not np.array_equal(stored, _softmax(resnet18, fresh_images, bn_data_beta=np.ones_like(gamma)))


def test_softmax_is_spread_and_activations_stay_order_one(resnet18, fresh_images):
    probabilities = _softmax(resnet18, fresh_images)
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    assert 0.05 < probabilities.max(axis=1).mean() < 0.6
    assert len(set(probabilities.argmax(axis=1))) > 1
    largest_std, top1 = common.health(*_load(resnet18), fresh_images)
    assert largest_std < 10 and top1 == pytest.approx(probabilities.max(axis=1).mean(), rel=1e-3)


def test_same_seed_same_bytes_other_seed_other_weights(resnet18, tmp_path):
    again = resnet.build_classic(18, str(tmp_path / "a"), seed=SEED, calib_size=SIZE, calib_images=COUNT)
    for suffix in ("-symbol.json", "-0000.params"):
        assert Path(f"{again}{suffix}").read_bytes() == Path(f"{resnet18}{suffix}").read_bytes()
    other = resnet.build_classic(18, str(tmp_path / "b"), seed=SEED + 1, calib_size=SIZE, calib_images=COUNT)
    assert Path(f"{other}-0000.params").read_bytes() != Path(f"{resnet18}-0000.params").read_bytes()


@pytest.fixture(scope="module")
def gluon18(tmp_path_factory) -> str:
    return resnet.build_gluon("resnet18_v2", str(tmp_path_factory.mktemp("gluon")), seed=SEED, calib_size=SIZE,
                           calib_images=COUNT)


def test_gluon_export_loads_and_runs(gluon18, fresh_images):
    sym, arg, aux = _load(gluon18)
    assert sym.list_outputs() == ["resnetv20_dense0_fwd_output"]
    assert "resnetv20_batchnorm0_running_mean" in aux
    logits = common.forward(sym, arg, aux, {"data": common.imagenet_normalise(fresh_images)})[0]
    assert logits.shape == (COUNT, 1000)
    assert 0.05 < common.top1_probability(logits.astype(np.float64)).mean() < 0.6


@pytest.mark.parametrize("model", ["resnet18", "gluon18"])
def test_legacy_copy_loads_in_mxnet_with_identical_outputs(model, request, fresh_images):
    prefix = request.getfixturevalue(model)
    images = fresh_images if model == "resnet18" else common.imagenet_normalise(fresh_images)
    legacy = common.save_legacy_checkpoint(prefix, 0, f"{prefix}-legacy")
    assert detect_layout(f"{legacy}-0000.params") == "legacy"
    graph = json.loads(Path(f"{legacy}-symbol.json").read_text())
    assert set(graph) == {"nodes", "arg_nodes", "heads"}
    assert all(len(ref) == 2 for node in graph["nodes"] for ref in node["inputs"])
    assert all(node["backward_source_id"] == -1 and "attrs" not in node for node in graph["nodes"])
    assert all(node["param"] == {} for node in graph["nodes"] if node["op"] == "null")
    modern = _load(prefix)
    loaded = _load(legacy)
    assert loaded[0].list_arguments() == modern[0].list_arguments()
    assert loaded[0].list_auxiliary_states() == modern[0].list_auxiliary_states()
    first = common.forward(*modern, {"data": images})[0]
    assert np.array_equal(first, common.forward(*loaded, {"data": images})[0])


def test_legacy_graph_leaves_default_aux_inputs_implicit(resnet18):
    graph = json.loads(Path(f"{resnet18}-symbol.json").read_text())
    legacy = common.legacy_graph(graph, {"bn_data_moving_mean", "bn_data_moving_var"})
    bn_data = next(node for node in legacy["nodes"] if node["name"] == "bn_data")
    assert bn_data["inputs"] == [[0, 0], [1, 0], [2, 0]]
    assert len(legacy["nodes"]) == len(graph["nodes"]) - 2
    assert {node["op"] for node in legacy["nodes"] if node["name"].startswith("_plus")} == {"_Plus"}


def test_cli_builds_then_skips(tmp_path, capsys):
    arguments = ["--depth", "18", "--out", str(tmp_path), "--calib-size", "32", "--calib-images", "4"]
    assert cli.main(arguments) == 0
    assert "max activation std" in capsys.readouterr().out
    assert cli.main(arguments + ["--legacy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "skipped" in lines[0] and lines[1].startswith("resnet-18-legacy")
    assert sorted(os.listdir(tmp_path)) == ["resnet-18-0000.params", "resnet-18-legacy-0000.params",
                                            "resnet-18-legacy-symbol.json", "resnet-18-symbol.json"]
