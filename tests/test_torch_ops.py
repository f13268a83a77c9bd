"""The PyTorch emitter against real MXNet: per-op graphs, other input sizes, hostile names, training, export."""
from __future__ import annotations

import copy
import io
import subprocess
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest
import torch
from generated_code import assert_plain_identifiers
from mxcases import BOTH_REFUSE, CASE_INPUTS, CASES, Reference, S, assert_close, mx, run_reference

from mxconvert.errors import UnsupportedOpsError
from mxconvert.params import save_params
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch.loader import build_model, load_kit_module, module_from_source

ROOT = Path(__file__).resolve().parents[1]
d = S.var("data")




def _outputs(out) -> list[torch.Tensor]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.script still works; it is only deprecated
@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_mxnet_and_scripts(case):
    sym, shape = CASES[case]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    model = build_model(module_from_source(source, f"<kit_model {case}>"), state)
    data = torch.from_numpy(ref.data)
    with torch.no_grad():
        eager = _outputs(model(data))
        assert_close(ref.outputs, [o.numpy() for o in eager])
        assert [o.numpy().dtype for o in eager] == [o.dtype for o in ref.outputs]
        scripted = _outputs(torch.jit.script(model)(data))
        exported = _outputs(torch.export.export(model, (data,)).module()(data))
    plain = eager
    if "MxnetPackedConv2d(" in source:  # with gradients, its weight is not the copy packed for oneDNN
        plain = [o.detach() for o in _outputs(model(data))]
    for out in (scripted, exported):
        assert all(torch.allclose(a.double(), b.double(), rtol=1e-6, atol=1e-7, equal_nan=True)
                   for a, b in zip(out, plain, strict=True))


def _mxnet_forward(sym, weights: dict[str, np.ndarray], data: np.ndarray) -> np.ndarray:
    executor = sym.simple_bind(mx.cpu(), data=data.shape, grad_req="null")
    for key, value in weights.items():
        (executor.aux_dict if key.startswith("aux:") else executor.arg_dict)[key[4:]][:] = value
    executor.arg_dict["data"][:] = data
    return executor.forward(is_train=False)[0].asnumpy()


