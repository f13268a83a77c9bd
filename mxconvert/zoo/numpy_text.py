"""Sequence models written in MXNet's NumPy interface the way d2l.ai writes them (chapters 10 and 11): a GRU or
LSTM encoder-decoder (``Seq2SeqEncoder``/``Seq2SeqDecoder``, the decoder starting from the encoder's final state
and reading the last layer's state as context at every step) and a Transformer encoder (``PositionalEncoding``,
``MultiHeadAttention`` with ``masked_softmax`` over valid lengths, ``AddNorm``, ``PositionWiseFFN``). Written as
``HybridBlock``s (what ``hybridize()`` needs in MXNet 1.x: shapes come from the data, not from ``X.shape``),
trained a few steps on a toy task, run once hybridized and exported. Token ids and valid lengths are float32, as
MXNet feeds them; the exported inputs are ``data0`` (source tokens) and ``data1`` (target tokens, or the valid
lengths of the Transformer)."""
from __future__ import annotations

import math
import os

import numpy as np

from .common import atomic_checkpoint, mx
from .numpy_style import numpy_mode

nn, rnn = mx.gluon.nn, mx.gluon.rnn

VOCAB, EMBED, HIDDEN, LAYERS, HEADS, FFN_HIDDEN, MAX_LENGTH = 24, 16, 32, 2, 4, 64, 64
DROPOUT = 0.1  # d2l's rate, active in training only
BOS = 1  # the decoder's first input token
MODELS = {"np-seq2seq-gru": "gru", "np-seq2seq-lstm": "lstm", "np-transformer-encoder": "transformer"}
TRAIN_STEPS, TRAIN_BATCH, TRAIN_LENGTH = 60, 32, 8


def recurrent_layer(cell: str) -> nn.HybridBlock:
    """``LAYERS`` of GRU or LSTM, time-major, with dropout between them."""
    return (rnn.GRU if cell == "gru" else rnn.LSTM)(HIDDEN, LAYERS, dropout=DROPOUT)


class Seq2SeqEncoder(nn.HybridBlock):
    """Embedding and a multi-layer GRU or LSTM (time-major) from zero begin states sized by the batch."""

    def __init__(self, cell: str) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = recurrent_layer(cell)
        self.states = 1 if cell == "gru" else 2

    def hybrid_forward(self, F, X):
        X = self.embedding(X).swapaxes(0, 1)
        zeros = F.np.zeros((LAYERS, 1, HIDDEN)) + F.np.zeros_like(X[0:1, :, 0:1])  # (layers, batch, hidden)
        return self.rnn(X, [zeros] * self.states)


class Seq2SeqDecoder(nn.HybridBlock):
    """Embedding concatenated with the context (the last layer's final encoder state, at every step), the
    recurrent layer started from the encoder's state, and a dense layer over the vocabulary."""

    def __init__(self, cell: str) -> None:
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, EMBED)
        self.rnn = recurrent_layer(cell)
        self.dense = nn.Dense(VOCAB, flatten=False)

    def hybrid_forward(self, F, X, state):
        X = self.embedding(X).swapaxes(0, 1)
        context = state[0][-1:] + F.np.zeros_like(X[:, :, 0:1])  # broadcast over the steps
        output, state = self.rnn(F.np.concatenate((X, context), axis=2), state)
        return self.dense(output).swapaxes(0, 1), state


class EncoderDecoder(nn.HybridBlock):
    """d2l's ``EncoderDecoder``: the decoder's logits (batch, steps, vocabulary) and its final state."""

    def __init__(self, cell: str) -> None:
        super().__init__()
        self.encoder, self.decoder = Seq2SeqEncoder(cell), Seq2SeqDecoder(cell)

    def hybrid_forward(self, F, enc_X, dec_X):
        return self.decoder(dec_X, self.encoder(enc_X)[1])


def masked_softmax(F, X, valid_lens):
    """Softmax over the last axis of ``X`` (batch, queries, keys), keys past ``valid_lens`` set to -1e6 first."""
    X = F.npx.sequence_mask(X.swapaxes(1, 2), valid_lens, use_sequence_length=True, value=-1e6, axis=1)
    return F.npx.softmax(X.swapaxes(1, 2))


