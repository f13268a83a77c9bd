"""Detection ops against real MXNet where the shared case table cannot hold them: ROIAlign's ``aligned`` (ONNX's
half_pixel RoiAlign, opset 16), its adaptive sampling grid (ONNX only), its rois pooled a few a step and its map
of a dynamic size, a dynamic batch, other input sizes in the generated module, box_nms on many boxes with many
tied scores, the legacy SSD of MXNet's examples, and MultiProposal's refusal of a dynamic batch; the research
detectors' ops against MXNet's float64 run."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from mxcases import CASE_INPUTS, CASES, S, assert_close, assert_near_exact, mx, run_reference
from onnx import numpy_helper

from mxconvert.errors import UnsupportedOpsError
from mxconvert.mxnet_runner import MxnetModel
from mxconvert.semantics import detection as semantics_detection
from mxconvert.semantics.rules import ShapeError
from mxconvert.to_onnx import ExportOptions, export_onnx
from mxconvert.to_onnx import detection as onnx_detection
from mxconvert.to_torch import TorchOptions, emit_pytorch
from mxconvert.to_torch import detection as torch_detection
from mxconvert.to_torch.loader import build_model, module_from_source

d = S.var("data")
# boxes inside, hanging off the image, smaller than a pixel, of image 1 (aligned boxes must have a positive size)
ROIS = np.array([[0, 0, 0, 15, 13], [1, 2.4, 3.6, 12.5, 9.1], [0, -5, -3, 20, 30], [1, 3, 1, 9, 17],
                 [0, 1, 1, 1.5, 1.2]], np.float32)


def roi_align(**kw):
    return S.contrib.ROIAlign(d, S.var("rois", shape=ROIS.shape), pooled_size=(2, 3), spatial_scale=0.5,
                              name="roi", **kw)


def onnx_outputs(reference, opset: int, data: np.ndarray | None = None, dynamic_batch: bool = False):
    model, _ = export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=opset,
                                                          dynamic_batch=dynamic_batch))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"data": reference.data if data is None else data})


def torch_module(reference):
    source, state = emit_pytorch(reference.graph, TorchOptions(reference.data.shape))
    return build_model(module_from_source(source), state)


@pytest.mark.parametrize("position_sensitive", [False, True])
def test_roi_align_aligned_matches_mxnet(position_sensitive):
    ref = run_reference(roi_align(sample_ratio=2, aligned=True, position_sensitive=position_sensitive),
                        (2, 12 if position_sensitive else 3, 8, 9), inputs={"rois": ROIS})
    for opset in (11, 16, 21):
        assert_close(ref.outputs, onnx_outputs(ref, opset))
    with torch.no_grad():
        assert_close(ref.outputs, [torch_module(ref)(torch.from_numpy(ref.data)).numpy()])
    adaptive = run_reference(roi_align(aligned=True, position_sensitive=position_sensitive),
                             (2, 12 if position_sensitive else 3, 8, 9), inputs={"rois": ROIS})
    assert_close(adaptive.outputs, onnx_outputs(adaptive, 16))
    with pytest.raises(UnsupportedOpsError, match=r"_contrib_ROIAlign \[aligned needs opset 16\]"):
        onnx_outputs(adaptive, 13)


def test_roi_align_adaptive_grid_in_onnx_only():
    """sample_ratio <= 0: ceil(bin size) points a side, per box; the generated module would need a grid sized by
    the box values, so it refuses the node by name."""
    ref = run_reference(roi_align(), (2, 3, 8, 9), inputs={"rois": ROIS})
    for opset in (11, 13, 21):
        assert_close(ref.outputs, onnx_outputs(ref, opset))
    with pytest.raises(UnsupportedOpsError, match=r"_contrib_ROIAlign \[sample_ratio -1 \(a grid sized by"):
        emit_pytorch(ref.graph, TorchOptions(ref.data.shape))


@pytest.mark.parametrize("images", [1, 2])
@pytest.mark.parametrize("position_sensitive", [False, True])
def test_roi_align_in_steps_near_float64(images, position_sensitive, tmp_path, monkeypatch):
    """Where the x-weighted maps of all rois would be large, both targets pool a few rois a step (ONNX: a Scan
    writing each step's bins in place; forced here by a budget of two rois' maps): within ``--tolerance auto``'s
    bound of MXNet's float64 run, for one image and for rois of two."""
    channels = 12 if position_sensitive else 3
    for module in (semantics_detection, torch_detection):
        monkeypatch.setattr(module, "ROI_ALIGN_STEP_VALUES", 2 * images * channels * 8 * 3)
    rois = np.concatenate([ROIS, [[1, 0.5, 2.5, 7.0, 4.0]]]).astype(np.float32)
    rois[:, 0] = np.minimum(rois[:, 0], images - 1)
    sym = S.contrib.ROIAlign(d, S.var("rois", shape=rois.shape), pooled_size=(2, 3), spatial_scale=0.5,
                             sample_ratio=2, position_sensitive=position_sensitive, name="roi")
    reference = run_reference(sym, (images, channels, 8, 9), inputs={"rois": rois})
    prefix = str(tmp_path / "m")
    mx.model.save_checkpoint(prefix, 0, sym, {"rois": mx.nd.array(rois)}, {})
    exact = MxnetModel(prefix, 0, dtype="float64")(reference.data.astype(np.float64))
    model, _ = export_onnx(reference.graph, ExportOptions(input_shape=reference.data.shape, opset=13))
    assert [node.op_type for node in model.graph.node].count("Scan") == 1
    with torch.no_grad():
        generated = torch_module(reference)(torch.from_numpy(reference.data)).numpy()
    for actual in (onnx_outputs(reference, 13), [generated]):
        assert_near_exact(reference.outputs, exact, actual)