def test_other_input_sizes_follow_mxnet():
    """Reshape codes, reference crops and full pooling are computed from the live input shape."""
    conv = S.Convolution(d, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv")
    pooled = S.Pooling(conv, kernel=(2, 2), stride=(2, 2), pad=(1, 1), pooling_convention="full", name="pool")
    cropped = S.Crop(S.UpSampling(pooled, scale=2, sample_type="nearest"), conv, num_args=2, name="crop")
    sym = S.softmax(S.Reshape(cropped + conv, shape=(0, 0, -1), name="rs"), axis=-1)
    ref = run_reference(sym, (1, 2, 7, 9))
    source, state = emit_pytorch(ref.graph, TorchOptions((1, 2, 7, 9)))
    model = build_model(module_from_source(source), state)
    weights = {f"arg:{k}": v for k, v in ref.graph.params.items()}
    for shape in [(2, 2, 10, 6), (3, 2, 5, 5)]:
        data = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
        with torch.no_grad():
            out = model(torch.from_numpy(data)).numpy()
        assert_close([_mxnet_forward(sym, weights, data)], [out])


def test_small_convolutions_of_one_image_keep_a_packed_weight():
    """Where PyTorch would compute a convolution of one image with its native kernel, the layer is an
    ``MxnetPackedConv2d``: without gradients on the CPU it computes from a copy of its weight in oneDNN's layout,
    made again after the weight changes; with gradients, traced, scripted or after a copy it is ``nn.Conv2d``;
    the module runs other batch sizes as well. Each against MXNet."""
    sym, shape = CASES["conv_dilate_one_image"]
    ref = run_reference(sym, shape)
    source, state = emit_pytorch(ref.graph, TorchOptions(shape))
    assert "self.conv = MxnetPackedConv2d(" in source
    model = build_model(module_from_source(source), state)
    weights = {f"arg:{k}": v for k, v in ref.graph.params.items()}
    data = np.random.default_rng(2).uniform(-1, 1, shape).astype(np.float32)
    expected = [_mxnet_forward(sym, weights, data)]
    x = torch.from_numpy(data)
    with torch.no_grad():
        out = model(x)
    assert out.is_contiguous() and "packed" in model.conv.__dict__
    assert_close(expected, [out.numpy()])
    assert_close(expected, [model(x).detach().numpy()])  # with gradients: nn.Conv2d's own
    assert_close(expected, [torch.jit.script(model)(x).detach().numpy()])
    assert_close(expected, [torch.jit.trace(model, x)(x).detach().numpy()])
    assert "packed" not in copy.deepcopy(model).conv.__dict__
    with torch.no_grad():
        model.conv.weight.mul_(2.0)
        model.conv.bias.mul_(2.0)
        assert_close([2 * expected[0]], [model(x).numpy()])  # packed again
        batch = np.random.default_rng(3).uniform(-1, 1, (2, *shape[1:])).astype(np.float32)
        model.conv.weight.div_(2.0)
        model.conv.bias.div_(2.0)
        assert_close([_mxnet_forward(sym, weights, batch)], [model(torch.from_numpy(batch)).numpy()])
    for other in [(2, 3, 7, 9), (1, 3, 90, 90)]:  # a batch, more values: ATen's oneDNN kernel
        assert "MxnetPackedConv2d" not in emit_pytorch(ref.graph, TorchOptions(other))[0]
    one_by_one = run_reference(S.Convolution(d, kernel=(1, 1), num_filter=4, name="conv"), shape).graph
    assert "MxnetPackedConv2d" not in emit_pytorch(one_by_one, TorchOptions(shape))[0]


@pytest.mark.parametrize("case", ["pool_lp2_1d", "pool_same_sum", "pool_same_avg", "pool_1d_full_sum"])
def test_1d_pooling_follows_other_input_sizes(case):
    """1-D sum, lp and same pooling pad for MXNet's windows of the live input size, not the converted one."""
    sym = (S.Pooling(d, kernel=(2,), stride=(2,), pad=(1,), pool_type="sum", pooling_convention="full", name="pool")
           if case == "pool_1d_full_sum" else CASES[case][0])
    ref = run_reference(sym, (2, 3, 10))
    model = build_model(module_from_source(emit_pytorch(ref.graph, TorchOptions((2, 3, 10)))[0]), {})
    for width in (8, 12, 14):  # even: MXNet runs avg same only where (width - kernel) % stride != 0
        data = np.random.default_rng(width).uniform(-1, 1, (1, 3, width)).astype(np.float32)
        with torch.no_grad():
            assert_close([_mxnet_forward(sym, {}, data)], [model(torch.from_numpy(data)).numpy()])


HOSTILE = ['x"); open("PWNED", "w")#\nfoo', "y'''\n__import__('os')", "class", "self", "forward", "training",
           "3d conv", "a.b", "a_b", "***", "\\", "名前", "F", "torch"]


def _hostile_net():
    x = d
    for index, name in enumerate(HOSTILE):
        x = S.Activation(x, act_type="relu", name=name) if index % 2 else S.LeakyReLU(x, act_type="prelu", name=name)
    return S.Convolution(x, kernel=(1, 1), num_filter=2, name=HOSTILE[0] + "conv")


def test_hostile_names_stay_inside_string_literals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = run_reference(_hostile_net(), (1, 3, 4, 4))
    source, state = emit_pytorch(ref.graph, TorchOptions((1, 3, 4, 4)))
    assert_plain_identifiers(source)
    code = "".join(t.string for t in tokenize.generate_tokens(io.StringIO(source).readline)
                   if t.type not in (tokenize.STRING, tokenize.COMMENT))
    assert "open(" not in code and "__import__" not in code
    assert not any(name in code for name in HOSTILE if not name.isidentifier())
    assert set(HOSTILE) <= set(module_from_source(source).MXNET_NAMES.values())
    path = tmp_path / "kit_model.py"
    path.write_text(source)
    model = build_model(load_kit_module(path), state)
    with torch.no_grad():
        out = model(torch.from_numpy(ref.data)).numpy()
    assert_close(ref.outputs, [out])
    assert not (tmp_path / "PWNED").exists()


def _small_net():
    x = S.Convolution(d, kernel=(3, 3), num_filter=4, pad=(1, 1), name="conv0")
    x = S.BatchNorm(x, fix_gamma=True, name="bn0")
    x = S.LeakyReLU(x, act_type="prelu", name="relu0")
    x = S.Pooling(x, kernel=(2, 2), stride=(2, 2), pad=(1, 1), pooling_convention="full", name="pool0")
    x = S.BatchNorm(S.FullyConnected(x, num_hidden=6, name="fc0"), fix_gamma=False, name="fc0_bn")
    # random weights after BatchNorms of small variance give logits in the hundreds: scaled so softmax is spread
    return S.SoftmaxOutput(S.FullyConnected(x, num_hidden=3, name="fc1") * 0.005, name="softmax")


@pytest.fixture(scope="module")
def small():
    ref = run_reference(_small_net(), (4, 3, 6, 6))
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    return ref, source, state


def test_trains_with_gradients_everywhere_and_fixed_gamma(small):
    ref, source, state = small
    model = build_model(module_from_source(source), state).train()
    data = torch.from_numpy(ref.data)
    labels = torch.tensor([0, 1, 2, 1])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    losses = []
    for _ in range(6):
        optimizer.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(model(data)), labels)
        loss.backward()
        trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable.values())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert not model.bn0.weight.requires_grad and torch.equal(model.bn0.weight, torch.ones(4))
    assert model.bn0.num_batches_tracked.item() == 6 and model.bn0.momentum == pytest.approx(0.1)


