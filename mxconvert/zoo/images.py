"""Natural-looking sample images for the zoo's builders, tests and benchmarks (numpy only: no MXNet import)."""
from __future__ import annotations

import numpy as np

# Photos have amplitude ~ 1/f; a steeper slope stands in for lens blur and antialiased downscaling.
SPECTRUM_EXPONENT = 1.5
IMAGENET_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32).reshape(1, 3, 1, 1)


def sample_images(n: int, size: int, seed: int) -> np.ndarray:
    """``n`` natural-looking RGB images, float32 NCHW with values in 0..255: 1/f noise, a gradient, blobs."""
    rng = np.random.default_rng(seed)
    return np.stack([_natural_image(size, rng) for _ in range(n)]).astype(np.float32)


def imagenet_normalise(images: np.ndarray) -> np.ndarray:
    """0..255 images standardised with the ImageNet channel mean and std, as Gluon models expect."""
    return (images - IMAGENET_MEAN) / IMAGENET_STD


def _natural_image(size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / size
    fields = _pink_noise(3, size, rng)
    image = fields[0] + 0.4 * np.einsum("ck,khw->chw", rng.normal(size=(3, 2)), fields[1:])
    angle = rng.uniform(0, 2 * np.pi)
    image += rng.normal(size=(3, 1, 1)) * 2 * (np.cos(angle) * xx + np.sin(angle) * yy)
    for _ in range(rng.integers(1, 5)):
        cy, cx = rng.uniform(size=2)
        radius = rng.uniform(0.05, 0.3)
        image += rng.normal(0, 1.5, size=(3, 1, 1)) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
    low, high = np.percentile(image, [1, 99])
    black, white = rng.uniform(0, 60), rng.uniform(190, 255)
    return np.clip((image - low) / (high - low) * (white - black) + black, 0, 255)


def _pink_noise(count: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit-variance fields with a natural-image-like power-law amplitude spectrum."""
    frequency = np.hypot(np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :])
    amplitude = np.maximum(frequency, 1 / size) ** -SPECTRUM_EXPONENT
    shape = (count, size, size // 2 + 1)
    fields = np.fft.irfft2((rng.normal(size=shape) + 1j * rng.normal(size=shape)) * amplitude, s=(size, size))
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    return fields / fields.std(axis=(1, 2), keepdims=True)
