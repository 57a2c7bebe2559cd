"""What an audio -> motion training row hears, drawn anew each time it is drawn (train.py --augment, --formant-warp;
distill.py the same): recording conditions on the waveform, a vocal-tract length on the mel."""

from __future__ import annotations

import numpy as np
import torch
from jamflow_ref import SAMPLE_RATE

# On-the-fly recording conditions (train.py --augment): the held-out eval's noisy and reverberant copies are made
# by scripts/corpus_augment.py with pyroomacoustics rooms and 5-20 dB noise; here cheaper stand-ins of the same kinds,
# drawn anew each time, at a wider spread (0-30 dB, RT60 0.15-1.0 s).


def recording_conditions(x: np.ndarray, rng: np.random.Generator, other) -> np.ndarray:
    """x (float mono at SAMPLE_RATE) through a random room (exponentially decaying noise tail after the direct path,
    which keeps the phone timings), additive noise (white, pink, or babble of 2-4 other utterances from `other()`)
    at 0-30 dB SNR against the active speech level, and a random peak level of -35..-1 dBFS."""
    n = len(x)
    y = x.astype(np.float64)
    if rng.random() < 0.5:
        rt60 = rng.uniform(0.15, 1.0)
        t = np.arange(int(rt60 * SAMPLE_RATE)) / SAMPLE_RATE
        h = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60) * rng.uniform(0.1, 0.5)
        h[0] = 1.0
        y = np.fft.irfft(np.fft.rfft(y, n + len(h)) * np.fft.rfft(h, n + len(h)), n + len(h))[:n]
    if rng.random() < 0.8:
        kind = rng.integers(3)
        if kind == 0:
            z = rng.standard_normal(n)
        elif kind == 1:
            f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
            z = np.fft.irfft((rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f)))
                             / np.sqrt(np.maximum(f, 20.0)), n)
        else:
            z = np.zeros(n)
            for _ in range(int(rng.integers(2, 5))):
                b = other()
                b = np.roll(np.tile(b, 1 + n // max(len(b), 1)), -int(rng.integers(max(len(b), 1))))[:n]
                z += b / (np.sqrt(np.mean(b ** 2)) + 1e-9)
        frames = y[: n // 240 * 240].reshape(-1, 240)
        rms = np.sqrt(np.mean(frames ** 2, axis=1)) if len(frames) else np.array([1e-3])
        active = rms[rms > rms.max() * 0.01]
        level = np.sqrt(np.mean(active ** 2)) if len(active) else 1e-3
        y = y + z / (np.sqrt(np.mean(z ** 2)) + 1e-12) * level / 10 ** (rng.uniform(0.0, 30.0) / 20)
    y = y / (np.max(np.abs(y)) + 1e-9) * 10 ** (rng.uniform(-35.0, -1.0) / 20)
    return y.astype(np.float32)


# On-the-fly vocal-tract length (train.py --formant-warp): the training voices are male or synthetic, and the
# held-out HTS voice (festival:slt, a woman's) is where the lips failed most (docs/training.md). Every frequency of a
# row's log-mel is scaled by one drawn factor (VTLP: formants and harmonics together), as a shorter or longer vocal
# tract would; drawn in log space over FORMANT_WARP_RANGE.
FORMANT_WARP_RANGE = (0.9, 1.3)


def hz_to_mel(f):
    """HTK mel scale, the one Vocos' (F5's) mel filterbank uses."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def formant_warp(mel: torch.Tensor, alpha: float, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """mel [T, n_mels] (log magnitude, HTK filters over 0..sample_rate/2) with every frequency scaled by alpha: bin
    k takes the (linearly interpolated) value at frequency f_k / alpha, clamped to the first and last bins."""
    n = mel.shape[1]
    top = hz_to_mel(sample_rate / 2)
    centers = mel_to_hz(np.linspace(0.0, top, n + 2)[1:-1])  # [n_mels] filter centres, Hz
    src = np.interp(hz_to_mel(centers / alpha), hz_to_mel(centers), np.arange(n))  # fractional source bins
    lo = np.floor(src).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    w = torch.from_numpy(src - lo).to(mel.dtype)  # [n_mels]
    return mel[:, lo] * (1 - w) + mel[:, hi] * w  # [T, n_mels]