def _bn_train_net(fix_gamma: bool, use_global_stats: bool):
    bn = {"fix_gamma": fix_gamma, "use_global_stats": use_global_stats, "momentum": 0.7, "eps": 2e-5}
    x = S.Convolution(d, kernel=(3, 3), num_filter=4, pad=(1, 1), no_bias=True, name="conv0")
    x = S.BatchNorm(x, name="bn0", **bn)
    x = S.FullyConnected(S.Activation(x, act_type="relu"), num_hidden=5, no_bias=True, name="fc0")
    return S.FullyConnected(S.BatchNorm(x, name="fc0_bn", **bn), num_hidden=3, name="fc1")


TORCH_KEYS = {"_weight": "weight", "_bias": "bias", "_gamma": "weight", "_beta": "bias",
              "_moving_mean": "running_mean", "_moving_var": "running_var"}


def _torch_key(mxnet_name: str) -> str:
    suffix = next(s for s in TORCH_KEYS if mxnet_name.endswith(s))
    return f"{mxnet_name.removesuffix(suffix)}.{TORCH_KEYS[suffix]}"


@pytest.mark.parametrize("use_global_stats", [False, True], ids=["batch_stats", "global_stats"])
@pytest.mark.parametrize("fix_gamma", [False, True], ids=["free_gamma", "fix_gamma"])
def test_training_step_matches_mxnet(fix_gamma, use_global_stats):
    """One training step: the output (BatchNorm on batch statistics unless use_global_stats), the gradients of
    data and weights under a fixed output gradient, and the moving statistics after it (momentum 0.7)."""
    sym = _bn_train_net(fix_gamma, use_global_stats)
    ref = run_reference(sym, (4, 3, 6, 6))
    head = np.random.default_rng(5).normal(size=ref.outputs[0].shape).astype(np.float32)
    executor = sym.simple_bind(mx.cpu(), data=ref.data.shape, grad_req="write")
    for name, value in {**ref.graph.params, **ref.graph.aux}.items():
        (executor.aux_dict if name in ref.graph.aux else executor.arg_dict)[name][:] = value
    executor.arg_dict["data"][:] = ref.data
    expected = executor.forward(is_train=True)[0].asnumpy()
    executor.backward(mx.nd.array(head))  # MXNet updates the moving statistics here

    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    model = build_model(module_from_source(source), state).train()
    data = torch.from_numpy(ref.data).requires_grad_()
    out = model(data)
    (out * torch.from_numpy(head)).sum().backward()
    assert_close([expected], [out.detach().numpy()])
    assert_close([executor.grad_dict["data"].asnumpy()], [data.grad.numpy()])
    parameters, buffers = dict(model.named_parameters()), dict(model.named_buffers())
    for name in ref.graph.params:
        grad = executor.grad_dict[name].asnumpy()
        param = parameters[_torch_key(name)]
        if fix_gamma and name.endswith("_gamma"):  # MXNet writes a zero gradient; the frozen weight gets none
            assert not grad.any() and param.grad is None
            continue
        assert_close([grad.ravel()], [param.grad.numpy().ravel()])  # scaled by the whole array
    for name in ref.graph.aux:
        moving = executor.aux_dict[name].asnumpy()
        assert use_global_stats == np.array_equal(moving, ref.graph.aux[name])
        assert_close([moving], [buffers[_torch_key(name)].numpy()])


