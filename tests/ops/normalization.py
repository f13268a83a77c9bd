"""The normalization family's per-op cases (``mxconvert/semantics/normalization.py``): BatchNorm (legacy,
synchronised and ReLU-fused too), instance, group and layer norm, LRN, L2Normalization.

Run against MXNet by both targets' tests; ``tests/mxcases.py`` assembles every family's tables (the cases
of an op go in the module of the family that defines it)."""
from __future__ import annotations

from .common import S, d

CASES: dict[str, tuple] = {}
BOTH_REFUSE: dict[str, tuple] = {}

# id -> (symbol, input shape)
CASES.update({
    "bn_fix_gamma": (S.BatchNorm(d, fix_gamma=True, name="bn"), (2, 4, 5, 5)),
    "bn_free_gamma": (S.BatchNorm(d, fix_gamma=False, eps=2e-5, name="bn"), (2, 4, 5, 5)),
    "bn_global_stats": (S.BatchNorm(d, fix_gamma=False, use_global_stats=True, name="bn"), (2, 4, 5, 5)),
    "bn_2d": (S.BatchNorm(d, fix_gamma=True, eps=2e-5, name="fc1"), (3, 8)),
    "bn_axis_last": (S.BatchNorm(d, fix_gamma=False, axis=-1, name="bn"), (2, 3, 4, 5)),
    "bn_output_mean_var": (S.BatchNorm(d, fix_gamma=False, output_mean_var=True, eps=1e-3, name="bn"),
                           (2, 4, 5, 5)),
    "bn_output_mean_var_axis_last": (S.BatchNorm(d, fix_gamma=True, output_mean_var=True, axis=-1, name="bn"),
                                     (2, 3, 4, 5)),
    **{f"l2norm_{m}": (S.L2Normalization(d, mode=m, name="l2"), (2, 3, 4, 5))
       for m in ("instance", "channel", "spatial")},
})
CASES.update({
    "bn_3d_input": (S.BatchNorm(d, fix_gamma=False, name="bn"), (2, 4, 6)),
    # the legacy, synchronised and ReLU-fused BatchNorms (their moving statistics auxiliary states as BatchNorm's)
    "bn_v1_mean_var": (S.BatchNorm_v1(d, fix_gamma=False, output_mean_var=True, name="bn"), (2, 3, 4, 5)),
    "bn_v1_2d_fix_gamma": (S.BatchNorm_v1(d, fix_gamma=True, eps=2e-5, name="bn"), (3, 6)),
    "bn_sync_3d": (S.contrib.SyncBatchNorm(d, key="bn_key", ndev=2, fix_gamma=False, eps=1e-5, name="bn"), (2, 3, 4)),
    "bn_sync_global_stats": (S.contrib.SyncBatchNorm(d, key="k", fix_gamma=True, use_global_stats=True, name="bn"),
                             (2, 4, 3, 3)),
    "bn_relu": (S.contrib.BatchNormWithReLU(d, fix_gamma=False, name="bn"), (2, 3, 4, 5)),
    "bn_relu_mean_var": (S.contrib.BatchNormWithReLU(d, fix_gamma=True, output_mean_var=True, eps=2e-5, name="bn"),
                         (2, 4, 3, 3)),
})
# Graphs MXNet runs that neither target converts: symbol, input shape, the refusal (both targets say the same)
BOTH_REFUSE.update({
    "bn_sync_mean_var": (S.contrib.SyncBatchNorm(d, key="k", output_mean_var=True, name="bn"), (2, 3, 4, 4),
                         r"_contrib_SyncBatchNorm \[output_mean_var: MXNet leaves the mean and var outputs unwritten "
                         r"at inference\] \(bn\)"),
})
CASES.update({
    **{f"nn_lrn_{n}": (S.LRN(d * 3.0, nsize=n, alpha=0.3, beta=0.6, knorm=1.5, name="lrn"), (2, 7, 3, 4))
       for n in (1, 3, 5)},
    "nn_lrn_defaults_2d": (S.LRN(d * 30.0, nsize=3, name="lrn"), (2, 5)),
    # alpha and beta that ONNX Runtime's LRN refuses
    "nn_lrn_negative_alpha": (S.LRN(d, nsize=3, alpha=-0.5, beta=1.5, knorm=2.0, name="lrn"), (2, 4, 3, 2)),
    "nn_lrn_zero_beta_2d": (S.LRN(d, nsize=5, alpha=0.5, beta=0.0, name="lrn"), (3, 6)),
    "nn_instance_norm": (S.InstanceNorm(d, eps=0.01, name="in"), (2, 3, 5, 7)),
    "nn_instance_norm_1d": (S.InstanceNorm(d, name="in"), (2, 3, 7)),
    "nn_instance_norm_3d": (S.InstanceNorm(d, name="in"), (1, 3, 3, 4, 5)),
    "nn_instance_norm_4_spatial_axes": (S.InstanceNorm(d, name="in"), (2, 3, 2, 3, 2, 3)),
    "nn_group_norm": (S.GroupNorm(d, num_groups=3, eps=0.01, name="gn"), (2, 6, 3, 5)),
    "nn_group_norm_one_group_3d": (S.GroupNorm(d, name="gn"), (2, 5, 7)),
    "nn_group_norm_output_mean_var": (S.GroupNorm(d, num_groups=2, output_mean_var=True, name="gn"), (3, 4, 5)),
    "nn_layer_norm": (S.LayerNorm(d, name="ln"), (2, 3, 7)),
    "nn_layer_norm_axis1": (S.LayerNorm(d, axis=1, eps=0.01, name="ln"), (2, 5, 3, 2)),
    "nn_layer_norm_axis_m2": (S.LayerNorm(d, axis=-2, name="ln"), (2, 5, 3)),
    "nn_layer_norm_output_mean_var": (S.LayerNorm(d, output_mean_var=True, name="ln"), (3, 5)),
    "nn_layer_norm_output_mean_var_axis0": (S.LayerNorm(d, axis=0, output_mean_var=True, name="ln"), (3, 4)),
})