def test_roi_align_on_a_map_of_dynamic_size():
    """A map whose height and width follow the dynamic axes: RoiAlign with the fixed sample_ratio (the separable
    weights would fix the map's size) in ONNX, the generated module's weights sized at run time; aligned needs
    RoiAlign's half_pixel mode (opset 16)."""
    small, large = (run_reference(roi_align(sample_ratio=2), shape, inputs={"rois": ROIS})
                    for shape in ((2, 3, 8, 9), (2, 3, 11, 13)))
    options = ExportOptions(input_shape=small.data.shape, opset=13, dynamic_axes={"data": (2, 3)})
    session = ort.InferenceSession(export_onnx(small.graph, options)[0].SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(small.graph, TorchOptions(small.data.shape, dynamic_axes={"data": (2, 3)}))
    module = build_model(module_from_source(source), state)
    for ref in (small, large):
        assert_close(ref.outputs, session.run(None, {"data": ref.data}))
        with torch.no_grad():
            assert_close(ref.outputs, [module(torch.from_numpy(ref.data)).numpy()])
    aligned = run_reference(roi_align(sample_ratio=2, aligned=True), (2, 3, 8, 9), inputs={"rois": ROIS})
    with pytest.raises(UnsupportedOpsError, match=r"_contrib_ROIAlign \[aligned on a map whose size follows"):
        export_onnx(aligned.graph, options)


def _rows(x, classes: int, tied: bool):
    """Rows [id, score, x1, y1, x2, y2] from data in [-1, 1): overlapping boxes, scores in tenths when ``tied``."""
    u = (x + 1.0) * 0.5
    column = [S.slice_axis(u, axis=-1, begin=i, end=i + 1) for i in range(6)]
    score = S.floor(column[1] * 10.0) * 0.1 if tied else column[1]
    low = S.concat(column[2], column[3], dim=-1) * 20.0
    return S.concat(S.floor(column[0] * float(classes)), score, low, low + S.concat(column[4], column[5], dim=-1)
                    * 10.0, dim=-1)


@pytest.mark.parametrize("tied", [False, True])
def test_box_nms_many_boxes_dynamic_batch(tied):
    """400 boxes of 20 classes (SSD's shape of the problem), the best 100 suppressed; a model converted for one
    batch size runs on three. MXNet's CPU sort is stable, so even tied scores keep one order: compared exactly."""
    sym = S.contrib.box_nms(_rows(d, 20, tied), overlap_thresh=0.45, valid_thresh=0.01, topk=100, id_index=0,
                            name="nms")
    ref = run_reference(sym, (1, 400, 6), seed=4)
    batch = run_reference(sym, (3, 400, 6), seed=5)
    assert_close(ref.outputs, onnx_outputs(ref, 13))
    assert_close(batch.outputs, onnx_outputs(ref, 13, batch.data, dynamic_batch=True))
    with torch.no_grad():
        assert_close(batch.outputs, [torch_module(ref)(torch.from_numpy(batch.data)).numpy()])
    assert (batch.outputs[0][..., 0] >= 0).sum() > 150


def test_box_nms_per_class_in_smaller_blocks(monkeypatch):
    """R-CNN's per-class suppression (a batch entry per class, every candidate kept) in smaller blocks where the
    overlaps of a block with a class's candidates would be large (forced here by a small budget): 8 classes of 300
    boxes in blocks of 64, compared exactly."""
    monkeypatch.setattr(onnx_detection, "NMS_STEP_VALUES", 64 * 300)
    sym = S.contrib.box_nms(_rows(d, 1, tied=False), overlap_thresh=0.5, valid_thresh=0.0001, topk=-1,
                            coord_start=2, score_index=1, id_index=0, name="nms")
    ref = run_reference(sym, (8, 300, 6), seed=6)
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=13))
    loop = next(node for node in model.graph.node if node.op_type == "Loop")
    trips = next(node for node in model.graph.node if loop.input[0] in node.output)  # count over the block size
    block = next(init for init in model.graph.initializer if init.name == trips.input[1])
    assert numpy_helper.to_array(block) == 64
    assert_close(ref.outputs, onnx_outputs(ref, 13))
    assert (ref.outputs[0][..., 0] >= 0).sum() > 600