@pytest.mark.parametrize("op", ["BatchNorm", "BatchNorm_v1"])
@pytest.mark.parametrize("use_global_stats", [False, True], ids=["batch_stats", "global_stats"])
def test_batch_norm_mean_var_outputs_in_training_match_mxnet(use_global_stats, op):
    """``output_mean_var`` in training: MXNet outputs the batch mean and 1 / sqrt(biased batch var + eps) (the
    biased batch variance itself for BatchNorm_v1), or the moving ones with use_global_stats; the generated model
    in train() mode outputs the same."""
    sym = getattr(S, op)(d, fix_gamma=False, output_mean_var=True, eps=1e-3, use_global_stats=use_global_stats,
                         name="bn")
    ref = run_reference(sym, (3, 4, 5, 5))
    executor = sym.simple_bind(mx.cpu(), data=ref.data.shape, grad_req="null")
    for name, value in {**ref.graph.params, **ref.graph.aux}.items():
        (executor.aux_dict if name in ref.graph.aux else executor.arg_dict)[name][:] = value
    executor.arg_dict["data"][:] = ref.data
    expected = [out.asnumpy() for out in executor.forward(is_train=True)]
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    model = build_model(module_from_source(source), state).train()
    with torch.no_grad():
        outputs = [out.numpy() for out in model(torch.from_numpy(ref.data))]
    assert len(outputs) == 3
    assert_close(expected, outputs)
    assert use_global_stats == np.allclose(expected[1], ref.graph.aux["bn_moving_mean"])


def test_shared_variable_stays_one_parameter():
    """Two nodes reading one MXNet variable (weights shared, as in a siamese branch) get one tied parameter:
    MXNet's output, and its gradient is MXNet's (the sum over both uses), so training keeps the weights shared."""
    weight, bias = S.var("shared_weight"), S.var("shared_bias")
    left = S.Convolution(d, weight=weight, bias=bias, kernel=(3, 3), num_filter=3, pad=(1, 1), name="left")
    act = S.Activation(left, act_type="relu", name="act")
    sym = S.Convolution(act, weight=weight, bias=bias, kernel=(3, 3), num_filter=3, pad=(1, 1), name="right")
    ref = run_reference(sym, (2, 3, 5, 5))
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    model = build_model(module_from_source(source), state)
    assert model.right.weight is model.left.weight and model.right.bias is model.left.bias
    assert len(list(model.parameters())) == 2
    out = model(torch.from_numpy(ref.data))
    assert_close(ref.outputs, [out.detach().numpy()])
    out.sum().backward()

    executor = sym.simple_bind(mx.cpu(), data=ref.data.shape)
    for name, value in ref.graph.params.items():
        executor.arg_dict[name][:] = value
    executor.arg_dict["data"][:] = ref.data
    executor.forward(is_train=True)
    executor.backward(mx.nd.ones(ref.outputs[0].shape))
    assert_close([executor.grad_dict[n].asnumpy() for n in ("shared_weight", "shared_bias")],
                 [model.left.weight.grad.numpy(), model.left.bias.grad.numpy()])


