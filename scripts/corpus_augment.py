#!/usr/bin/env python3
"""Recording-condition augmentation for the corpus (docs/corpus.md), called by `jamflow corpus make`.

Reads JSON lines on stdin, one job each (drawn by the Rust side from the corpus seed, so the corpus is
reproducible; the job's own `seed` drives every random draw here):
    {"in": CLEAN.wav, "out": OUT.wav, "seed": 7, "rate": 24000,
     "tempo": 1.1, "pitch": 2.0, "formant": 1.08,            # time-stretch, semitones, vocal-tract length ratio
     "room": {"rt60": 0.5, "dims": [5, 4, 3]} | null,       # simulated room (pyroomacoustics image sources)
     "eq": "none" | "telephone" | "usb" | "lowpass",
     "noise": {"kind": "white" | "pink" | "babble", "snr_db": 12, "babble": [WAV, ...]} | null,
     "source_rate": 8000 | 16000 | 24000 | 44100 | 48000,     # the rate it was "recorded" at
     "level_dbfs": -20, "clip_db": 0 | 6,                     # peak level; drive past full scale, then clip
     "codec": null | "opus" | "mp3", "bitrate_k": 24}
and writes OUT.wav (mono 16-bit PCM at `rate`), printing {"out": OUT.wav, "samples": N} per job. Times in the
output are the input's times divided by `tempo` (the Rust side scales the phone timeline the same way): pitch,
formant, reverberation (direct path at delay 0), noise, EQ and codecs keep them.
"""
import json
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
from scipy import signal


def read_wav(path: str) -> tuple[np.ndarray, int]:
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"corpus_augment: {path}: expected 16-bit PCM")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            x = x.reshape(-1, w.getnchannels()).mean(axis=1)
        return x, w.getframerate()