@pytest.mark.parametrize("opset", [11, 13])
def test_box_nms_box_count_is_read_at_run_time(opset):
    """Converted for 400 boxes with the box axis dynamic, run on fewer boxes than ``topk`` and on more: both
    targets read the count, the candidates (``min(topk, count)``) and the padding from the live input."""
    sym = S.contrib.box_nms(_rows(d, 20, tied=True), overlap_thresh=0.45, valid_thresh=0.01, topk=100, id_index=0,
                            out_format="center", name="nms")
    ref = run_reference(sym, (2, 400, 6), seed=4)
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=opset,
                                                    dynamic_axes={"data": (0, 1)}))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape, dynamic_axes={"data": (0, 1)}))
    module = build_model(module_from_source(source), state)
    for shape in [(2, 400, 6), (1, 60, 6), (3, 250, 6)]:
        other = run_reference(sym, shape, seed=shape[1])
        assert_close(other.outputs, session.run(None, {"data": other.data}))
        with torch.no_grad():
            assert_close(other.outputs, [module(torch.from_numpy(other.data)).numpy()])


def test_multibox_prior_follows_other_input_sizes():
    """The generated module computes the anchors from the live feature map."""
    sym = S.contrib.MultiBoxPrior(d, sizes=(0.3, 0.6), ratios=(1, 2, 0.5), name="prior")
    module = torch_module(run_reference(sym, (1, 2, 4, 5)))
    for shape in [(1, 2, 7, 3), (2, 2, 5, 9)]:
        expected = run_reference(sym, shape).outputs
        with torch.no_grad():
            assert_close(expected, [module(torch.zeros(shape)).numpy()])


def legacy_ssd(classes: int = 3):
    """The legacy SSD of MXNet's examples, built with the symbol API on two small feature maps: anchors from
    MultiBoxPrior, per-anchor class scores (SoftmaxActivation over the classes) and box offsets from
    convolutions, decoded and suppressed by MultiBoxDetection."""
    body = S.Activation(S.Convolution(d, kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=8, name="conv1"),
                        act_type="relu")
    maps = [body, S.Activation(S.Convolution(body, kernel=(3, 3), stride=(2, 2), pad=(1, 1), num_filter=8,
                                             name="conv2"), act_type="relu")]
    anchors, scores, offsets = [], [], []
    for index, (feature, sizes) in enumerate(zip(maps, [(0.2, 0.35), (0.5, 0.7)])):
        per_position = len(sizes) + 2  # ratios 1, 2, 0.5
        anchors.append(S.Flatten(S.contrib.MultiBoxPrior(feature, sizes=sizes, ratios=(1, 2, 0.5), clip=True)))
        score = S.Convolution(feature, kernel=(3, 3), pad=(1, 1), num_filter=per_position * (classes + 1),
                              name=f"cls{index}")
        scores.append(S.Flatten(S.transpose(score, axes=(0, 2, 3, 1))))
        offset = S.Convolution(feature, kernel=(3, 3), pad=(1, 1), num_filter=per_position * 4, name=f"loc{index}")
        offsets.append(S.Flatten(S.transpose(offset, axes=(0, 2, 3, 1))))
    score = S.transpose(S.Reshape(S.concat(*scores, dim=1), shape=(0, -1, classes + 1)), axes=(0, 2, 1))
    probabilities = S.SoftmaxActivation(score * 0.1, mode="channel")
    return S.contrib.MultiBoxDetection(probabilities, S.concat(*offsets, dim=1),
                                       S.Reshape(S.concat(*anchors, dim=1), shape=(0, -1, 4)), nms_threshold=0.45,
                                       nms_topk=60, name="detection")