def test_weight_passed_through_to_an_output_is_a_copy():
    """A stored weight an identity passes to an output (and the weight itself as an output) comes back as a copy:
    under ``no_grad`` it needs no gradient, as every other output; in training its gradient still reaches the
    weight."""
    weight = S.var("w", shape=(3,))
    sym = S.Group([d + weight, S.identity(S.Dropout(weight, p=0.5)), weight])
    ref = run_reference(sym, (3,))
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
    model = build_model(module_from_source(source), state)
    with torch.no_grad():
        outs = model(torch.from_numpy(ref.data))
    assert not any(out.requires_grad for out in outs)
    assert_close(ref.outputs, [out.numpy() for out in outs])
    sum(out.sum() for out in model(torch.from_numpy(ref.data))).backward()
    assert torch.equal(model.w.grad, torch.full((3,), 3.0))


def test_state_dict_round_trips_weights_only(small, tmp_path):
    ref, source, state = small
    torch.save(state, tmp_path / "model.pth")
    loaded = torch.load(tmp_path / "model.pth", weights_only=True)
    assert loaded.keys() == state.keys() and "bn0.num_batches_tracked" in loaded
    assert torch.equal(loaded["bn0.weight"], torch.ones(4))  # fix_gamma: the stored gamma is ignored
    assert not np.allclose(ref.graph.params["bn0_gamma"], 1)
    model = build_model(module_from_source(source), loaded)
    with torch.no_grad():
        assert_close(ref.outputs, [model(torch.from_numpy(ref.data)).numpy()])


def test_fuse_bn_folds_into_convolution(small):
    ref = small[0]
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape, fuse_bn=True))
    assert "self.bn0 " not in source and "bn0.running_mean" not in state
    assert "self.fc0_bn " in source  # after a FullyConnected, not a Convolution: kept
    model = build_model(module_from_source(source), state)
    with torch.no_grad():
        assert_close(ref.outputs, [model(torch.from_numpy(ref.data)).numpy()])  # measured 2.5e-7; eps dropped: 0.1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_script_export_compile_channels_last(small, tmp_path):
    ref, source, state = small
    (tmp_path / "kit_model.py").write_text(source)
    model = build_model(load_kit_module(tmp_path / "kit_model.py"), state)
    data = torch.from_numpy(ref.data)
    with torch.no_grad():
        expected = model(data)
        assert torch.allclose(torch.jit.script(model)(data), expected, atol=1e-6)
        assert torch.allclose(torch.export.export(model, (data,)).module()(data), expected, atol=1e-6)
        assert torch.allclose(torch.compile(model, backend="eager", fullgraph=True)(data), expected, atol=1e-6)
        last = model.to(memory_format=torch.channels_last)(data.to(memory_format=torch.channels_last))
    assert torch.allclose(last, expected, atol=1e-6)


@pytest.mark.parametrize("axes", [(0,), (0, 2)])
def test_dropout_with_axes_shares_one_mask_along_them_in_training(axes):
    """In ``train()`` the generated module draws one mask with size 1 along ``axes`` and scales the kept values by
    1 / (1 - p), as MXNet's training forward does; in ``eval()`` it is the identity."""
    p, shape = 0.3, (4, 2000, 3)
    ref = run_reference(S.Dropout(d, p=p, axes=axes, name="drop"), shape, low=1.0, high=1.0)
    model = build_model(module_from_source(emit_pytorch(ref.graph, TorchOptions(shape))[0]), {})
    data = torch.from_numpy(ref.data)
    with torch.no_grad():
        assert torch.equal(model.eval()(data), data)
        out = model.train()(data).numpy()
    with mx.autograd.train_mode():
        mxnet_out = mx.nd.Dropout(mx.nd.array(ref.data), p=p, axes=axes).asnumpy()
    for result in (mxnet_out, out):
        kept = result != 0
        assert np.allclose(result[kept], 1 / (1 - p), rtol=1e-6)
        assert (kept == kept[tuple(slice(0, 1) if i in axes else slice(None) for i in range(3))]).all()
        assert abs(kept.mean() - (1 - p)) < 0.05, kept.mean()


