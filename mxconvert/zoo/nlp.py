"""GluonNLP checkpoints built locally, exported as GluonNLP users export them (``hybridize()``, one forward,
``export()``), from GluonNLP 0.10's own classes with a local vocabulary (nothing is downloaded): BERT (encoder,
pooler, classifier and the pretraining heads with masked positions), its classifier, RoBERTa, DistilBERT and
ERNIE; the Transformer encoder and NMT model (teacher-forced); the standard and AWD LSTM language models (begin
states as inputs); a text CNN (sentence classification). ``python -m mxconvert.zoo.nlp``."""
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
    family: str  # a key of ROLES
    layers: int
    units: int  # model width; the embedding size of the LSTM language models and the text CNN
    hidden: int  # feed-forward width; the LSTM hidden size; the text CNN's filters per width
    heads: int = 0
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12
    weight_std: float = 0.02

    @property
    def inputs(self) -> tuple[str, ...]:
        """What the exported inputs (data0, data1... or data alone) hold, in order."""
        if self.family == "awd-lstm":
            return ("time_tokens", *(f"{kind}{i}" for i in range(self.layers) for kind in ("h", "c")))
        return ROLES[self.family]

    def state_size(self, layer: int) -> int:
        """The begin states' last size at ``layer`` (AWD-LSTM's last layer has the embedding size, its decoder
        weight being the embedding's)."""
        return self.units if self.family == "awd-lstm" and layer == self.layers - 1 else self.hidden


ROLES = {
    "bert": ("tokens", "token_types", "valid_length", "masked_positions"),
    "bert-classifier": ("tokens", "token_types", "valid_length"),
    "roberta": ("tokens", "valid_length", "masked_positions"),
    "distilbert": ("tokens", "valid_length"),
    "transformer-encoder": ("tokens", "valid_length"),
    "transformer-nmt": ("tokens", "target_tokens", "valid_length", "target_length"),
    "standard-lstm": ("time_tokens", "h", "c"),
    "awd-lstm": (),
    "text-cnn": ("time_tokens",),
}

# small models for the tests; bert-base is BERT-base's own size (the benchmark's)
MODELS = {
    "bert": NlpModel("bert", 2, 64, 128, 4),
    "bert-classifier": NlpModel("bert-classifier", 2, 64, 128, 4),
    "roberta": NlpModel("roberta", 2, 64, 128, 4, layer_norm_eps=1e-5),
    "distilbert": NlpModel("distilbert", 2, 64, 128, 4),
    "ernie": NlpModel("bert", 2, 64, 128, 4, activation="relu", layer_norm_eps=1e-5),
    "transformer-encoder": NlpModel("transformer-encoder", 2, 32, 64, 4, weight_std=0.1),
    "transformer-nmt": NlpModel("transformer-nmt", 2, 32, 64, 4, weight_std=0.1),
    "standard-lstm": NlpModel("standard-lstm", 2, 32, 32, weight_std=0.1),
    "awd-lstm": NlpModel("awd-lstm", 3, 32, 48, weight_std=0.1),
    "text-cnn": NlpModel("text-cnn", 1, 16, 8, weight_std=0.1),
    "bert-base": NlpModel("bert-classifier", 12, 768, 3072, 12),
}
MASKED = 3  # masked positions per sequence in the pretraining heads' input
NGRAMS = (3, 4, 5)  # the text CNN's filter widths (Kim's)


def _vocab():
    """A local vocabulary of ``VOCAB_SIZE`` entries (4 special tokens and made-up words)."""
    from collections import Counter

    import gluonnlp as nlp

    return nlp.Vocab(Counter({f"word{i}": VOCAB_SIZE - i for i in range(VOCAB_SIZE - 4)}))


def _bert(spec: NlpModel):
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


