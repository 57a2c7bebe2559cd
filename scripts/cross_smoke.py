"""Fixtures and comparisons for the emulated aarch64 smoke run of scripts/cross.sh.

  cross_smoke.py request OUT.safetensors          the audio -> motion request `jamflow sample` runs on both builds
  cross_smoke.py compare A.safetensors B.safetensors [--rel 1e-4]
                                                   every tensor of A and B: same names, shapes and dtypes, and
                                                   ||a - b|| / ||a|| <= rel (exit 1 otherwise)
  cross_smoke.py wav OUT.wav SECONDS               a deterministic speech-like 24 kHz mono PCM16 WAV (jamflowd --wav)
"""

import argparse
import math
import struct
import sys
import wave

import numpy as np
from safetensors.numpy import load_file, save_file

# The request: 195 mel frames (24 kHz / hop 256 = 93.75 frames/s: 2.08 s) are exactly 52 motion frames at 25 fps;
# `jamflow sample` refuses any other motion length and names the one it expects. 12 = the mouth4-2d layout's width
# (the shipped packages). The mel is a fixed smooth pattern in the log-mel range (no randomness: both builds read
# the same file; the sampler's noise comes from jamflow's own seeded generator).
MEL_FRAMES, MEL_BINS, MOTION_FRAMES, MOTION_DIM = 195, 100, 52, 12


def request(out):
    t = np.arange(MEL_FRAMES, dtype=np.float64)[:, None]
    b = np.arange(MEL_BINS, dtype=np.float64)[None, :]
    envelope = 0.5 + 0.5 * np.sin(2 * math.pi * t / 23.0)  # syllable-rate loudness
    mel = -7.0 + 4.0 * envelope * np.exp(-b / 40.0) + 0.5 * np.cos(2 * math.pi * b / 17.0 + t / 9.0)
    save_file(
        {
            "cond_mel": mel.astype(np.float32),
            "mel_known": np.ones(MEL_FRAMES, dtype=bool),
            "text": np.zeros(0, dtype=np.int64),
            "cond_motion": np.zeros((MOTION_FRAMES, MOTION_DIM), dtype=np.float32),
            "motion_known": np.zeros(MOTION_FRAMES, dtype=bool),
        },
        out,
    )


def compare(a_path, b_path, rel):
    a, b = load_file(a_path), load_file(b_path)
    if sorted(a) != sorted(b):
        sys.exit(f"{b_path}: tensors {sorted(b)}, expected {sorted(a)} (as in {a_path})")
    worst = 0.0
    for name in sorted(a):
        x, y = a[name], b[name]
        if x.shape != y.shape or x.dtype != y.dtype:
            sys.exit(f"{name}: {y.dtype}{list(y.shape)} in {b_path}, {x.dtype}{list(x.shape)} in {a_path}")
        if x.dtype.kind == "f":
            if not (np.isfinite(x).all() and np.isfinite(y).all()):
                sys.exit(f"{name}: non-finite values")
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            norm = np.linalg.norm(x64)
            r = float(np.linalg.norm(x64 - y64) / norm) if norm > 0 else float(np.abs(y64).max(initial=0.0))
            peak = float(np.abs(x64 - y64).max(initial=0.0) / max(np.abs(x64).max(initial=0.0), 1e-30))
            print(f"{name} {list(x.shape)}: rel_rms {r:.3e}, rel_max {peak:.3e}")
            worst = max(worst, r)
        elif not np.array_equal(x, y):
            sys.exit(f"{name}: differs")
    if worst > rel:
        sys.exit(f"relative difference {worst:.3e} > {rel:g}")
    print(f"equal within {rel:g} relative (worst {worst:.3e})")


def wav(out, seconds):
    rate = 24_000
    n = int(seconds * rate)
    frames = bytearray()
    for i in range(n):
        s = i / rate
        # A 140 Hz voice with two formants, opened and closed at ~4 syllables per second.
        env = max(0.0, math.sin(2 * math.pi * 2.0 * s)) ** 2
        v = sum(math.sin(2 * math.pi * f * s) / k for k, f in enumerate((140.0, 700.0, 1200.0), 1))
        frames += struct.pack("<h", int(max(-1.0, min(1.0, 0.3 * env * v)) * 32767))
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("request")
    r.add_argument("out")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--rel", type=float, default=1e-4)
    w = sub.add_parser("wav")
    w.add_argument("out")
    w.add_argument("seconds", type=float)
    a = p.parse_args()
    if a.cmd == "request":
        request(a.out)
    elif a.cmd == "compare":
        compare(a.a, a.b, a.rel)
    else:
        wav(a.out, a.seconds)


if __name__ == "__main__":
    main()