def test_every_unsupported_op_is_listed_at_once():
    grad_add = S._internal._grad_add  # MXNet's sum of gradients: no inference op
    x = grad_add(grad_add(d, d, name="e1"), d, name="e2")
    x = S.Pooling(S.LRN(x, nsize=4, name="lrn"), kernel=(3, 3), pad=(2, 2),
                  pool_type="avg", name="pool")
    ref = run_reference(x, (1, 2, 3, 3))
    with pytest.raises(UnsupportedOpsError) as info:
        emit_pytorch(ref.graph, TorchOptions((1, 2, 3, 3)))
    message = str(info.value)
    for part in ("LRN [even nsize 4] (lrn)", "_grad_add (e1, e2)",
                 "Pooling [pad larger than half the kernel] (pool)", "PyTorch"):
        assert part in message


@pytest.mark.parametrize("case", sorted(BOTH_REFUSE))
def test_refused_by_name_with_the_reason(case):
    sym, shape, reason = BOTH_REFUSE[case]
    ref = run_reference(sym, shape)
    with pytest.raises(UnsupportedOpsError, match=reason):
        emit_pytorch(ref.graph, TorchOptions(shape))


def _save_checkpoint(sym, ref: Reference, prefix: Path) -> None:
    prefix.with_name(f"{prefix.name}-symbol.json").write_text(sym.tojson())
    arrays = {f"arg:{k}": v for k, v in ref.graph.params.items()} | {f"aux:{k}": v for k, v in ref.graph.aux.items()}
    save_params(prefix.with_name(f"{prefix.name}-0000.params"), arrays)


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd="/")


def test_scripts_convert_and_infer(small, tmp_path):
    ref = small[0]
    _save_checkpoint(_small_net(), ref, tmp_path / "net")
    np.save(tmp_path / "input.npy", ref.data)
    kit, pth = tmp_path / "out" / "kit_model.py", tmp_path / "out" / "model.pth"
    done = _script(str(ROOT / "mxnet2pytorch.py"), "--prefix", str(tmp_path / "net"), "--epoch", "0",
                   "--input_shape", "1,3,6,6", "--pytorch_model", str(pth), "--kit_model", str(kit))
    assert done.returncode == 0, done.stderr
    for extra in ([], ["--compile"]):  # eager, and inductor with frozen weights
        result = tmp_path / "result" / f"pt{len(extra)}.npy"
        done = _script(str(ROOT / "pytorch_inference.py"), "--pytorch_model", str(pth), "--kit_model", str(kit),
                       "--input_image", str(tmp_path / "input.npy"), "--pytorch_model_output", str(result), *extra)
        assert done.returncode == 0, done.stderr
        assert_close(ref.outputs, [np.load(result)])


def test_failed_conversion_writes_nothing(tmp_path):
    conv = S.Convolution(d, kernel=(1, 1), num_filter=2, name="conv")
    sym = S._internal._grad_add(conv, conv, name="e")  # MXNet's sum of gradients: no inference op
    ref = run_reference(sym, (1, 2, 3, 3))
    _save_checkpoint(sym, ref, tmp_path / "net")
    kit, pth = tmp_path / "kit_model.py", tmp_path / "model.pth"
    done = _script(str(ROOT / "mxnet2pytorch.py"), "--prefix", str(tmp_path / "net"), "--input_shape", "1,2,3,3",
                   "--pytorch_model", str(pth), "--kit_model", str(kit))
    assert done.returncode == 2 and "_grad_add (e)" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not kit.exists() and not pth.exists()


def test_retained_memory_stops_page_faults_on_fresh_tensors():
    """After retain_freed_memory, re-allocating a large tensor reuses freed pages instead of faulting new ones
    in (glibc; measured in a child so the test process keeps its own malloc settings)."""
    script = """
import resource, torch
from mxconvert.to_torch.runner import retain_freed_memory
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(8):
        torch.empty(16 << 20).fill_(1.0)  # 64 MiB, freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
default = faults()
took = retain_freed_memory()
faults()  # the first allocation after the switch still faults its pages in
print(took, default, faults())
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    took, default, retained = done.stdout.split()
    if took != "True":
        pytest.skip("not glibc: mallopt unavailable")
    assert int(default) >= 8 * 32  # each allocation faults its pages in (4 KiB each, or 2 MiB huge pages)
    assert int(retained) * 20 < int(default)
