"""GluonNLP checkpoints built locally, exported as GluonNLP users export them (``hybridize()``, one forward,
``export()``): BERT (encoder, pooler, classifier and the pretraining heads with masked positions), its
classifier, RoBERTa, DistilBERT and ERNIE, from GluonNLP 0.10's own classes with a local vocabulary (nothing is
downloaded). ``python -m mxconvert.zoo.nlp``."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .named import build_by_name

VOCAB_SIZE = 100
MAX_LENGTH = 128


@dataclass(frozen=True)
class NlpModel:
    family: str  # bert, bert-classifier, roberta, distilbert
    layers: int
    units: int
    hidden: int
    heads: int
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12

    @property
    def inputs(self) -> tuple[str, ...]:
        """What the exported inputs data0, data1... hold, in order."""
        return {"bert": ("tokens", "token_types", "valid_length", "masked_positions"),
                "bert-classifier": ("tokens", "token_types", "valid_length"),
                "roberta": ("tokens", "valid_length", "masked_positions"),
                "distilbert": ("tokens", "valid_length")}[self.family]


# small encoders for the tests; bert-base is BERT-base's own size (the benchmark's)
MODELS = {
    "bert": NlpModel("bert", 2, 64, 128, 4),
    "bert-classifier": NlpModel("bert-classifier", 2, 64, 128, 4),
    "roberta": NlpModel("roberta", 2, 64, 128, 4, layer_norm_eps=1e-5),
    "distilbert": NlpModel("distilbert", 2, 64, 128, 4),
    "ernie": NlpModel("bert", 2, 64, 128, 4, activation="relu", layer_norm_eps=1e-5),
    "bert-base": NlpModel("bert-classifier", 12, 768, 3072, 12),
}
MASKED = 3  # masked positions per sequence in the pretraining heads' input


def _network(spec: NlpModel):
    import gluonnlp as nlp

    encoder = nlp.model.BERTEncoder(num_layers=spec.layers, units=spec.units, hidden_size=spec.hidden,
                                    max_length=MAX_LENGTH, num_heads=spec.heads, dropout=0.1,
                                    activation=spec.activation, layer_norm_eps=spec.layer_norm_eps)
    common = dict(vocab_size=VOCAB_SIZE, units=spec.units, embed_size=spec.units)
    if spec.family == "roberta":
        return nlp.model.RoBERTaModel(encoder, use_decoder=True, **common)
    if spec.family == "distilbert":
        return nlp.model.DistilBERTModel(encoder, **common)
    full = spec.family == "bert"
    bert = nlp.model.BERTModel(encoder, token_type_vocab_size=2, use_pooler=True, use_decoder=full,
                               use_classifier=full, **common)
    return bert if full else nlp.model.BERTClassifier(bert, num_classes=3, dropout=0.1)


def _realistic(net, rng: np.random.Generator) -> None:
    """BERT's trained scale: weights N(0, 0.02), LayerNorm gains near 1 and shifts near 0, small biases."""
    from .common import mx

    for name, param in net.collect_params().items():
        if name.endswith("gamma"):
            value = rng.uniform(0.8, 1.2, param.shape)
        elif name.endswith(("beta", "bias")):
            value = rng.normal(0, 0.05, param.shape)
        else:
            value = rng.normal(0, 0.02, param.shape)
        param.set_data(mx.nd.array(value))


def sample_inputs(name: str, batch: int, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs by exported name (data0, data1, ...), float32 as MXNet feeds them: token ids, token types,
    valid lengths (the first sequence full, the others shorter), masked positions within each valid length."""
    spec = MODELS[name]
    rng = np.random.default_rng(seed)
    lengths = np.maximum(1, steps - np.arange(batch) * max(1, steps // (2 * max(batch, 1)))).astype(np.float32)
    values = {
        "tokens": rng.integers(0, VOCAB_SIZE, (batch, steps)),
        "token_types": (np.arange(steps)[None, :] >= (lengths[:, None] // 2)).astype(np.int64),
        "valid_length": lengths,
        "masked_positions": np.stack([rng.integers(0, length, MASKED) for length in lengths.astype(int)]),
    }
    return {f"data{i}": np.asarray(values[role], np.float32) for i, role in enumerate(spec.inputs)}


def dynamic_axes(name: str) -> dict[str, tuple[int, ...]]:
    """Batch and sequence symbolic on every input that has them."""
    axes = {"tokens": (0, 1), "token_types": (0, 1), "valid_length": (0,), "masked_positions": (0,)}
    return {f"data{i}": axes[role] for i, role in enumerate(MODELS[name].inputs)}


def _hybridized(name: str, seed: int):
    """``MODELS[name]`` with realistic weights, hybridized and run once (as ``export`` needs)."""
    from .common import mx

    net = _network(MODELS[name])
    net.initialize()
    feeds = sample_inputs(name, 2, 8, seed)
    net(*(mx.nd.array(feeds[key]) for key in sorted(feeds)))  # allocates the deferred parameters
    _realistic(net, np.random.default_rng(seed))
    net.hybridize()
    net(*(mx.nd.array(feeds[key]) for key in sorted(feeds)))
    return net


def build_nlp(name: str, out_dir: str, seed: int = 0) -> str:
    """Export ``MODELS[name]`` with realistic weights to ``out_dir/NAME``; returns the prefix."""
    from .common import atomic_checkpoint

    net = _hybridized(name, seed)
    prefix = os.path.join(out_dir, name)
    with atomic_checkpoint(prefix, 0) as tmp_prefix:
        net.export(tmp_prefix)
    return prefix


def nlp_symbol_json(name: str) -> str:
    """The symbol JSON ``build_nlp`` exports for ``name`` (nothing kept on disk)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        with open(f"{build_nlp(name, folder)}-symbol.json") as handle:
            return handle.read()


def main(argv: Sequence[str] | None = None) -> int:
    return build_by_name("python -m mxconvert.zoo.nlp", __doc__.split("\n")[0], MODELS, build_nlp, argv)


if __name__ == "__main__":
    raise SystemExit(main())