class MultiHeadAttention(nn.HybridBlock):
    """Scaled dot-product attention in ``HEADS`` heads, the heads folded into the batch and back."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(DROPOUT)
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Dense(HIDDEN, use_bias=False, flatten=False) for _ in range(4))

    def hybrid_forward(self, F, queries, keys, values, valid_lens):
        queries, keys, values = (self.transpose_qkv(F, X) for X in (self.W_q(queries), self.W_k(keys),
                                                                   self.W_v(values)))
        scores = F.npx.batch_dot(queries, keys, transpose_b=True) / math.sqrt(HIDDEN // HEADS)
        weights = masked_softmax(F, scores, F.np.repeat(valid_lens, HEADS, axis=0))
        output = F.npx.batch_dot(self.dropout(weights), values)
        return self.W_o(self.transpose_output(F, output))

    @staticmethod
    def transpose_qkv(F, X):
        """(batch, steps, hidden) -> (batch * heads, steps, hidden / heads)."""
        X = F.npx.reshape(X, (-2, -2, HEADS, -1)).transpose(0, 2, 1, 3)
        return F.npx.reshape(X, (-5, -2, -2))

    @staticmethod
    def transpose_output(F, X):
        """The inverse of ``transpose_qkv``."""
        X = F.npx.reshape(X, (-6, -1, HEADS, -2, -2)).transpose(0, 2, 1, 3)
        return F.npx.reshape(X, (-2, -2, -5))


class PositionWiseFFN(nn.HybridBlock):
    def __init__(self) -> None:
        super().__init__()
        self.dense1, self.dense2 = nn.Dense(FFN_HIDDEN, flatten=False), nn.Dense(HIDDEN, flatten=False)

    def hybrid_forward(self, F, X):
        return self.dense2(F.npx.relu(self.dense1(X)))


class AddNorm(nn.HybridBlock):
    """Residual connection (the sublayer's output through dropout) and layer normalisation."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout, self.ln = nn.Dropout(DROPOUT), nn.LayerNorm()

    def hybrid_forward(self, F, X, Y):
        return self.ln(self.dropout(Y) + X)


class PositionalEncoding(nn.HybridBlock):
    """Sines and cosines of the position (a constant), taken for as many positions as the input has, added to
    the input (then dropout)."""

    def __init__(self) -> None:
        super().__init__()
        self.dropout = nn.Dropout(DROPOUT)
        angles = np.arange(MAX_LENGTH)[:, None] / np.power(10000, np.arange(0, HIDDEN, 2) / HIDDEN)
        table = np.zeros((1, MAX_LENGTH, HIDDEN), np.float32)
        table[0, :, 0::2], table[0, :, 1::2] = np.sin(angles), np.cos(angles)
        self.P = self.params.get_constant("P", table)

    def hybrid_forward(self, F, X, P):
        return self.dropout(X + F.np.take(P, F.npx.arange_like(X, axis=1), axis=1))


class TransformerEncoderBlock(nn.HybridBlock):
    def __init__(self) -> None:
        super().__init__()
        self.attention, self.addnorm1 = MultiHeadAttention(), AddNorm()
        self.ffn, self.addnorm2 = PositionWiseFFN(), AddNorm()

    def hybrid_forward(self, F, X, valid_lens):
        Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
        return self.addnorm2(Y, self.ffn(Y))


class TransformerEncoder(nn.HybridBlock):
    """Embedding scaled by sqrt(hidden), positional encoding, ``LAYERS`` encoder blocks: (batch, steps, hidden)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.pos_encoding = nn.Embedding(VOCAB, HIDDEN), PositionalEncoding()
        self.blks = nn.HybridSequential()
        for _ in range(LAYERS):
            self.blks.add(TransformerEncoderBlock())

    def hybrid_forward(self, F, X, valid_lens):
        X = self.pos_encoding(self.embedding(X) * math.sqrt(HIDDEN))
        for blk in self.blks:
            X = blk(X, valid_lens)
        return X


def sample_inputs(model: str, batch: int, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Float32 inputs by exported name: source tokens (``batch``, ``steps``) and target tokens a quarter shorter,
    or valid lengths (the first sequence full, the second empty, the others in between)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (batch, steps)).astype(np.float32)
    if MODELS[model] == "transformer":
        lengths = np.concatenate([[steps, 0], rng.integers(1, steps, batch - 2)]).astype(np.float32)
        return {"data0": tokens, "data1": lengths}
    return {"data0": tokens, "data1": rng.integers(0, VOCAB, (batch, steps - steps // 4)).astype(np.float32)}


def dynamic_axes(model: str) -> dict[str, tuple[int, ...]]:
    """Batch and sequence length symbolic on every input that has them."""
    return {"data0": (0, 1), "data1": (0,) if MODELS[model] == "transformer" else (0, 1)}


def _network(model: str) -> nn.HybridBlock:
    cell = MODELS[model]
    return TransformerEncoder() if cell == "transformer" else EncoderDecoder(cell)


def _train(model: str, net: nn.HybridBlock, rng: np.random.Generator) -> None:
    """A few Adam steps on a toy task so weights and activations look trained: the seq2seq models learn to reverse
    the source (teacher forcing); the Transformer encoder, under a dense head dropped afterwards, to give every
    position the previous token."""
    transformer = MODELS[model] == "transformer"
    params = net.collect_params()
    if transformer:
        head = nn.Dense(VOCAB, flatten=False)
        head.initialize(mx.init.Xavier())
        params.update(head.collect_params())
    trainer = mx.gluon.Trainer(params, "adam", {"learning_rate": 0.01})
    loss = mx.gluon.loss.SoftmaxCrossEntropyLoss()
    for _ in range(TRAIN_STEPS):
        source = rng.integers(2, VOCAB, (TRAIN_BATCH, TRAIN_LENGTH))
        if transformer:
            inputs = (source, rng.integers(1, TRAIN_LENGTH + 1, TRAIN_BATCH))
            labels = np.concatenate([source[:, :1], source[:, :-1]], axis=1)
        else:
            labels = source[:, ::-1]
            inputs = (source, np.concatenate([np.full((TRAIN_BATCH, 1), BOS), labels[:, :-1]], axis=1))
        with mx.autograd.record():
            output = net(*(mx.np.array(array, dtype=np.float32) for array in inputs))
            scores = head(output) if transformer else output[0]
            value = loss(scores, mx.np.array(labels, dtype=np.float32)).mean()
        value.backward()
        trainer.step(1)


def build_text_model(model: str, out_dir: str, seed: int = 0) -> str:
    """Write ``model`` (epoch 0) into ``out_dir`` as ``HybridBlock.export`` writes it, trained a few steps; return
    its prefix."""
    prefix = os.path.join(out_dir, model)
    with numpy_mode(), mx.name.NameManager():  # the blocks' names do not depend on what was built before
        mx.random.seed(seed)
        net = _network(model)
        net.initialize(mx.init.Xavier())
        net.hybridize()
        _train(model, net, np.random.default_rng(seed))  # the forward that export needs
        with atomic_checkpoint(prefix, 0) as tmp_prefix:
            net.export(tmp_prefix)
    return prefix