def test_legacy_ssd_matches_mxnet():
    ref = run_reference(legacy_ssd(), (2, 3, 32, 32))
    for opset in (11, 13):
        assert_close(ref.outputs, onnx_outputs(ref, opset))
    with torch.no_grad():
        assert_close(ref.outputs, [torch_module(ref)(torch.from_numpy(ref.data)).numpy()])
    assert (ref.outputs[0][..., 0] >= 0).sum() > 20


def test_legacy_ssd_at_other_sizes_in_both_targets():
    """Converted once with batch, height and width dynamic: the anchors, their count and MultiBoxDetection's
    candidates (fewer anchors than nms_topk at 4 x 6 pixels) follow the live input in both targets."""
    sym = legacy_ssd()
    ref = run_reference(sym, (2, 3, 32, 32))
    dynamic = {"data": (0, 2, 3)}
    model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, dynamic_axes=dynamic))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    source, state = emit_pytorch(ref.graph, TorchOptions(ref.data.shape, dynamic_axes=dynamic))
    module = build_model(module_from_source(source), state)
    for shape in [(1, 3, 24, 40), (3, 3, 4, 6)]:  # 32 anchors at 4 x 6
        other = run_reference(sym, shape)  # the same weights (drawn first), other data
        assert_close(other.outputs, session.run(None, {"data": other.data}))
        with torch.no_grad():
            assert_close(other.outputs, [module(torch.from_numpy(other.data)).numpy()])


def test_proposal_refuses_a_dynamic_batch():
    sym, shape = CASES["det_multi_proposal"]
    ref = run_reference(sym, shape, inputs=CASE_INPUTS["det_multi_proposal"])
    with pytest.raises(ShapeError, match=r"does not take other sizes on the dynamic axes.*image sizes"):
        onnx_outputs(ref, 13, dynamic_batch=True)  # its image sizes are stored for a batch of 2


def test_roi_align_refuses_a_huge_sampling_grid():
    """sample_ratio 10**7: 10**14 points a bin, which MXNet cannot allocate (the graph is read, not run); both
    targets refuse it by name."""
    graph = run_reference(roi_align(sample_ratio=2), (2, 3, 8, 9), inputs={"rois": ROIS}).graph
    graph.node("roi").attrs["sample_ratio"] = 10**7
    with pytest.raises(UnsupportedOpsError, match=r"_contrib_ROIAlign \[sample_ratio 10000000 above 64\]"):
        export_onnx(graph, ExportOptions(input_shape=(2, 3, 8, 9)))
    with pytest.raises(UnsupportedOpsError, match=r"_contrib_ROIAlign \[sample_ratio 10000000 above 64\]"):
        emit_pytorch(graph, TorchOptions((2, 3, 8, 9)))


RESEARCH_CASES = sorted(case for case in CASES
                        if case.startswith(("det_psroi", "det_deformable_psroi", "det_rroi", "det_bipartite")))


@pytest.mark.parametrize("case", RESEARCH_CASES)
def test_research_ops_near_float64(case, tmp_path):
    """(Deformable)PSROIPooling, RROIAlign and bipartite_matching have float64 kernels: both targets within
    ``--tolerance auto``'s bound of MXNet's float64 run of the same checkpoint."""
    sym, shape = CASES[case]
    reference = run_reference(sym, shape, inputs=CASE_INPUTS.get(case))
    prefix = str(tmp_path / "m")
    params = {name: mx.nd.array(value) for name, value in reference.graph.params.items()}
    mx.model.save_checkpoint(prefix, 0, sym, params, {})
    exact = MxnetModel(prefix, 0, dtype="float64")(reference.data.astype(np.float64))
    with torch.no_grad():
        generated = torch_module(reference)(torch.from_numpy(reference.data))
    generated = [o.numpy() for o in (generated if isinstance(generated, (tuple, list)) else [generated])]
    for actual in (onnx_outputs(reference, 13), generated):
        assert_near_exact(reference.outputs, exact, actual)


