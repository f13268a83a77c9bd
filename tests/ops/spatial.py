"""The spatial family's per-op cases (``mxconvert/semantics/spatial.py``): GridGenerator, BilinearSampler,
SpatialTransformer and Correlation. Grids reach past the image (MXNet's zero padding), batches hold two or three
images.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

import numpy as np

from .common import S, d

CASES: dict[str, tuple] = {}
CASE_INPUTS: dict[str, dict] = {}
INDEX_IMPORTER_SKIPS: dict[str, str] = {}

_AFFINE = np.array([[1.0, 0.0, 0.0, 0.0, 1.0, 0.0],  # identity
                    [1.3, 0.4, -0.35, -0.3, 0.8, 0.6],  # rotated, scaled and shifted past the edges
                    [0.6, -0.2, 1.1, 0.25, 1.7, -0.9]], np.float32)
_theta = S.var("theta", shape=(3, 6))
_flow = S.var("flow", shape=(2, 2, 4, 5))
_grid = S.var("grid", shape=(2, 2, 3, 7))
_GRID = np.random.default_rng(5).uniform(-1.6, 1.6, (2, 2, 3, 7)).astype(np.float32)  # a third outside
_GRID[0, :, 0, :3] = [[-1.0, 1.0, 0.0], [1.0, -1.0, 0.5]]  # the corners and centre exactly
_GRID[1, :, 2, :2] = [[-1.02, 1.01], [0.3, -0.999]]  # just outside: one neighbour in

CASES.update({
    "spatial_grid_affine": (S.GridGenerator(d, transform_type="affine", target_shape=(4, 6), name="grid"), (3, 6)),
    "spatial_grid_affine_tall": (S.GridGenerator(d, transform_type="affine", target_shape=(7, 2), name="grid"),
                                 (2, 6)),
    "spatial_grid_warp": (S.GridGenerator(d, transform_type="warp", name="grid"), (2, 2, 4, 5)),
    "spatial_sampler": (S.BilinearSampler(d, _grid, name="sampler"), (2, 3, 5, 6)),
    "spatial_sampler_affine_grid": (S.BilinearSampler(d, S.GridGenerator(_theta, transform_type="affine",
                                                                         target_shape=(5, 4)), name="sampler"),
                                    (3, 2, 6, 7)),
    "spatial_sampler_warp_grid": (S.BilinearSampler(d, S.GridGenerator(_flow, transform_type="warp"),
                                                    cudnn_off=True, name="sampler"), (2, 3, 4, 5)),
    **{f"spatial_transformer_{h}x{w}": (S.SpatialTransformer(d, _theta, target_shape=(h, w), transform_type="affine",
                                                             sampler_type="bilinear", name="st"), (3, 2, 6, 5))
       for h, w in ((6, 5), (3, 8), (9, 2))},
    "spatial_transformer_localised": (S.SpatialTransformer(d, S.FullyConnected(S.flatten(d), num_hidden=6, name="loc"),
                                                           target_shape=(4, 4), transform_type="affine",
                                                           sampler_type="bilinear", name="st"), (2, 3, 5, 5)),
    "spatial_correlation": (S.Correlation(d, d * 0.5 + 0.25, name="corr"), (2, 3, 5, 6)),
    "spatial_correlation_flownet": (S.Correlation(d, S.flip(d, axis=3), kernel_size=1, max_displacement=4,
                                                  stride1=1, stride2=2, pad_size=4, name="corr"), (2, 4, 6, 7)),
    "spatial_correlation_kernel3": (S.Correlation(d, S.flip(d, axis=2), kernel_size=3, max_displacement=2,
                                                  stride1=2, stride2=1, pad_size=2, name="corr"), (2, 3, 7, 8)),
    "spatial_correlation_abs": (S.Correlation(d, S.flip(d, axis=3), kernel_size=3, max_displacement=1,
                                              stride1=1, stride2=1, pad_size=1, is_multiply=False, name="corr"),
                                (3, 2, 5, 5)),
    "spatial_correlation_abs_strided": (S.Correlation(d, d * d, kernel_size=1, max_displacement=3, stride1=3,
                                                      stride2=2, pad_size=0, is_multiply=False, name="corr"),
                                        (1, 2, 9, 10)),
})
_THETA_INPUT = {"theta": _AFFINE}
CASE_INPUTS.update({
    "spatial_sampler": {"grid": _GRID},
    "spatial_sampler_affine_grid": _THETA_INPUT,
    "spatial_sampler_warp_grid": {"flow": np.random.default_rng(6).uniform(-3, 3, (2, 2, 4, 5)).astype(np.float32)},
    **{f"spatial_transformer_{h}x{w}": _THETA_INPUT for h, w in ((6, 5), (3, 8), (9, 2))},
})
INDEX_IMPORTER_SKIPS.update({case: "MXNet's importer runs GatherElements as pick, which takes one index per row: "
                                   "it cannot run the sampler's gathers" for case in CASES
                             if case.startswith(("spatial_sampler", "spatial_transformer"))})