def _translation(spec: NlpModel):
    """GluonNLP's Transformer ``NMTModel`` as its machine-translation scripts build it, wrapped for export (the
    model is a ``Block``): the source encoder with its valid length, or the teacher-forced forward."""
    import gluonnlp as nlp
    from mxnet.gluon import HybridBlock

    encoder, decoder, one_step = nlp.model.transformer.get_transformer_encoder_decoder(
        num_layers=spec.layers, num_heads=spec.heads, units=spec.units, hidden_size=spec.hidden, dropout=0.1,
        max_src_length=MAX_LENGTH, max_tgt_length=MAX_LENGTH)
    vocab = _vocab()
    model = nlp.model.translation.NMTModel(src_vocab=vocab, tgt_vocab=vocab, encoder=encoder, decoder=decoder,
                                           one_step_ahead_decoder=one_step, embed_size=spec.units,
                                           prefix="transformer_")

    class Encode(HybridBlock):
        def __init__(self):
            super().__init__(prefix="")
            self.src_embed, self.encoder = model.src_embed, model.encoder

        def hybrid_forward(self, F, src, src_valid_length):
            return self.encoder(self.src_embed(src), None, src_valid_length)[0]

    class Translate(Encode):
        def __init__(self):
            super().__init__()
            self.tgt_embed, self.decoder, self.tgt_proj = model.tgt_embed, model.decoder, model.tgt_proj

        def hybrid_forward(self, F, src, tgt, src_valid_length, tgt_valid_length):
            memory = super().hybrid_forward(F, src, src_valid_length)
            steps = F.contrib.arange_like(memory, axis=1)
            memory_mask = F.broadcast_lesser(steps.reshape((1, -1)), src_valid_length.reshape((-1, 1)))
            return self.tgt_proj(self.decoder(self.tgt_embed(tgt), [memory, memory_mask], tgt_valid_length)[0])

    return Translate() if spec.family == "transformer-nmt" else Encode()


def _language_model(spec: NlpModel):
    """GluonNLP's standard LSTM language model (``dropout=0``: with dropout its ``hybrid_forward`` calls
    ``nd.Dropout`` and does not hybridize) or AWD-LSTM with its published dropouts, weights tied."""
    import gluonnlp as nlp

    if spec.family == "standard-lstm":
        return nlp.model.StandardRNN("lstm", VOCAB_SIZE, spec.units, spec.hidden, spec.layers, dropout=0.0,
                                     tie_weights=True)
    return nlp.model.AWDRNN("lstm", VOCAB_SIZE, spec.units, spec.hidden, spec.layers, tie_weights=True,
                            dropout=0.4, weight_drop=0.5, drop_h=0.2, drop_i=0.65, drop_e=0.1)


def _text_cnn(spec: NlpModel):
    """A sentence classifier as GluonNLP's sentiment-analysis scripts build it (multichannel TextCNN): two
    embeddings concatenated, ``ConvolutionalEncoder`` (one Conv1D per width, max over time, ReLU, concat),
    dropout, a Dense of 2 classes; time-major token ids."""
    import gluonnlp as nlp
    from mxnet.gluon import HybridBlock, nn

    class TextCNN(HybridBlock):
        def __init__(self):
            super().__init__(prefix="textcnn_")
            with self.name_scope():
                self.embedding = nn.Embedding(VOCAB_SIZE, spec.units)
                self.embedding_extend = nn.Embedding(VOCAB_SIZE, spec.units)
                self.encoder = nlp.model.ConvolutionalEncoder(
                    embed_size=2 * spec.units, num_filters=(spec.hidden,) * len(NGRAMS), ngram_filter_sizes=NGRAMS,
                    conv_layer_activation="relu", num_highway=None)
                self.output = nn.HybridSequential()
                with self.output.name_scope():
                    self.output.add(nn.Dropout(0.5), nn.Dense(2, flatten=False))

        def hybrid_forward(self, F, data):
            embedded = F.concat(self.embedding(data), self.embedding_extend(data), dim=2)
            return self.output(self.encoder(embedded))

    return TextCNN()


def _network(spec: NlpModel):
    if spec.family.startswith("transformer"):
        return _translation(spec)
    if spec.family.endswith("lstm"):
        return _language_model(spec)
    return _text_cnn(spec) if spec.family == "text-cnn" else _bert(spec)


def _realistic(net, spec: NlpModel, rng: np.random.Generator) -> None:
    """A trained scale: weights N(0, ``spec.weight_std``) (BERT's 0.02), LayerNorm gains near 1 and shifts near
    0, small biases; constants (the Transformer's position encoding) kept."""
    from .common import mx

    for name, param in net.collect_params().items():
        if isinstance(param, mx.gluon.Constant):
            continue
        if name.endswith("gamma"):
            value = rng.uniform(0.8, 1.2, param.shape)
        elif name.endswith(("beta", "bias")):
            value = rng.normal(0, 0.05, param.shape)
        else:
            value = rng.normal(0, spec.weight_std, param.shape)
        param.set_data(mx.nd.array(value))