def write_wav(path: str, x: np.ndarray, rate: int) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def ffmpeg(x: np.ndarray, rate: int, filters: str | None = None, fmt: str | None = None,
           bitrate_k: int = 32) -> np.ndarray:
    """Run `x` through ffmpeg: an audio filter chain, or an encode -> decode round trip in `fmt`."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = f"{d}/in.wav", f"{d}/out.wav"
        write_wav(src, x, rate)
        base = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
        if filters:
            subprocess.run(base + ["-i", src, "-af", filters, "-ar", str(rate), dst], check=True, stdin=subprocess.DEVNULL)
        else:
            enc = f"{d}/enc.{ 'ogg' if fmt == 'opus' else 'mp3'}"
            codec = ["-c:a", "libopus"] if fmt == "opus" else ["-c:a", "libmp3lame"]
            subprocess.run(base + ["-i", src] + codec + ["-b:a", f"{bitrate_k}k", enc], check=True, stdin=subprocess.DEVNULL)
            subprocess.run(base + ["-i", enc, "-ac", "1", "-ar", str(rate), dst], check=True, stdin=subprocess.DEVNULL)
        y, r = read_wav(dst)
        assert r == rate
        return y


def fit(y: np.ndarray, n: int) -> np.ndarray:
    return y[:n] if len(y) >= n else np.pad(y, (0, n - len(y)))


def stretch(x: np.ndarray, rate: int, tempo: float, pitch: float, formant: float) -> np.ndarray:
    """Formant (vocal-tract) shift by resampling, then rubberband restores pitch and sets tempo and pitch."""
    if tempo == 1.0 and pitch == 0.0 and formant == 1.0:
        return x
    a = formant
    p = 2.0 ** (pitch / 12.0)
    chain = []
    if a != 1.0:
        chain.append(f"asetrate={rate * a:.3f},aresample={rate}")
    chain.append(f"rubberband=tempo={tempo / a:.5f}:pitch={p / a:.5f}:formant=preserved")
    y = ffmpeg(x, rate, ",".join(chain))
    return fit(y, int(round(len(x) / tempo)))


def room(x: np.ndarray, rate: int, spec: dict, rng: np.random.Generator) -> np.ndarray:
    import pyroomacoustics as pra
    dims = np.array(spec["dims"], dtype=float)
    absorption, max_order = pra.inverse_sabine(float(spec["rt60"]), dims)
    r = pra.ShoeBox(dims, fs=rate, materials=pra.Material(absorption), max_order=min(max_order, 10))
    src = rng.uniform(0.5, dims - 0.5)
    mic = rng.uniform(0.5, dims - 0.5)
    r.add_source(src)
    r.add_microphone(mic)
    r.compute_rir()
    h = np.asarray(r.rir[0][0], dtype=np.float64)
    h = h[int(np.argmax(np.abs(h))):]  # direct path at delay 0: timings unchanged
    y = signal.fftconvolve(x, h)[: len(x)]
    return (y / (np.max(np.abs(y)) + 1e-9) * np.max(np.abs(x))).astype(np.float32)


def eq(x: np.ndarray, rate: int, kind: str) -> np.ndarray:
    if kind == "none":
        return x
    if kind == "telephone":
        sos = signal.butter(4, [300, 3400], btype="bandpass", fs=rate, output="sos")
        return signal.sosfilt(sos, x).astype(np.float32)
    if kind == "lowpass":
        sos = signal.butter(6, 4000, btype="lowpass", fs=rate, output="sos")
        return signal.sosfilt(sos, x).astype(np.float32)
    if kind == "usb":  # cheap USB microphone: no lows, a presence peak, a dull top
        y = signal.sosfilt(signal.butter(2, 150, btype="highpass", fs=rate, output="sos"), x)
        peak = signal.sosfilt(signal.butter(2, [3000, 5000], btype="bandpass", fs=rate, output="sos"), y)
        y = y + 1.0 * peak
        y = signal.sosfilt(signal.butter(4, min(9000, rate / 2 - 100), btype="lowpass", fs=rate, output="sos"), y)
        return y.astype(np.float32)
    raise SystemExit(f"corpus_augment: eq {kind!r}: expected none, telephone, usb or lowpass")


def noise(x: np.ndarray, rate: int, spec: dict, rng: np.random.Generator) -> np.ndarray:
    n = len(x)
    kind = spec["kind"]
    if kind == "white":
        z = rng.standard_normal(n)
    elif kind == "pink":
        f = np.fft.rfftfreq(n, 1.0 / rate)
        spec_ = (rng.standard_normal(len(f)) + 1j * rng.standard_normal(len(f))) / np.sqrt(np.maximum(f, 20.0))
        z = np.fft.irfft(spec_, n)
    elif kind == "babble":
        z = np.zeros(n)
        for p in spec["babble"]:
            b, r = read_wav(p)
            if r != rate:
                b = signal.resample_poly(b, rate, r)
            b = np.tile(b, int(np.ceil(n / max(len(b), 1))) + 1)
            off = int(rng.integers(0, max(len(b) - n, 1)))
            seg = b[off: off + n]
            z += seg / (np.sqrt(np.mean(seg ** 2)) + 1e-9)
    else:
        raise SystemExit(f"corpus_augment: noise kind {kind!r}: expected white, pink or babble")
    # SNR against the speech's active level (frames above -40 dB of its peak RMS).
    frames = x[: n // 240 * 240].reshape(-1, 240)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    active = rms[rms > rms.max() * 0.01] if len(rms) else np.array([1e-3])
    s_level = np.sqrt(np.mean(active ** 2))
    z = z / (np.sqrt(np.mean(z ** 2)) + 1e-12) * s_level / (10 ** (spec["snr_db"] / 20))
    return (x + z).astype(np.float32)


def job(j: dict) -> int:
    rng = np.random.default_rng(int(j["seed"]))
    x, r = read_wav(j["in"])
    rate = int(j.get("rate", 24000))
    if r != rate:
        x = signal.resample_poly(x, rate, r).astype(np.float32)
    x = stretch(x, rate, float(j.get("tempo", 1.0)), float(j.get("pitch", 0.0)), float(j.get("formant", 1.0)))
    n = len(x)
    if j.get("room"):
        x = room(x, rate, j["room"], rng)
    x = eq(x, rate, j.get("eq", "none"))
    if j.get("noise"):
        x = noise(x, rate, j["noise"], rng)
    src = int(j.get("source_rate", rate))
    if src != rate:  # recorded at another rate: its band limit and resampler
        g = np.gcd(src, rate)
        x = signal.resample_poly(signal.resample_poly(x, src // g, rate // g), rate // g, src // g)[:n]
    x = x / (np.max(np.abs(x)) + 1e-9) * 10 ** (float(j.get("level_dbfs", -3.0)) / 20)
    clip_db = float(j.get("clip_db", 0.0))
    if clip_db > 0:
        x = np.clip(x * 10 ** (clip_db / 20), -1.0, 1.0)
    if j.get("codec"):
        x = fit(ffmpeg(x.astype(np.float32), rate, fmt=j["codec"], bitrate_k=int(j.get("bitrate_k", 32))), n)
    x = fit(np.asarray(x, dtype=np.float32), n)
    write_wav(j["out"], x, rate)
    return n


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            try:
                j = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"corpus_augment: bad job line {line!r}: {e}")
            n = job(j)
            print(json.dumps({"out": j["out"], "samples": n}), flush=True)


if __name__ == "__main__":
    main()