def test_box_nms_compiled_for_other_boxes():
    """``--compile`` specialises the module to an input shape, not to its values: traced on boxes that suppress
    none, it still suppresses a chain of boxes (each overlapping the next) as MXNet does, which takes its greedy
    suppression many steps."""
    from mxconvert.to_torch.runner import CompiledModel

    count = 40
    left = np.arange(count, dtype=np.float32)
    rows = np.stack([np.zeros(count), 1.0 - left / 100, left * 3, left * 0, left * 3 + 10, left * 0 + 10], -1)
    chain = rows.astype(np.float32)[None]
    apart = chain.copy()
    apart[..., [2, 4]] += left[:, None] * 20
    sym = S.contrib.box_nms(d, overlap_thresh=0.45, valid_thresh=0.01, topk=-1, id_index=0, name="nms")
    expected = mx.nd.contrib.box_nms(mx.nd.array(chain), overlap_thresh=0.45, valid_thresh=0.01, topk=-1,
                                     id_index=0).asnumpy()
    assert 10 < (expected[0, :, 0] >= 0).sum() < count
    compiled = CompiledModel(torch_module(run_reference(sym, chain.shape)))
    with torch.no_grad():
        compiled(torch.from_numpy(apart))
        assert_close([expected], [compiled(torch.from_numpy(chain)).numpy()])


@pytest.mark.parametrize("topk", [-1, 700])
def test_box_nms_stops_once_the_rows_read_are_kept(topk):
    """GluonCV's RPN and SSD read the first rows of box_nms's output only (a slice_axis from row 0): both targets
    stop suppressing once every batch entry keeps that many (the ONNX Loop's condition, the module's ``break``),
    and those rows equal MXNet's, also where the first blocks keep fewer and more blocks run."""
    boxes = _rows(d, 1, tied=False)
    nms = S.contrib.box_nms(boxes, overlap_thresh=0.5, valid_thresh=0.0001, topk=topk, coord_start=2, score_index=1,
                            id_index=0, force_suppress=True, name="nms")
    for read in (5, 300):
        sym = S.slice_axis(nms, axis=1, begin=0, end=read)
        ref = run_reference(sym, (2, 900, 6), seed=7)
        assert (ref.outputs[0][..., 0] >= 0).sum() == 2 * read
        model, _ = export_onnx(ref.graph, ExportOptions(input_shape=ref.data.shape, opset=13))
        loop = next(node for node in model.graph.node if node.op_type == "Loop")
        assert loop.input[1]  # a condition: the Loop may stop early
        assert_close(ref.outputs, onnx_outputs(ref, 13))
        alone = run_reference(sym, (1, 900, 6), seed=8)  # a batch size known at run time: the count read is kept
        for batch in (ref, alone):  # only where the candidates laid end to end are one image's
            assert_close(batch.outputs, onnx_outputs(ref, 13, batch.data, dynamic_batch=True))
        source, _ = emit_pytorch(ref.graph, TorchOptions(ref.data.shape))
        assert f"True, False, 'kept', {read})" in source
        with torch.no_grad():
            assert_close(ref.outputs, [torch_module(ref)(torch.from_numpy(ref.data)).numpy()])
    whole = run_reference(S.Group([nms, S.slice_axis(nms, axis=1, begin=0, end=5)]), (2, 900, 6), seed=7)
    assert "True, False, 'kept')" in emit_pytorch(whole.graph, TorchOptions(whole.data.shape))[0]


def test_box_nms_stops_after_the_last_valid_candidate():
    """Per-class suppression of 8 classes of 600 boxes of which about half score above ``valid_thresh``: the
    invalid ones, sorted last, are never kept, so both targets stop after the block (256 rows) holding the last
    valid one, the second; compared exactly with MXNet."""
    sym = S.contrib.box_nms(_rows(d, 1, tied=False), overlap_thresh=0.5, valid_thresh=0.5, topk=-1,
                            coord_start=2, score_index=1, id_index=0, name="nms")
    ref = run_reference(sym, (8, 600, 6), seed=8)
    valid = (ref.data[..., 1] > 0).sum(1)  # scores (x + 1) / 2 above 0.5
    assert valid.max() > 256 and valid.max() <= 512
    assert_close(ref.outputs, onnx_outputs(ref, 13))
    with torch.no_grad():
        assert_close(ref.outputs, [torch_module(ref)(torch.from_numpy(ref.data)).numpy()])