def input_names(name: str) -> list[str]:
    """The exported input names, in ``MODELS[name].inputs`` order (Gluon names a single input ``data``)."""
    count = len(MODELS[name].inputs)
    return ["data"] if count == 1 else [f"data{i}" for i in range(count)]


def sample_inputs(name: str, batch: int, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs by exported name, float32 as MXNet feeds them: token ids (time-major for the language models and
    the text CNN), token types, valid lengths (the first sequence full, the others shorter), masked positions
    within each valid length, target tokens and lengths (a quarter shorter than the source), begin states."""
    spec = MODELS[name]
    rng = np.random.default_rng(seed)
    target_steps = max(1, steps - steps // 4)

    def lengths(size: int) -> np.ndarray:
        return np.maximum(1, size - np.arange(batch) * max(1, size // (2 * max(batch, 1)))).astype(np.float32)

    def value(role: str) -> np.ndarray:
        if role == "tokens":
            return rng.integers(0, VOCAB_SIZE, (batch, steps))
        if role == "time_tokens":
            return rng.integers(0, VOCAB_SIZE, (steps, batch))
        if role == "target_tokens":
            return rng.integers(0, VOCAB_SIZE, (batch, target_steps))
        if role == "token_types":
            return np.arange(steps)[None, :] >= (lengths(steps)[:, None] // 2)
        if role == "masked_positions":
            return np.stack([rng.integers(0, length, MASKED) for length in lengths(steps).astype(int)])
        if role in ("valid_length", "target_length"):
            return lengths(steps if role == "valid_length" else target_steps)
        layer = int(role[1:] or 0)  # a begin state: h or c, of one layer (AWD-LSTM) or of all
        return rng.uniform(-0.5, 0.5, (1 if role[1:] else spec.layers, batch, spec.state_size(layer)))

    return {key: np.asarray(value(role), np.float32) for key, role in zip(input_names(name), spec.inputs)}


def dynamic_axes(name: str) -> dict[str, tuple[int, ...]]:
    """Batch and sequence symbolic on every input that has them."""
    axes = {"tokens": (0, 1), "time_tokens": (0, 1), "target_tokens": (0, 1), "token_types": (0, 1),
            "valid_length": (0,), "target_length": (0,), "masked_positions": (0,)}
    return {key: axes.get(role, (1,)) for key, role in zip(input_names(name), MODELS[name].inputs)}


def _forward(net, spec: NlpModel, feeds: dict[str, np.ndarray]):
    """``net`` on ``feeds`` as its users call it (the language models take their begin states as a list, of
    [h, c] per layer for AWD-LSTM), in training mode: at inference MKLDNN reorders 1-D convolution weights in
    place into a layout nothing reads back (``set_data``, ``export``)."""
    from .common import mx

    arrays = [mx.nd.array(feeds[key]) for key in feeds]
    if spec.family == "awd-lstm":
        args = (arrays[0], [arrays[i:i + 2] for i in range(1, len(arrays), 2)])
    elif spec.family == "standard-lstm":
        args = (arrays[0], arrays[1:])
    else:
        args = tuple(arrays)
    with mx.autograd.train_mode():
        return net(*args)


def hybridized(name: str, seed: int):
    """``MODELS[name]`` with realistic weights, hybridized and run once (as ``export`` needs)."""
    spec = MODELS[name]
    net = _network(spec)
    net.initialize()
    feeds = sample_inputs(name, 2, 8, seed)
    _forward(net, spec, feeds)  # allocates the deferred parameters
    _realistic(net, spec, np.random.default_rng(seed))
    net.hybridize()
    _forward(net, spec, feeds)
    return net


def build_nlp(name: str, out_dir: str, seed: int = 0) -> str:
    """Export ``MODELS[name]`` with realistic weights to ``out_dir/NAME``; returns the prefix."""
    from .common import atomic_checkpoint

    net = hybridized(name, seed)
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