def _odd_boxes(box_format: str) -> np.ndarray:
    """Rows (id, score, 4 coordinates) of overlapping boxes among which some have a NaN or infinite coordinate,
    are inverted or empty, in ``box_format`` (corner, or centre and size), scores descending."""
    rng = np.random.default_rng(3)
    count = 48
    low = rng.uniform(0, 3, (count, 2))
    corner = np.concatenate([low, low + rng.uniform(2, 5, (count, 2))], 1)
    boxes = corner if box_format == "corner" else np.concatenate(
        [(corner[:, :2] + corner[:, 2:]) / 2, corner[:, 2:] - corner[:, :2]], 1)
    for row, column in enumerate(range(4)):  # a NaN in each coordinate, once early and once late
        boxes[2 + row, column] = boxes[30 + row, column] = np.nan
    boxes[7, 2], boxes[8, 0], boxes[34, 3] = np.inf, -np.inf, np.inf
    boxes[10, [0, 2]] = boxes[10, [2, 0]]  # inverted (a negative size in centre format)
    boxes[11, 2:] = boxes[11, :2]  # empty
    if box_format == "center":
        boxes[10, 2] = -2.0
    scores = np.linspace(1.0, 0.1, count)
    return np.concatenate([np.zeros((count, 1)), scores[:, None], boxes], 1).astype(np.float32)[None]


@pytest.mark.parametrize("box_format", ["corner", "center"])
@pytest.mark.parametrize("thresh", [0.3, 0.0, -0.5])
def test_box_nms_of_boxes_with_non_finite_coordinates_matches_mxnet(box_format, thresh):
    """Suppression decides from edges compared with max / min and areas computed once per box; a NaN edge must
    then decide as MXNet's selects do (which box's edge its Intersect takes depends on the format), and a negative
    threshold, where an overlap of 0 suppresses, takes MXNet's own selects: both targets (the module eager,
    scripted and exported) equal MXNet exactly."""
    rows = _odd_boxes(box_format)
    attrs = dict(overlap_thresh=thresh, valid_thresh=0.0, topk=-1, coord_start=2, score_index=1, id_index=0,
                 in_format=box_format, out_format=box_format)
    expected = mx.nd.contrib.box_nms(mx.nd.array(rows), **attrs).asnumpy()
    kept = (expected[0, :, 0] >= 0).sum()
    assert 0 < kept < len(rows[0]) // 2  # a negative threshold keeps the boxes of NaN overlaps only
    ref = run_reference(S.contrib.box_nms(d, name="nms", **attrs), rows.shape)
    np.testing.assert_array_equal(onnx_outputs(ref, 13, rows)[0], expected)
    module, data = torch_module(ref), torch.from_numpy(rows)
    with torch.no_grad():  # eager and scripted lay the candidates end to end, exported compares whole blocks
        for run in (module, torch.jit.script(module), torch.export.export(module, (data,)).module()):
            np.testing.assert_array_equal(run(data).numpy(), expected)


def test_box_nms_of_entries_with_few_and_many_valid_candidates():
    """Per-class suppression where a few classes have many valid candidates and most have few (R-CNN's final
    suppression): the valid candidates of all entries are laid end to end and each block compared with those of
    its own entries only. Entries with 0, 3, 300, 599 and 600 valid candidates of three ids each, blocks straddling
    entries: both targets (the module eager, scripted and exported) equal MXNet exactly."""
    rng = np.random.default_rng(9)
    entries, count = 5, 600
    low = rng.uniform(0, 20, (entries, count, 2))
    rows = np.concatenate([rng.integers(0, 3, (entries, count, 1)), rng.uniform(0.1, 1, (entries, count, 1)),
                           low, low + rng.uniform(1, 10, (entries, count, 2))], -1).astype(np.float32)
    for entry, valid in enumerate([0, 3, 300, 599, 600]):
        rows[entry, rng.permutation(count)[valid:], 1] = 0.01
    attrs = dict(overlap_thresh=0.5, valid_thresh=0.05, topk=-1, coord_start=2, score_index=1, id_index=0)
    expected = mx.nd.contrib.box_nms(mx.nd.array(rows), **attrs).asnumpy()
    assert [int((entry[:, 0] >= 0).sum()) for entry in expected[:2]] == [0, 3]
    ref = run_reference(S.contrib.box_nms(d, name="nms", **attrs), rows.shape)
    for opset in (11, 13):
        np.testing.assert_array_equal(onnx_outputs(ref, opset, rows)[0], expected)
    module, data = torch_module(ref), torch.from_numpy(rows)
    with torch.no_grad():
        for run in (module, torch.jit.script(module), torch.export.export(module, (data,)).module()):
            np.testing.assert_array_equal(run(data).numpy(), expected)
