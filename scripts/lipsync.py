"""Lip-sync metrics that can tell a model from a level meter (docs/training.md "Metrics"), shared by
scripts/eval.py (the offline sampler) and scripts/eval_live.py (jamflowd's chunked live path).

For each utterance: the predicted and true mouth opening per motion frame (lower-lip y minus upper-lip y,
inter-ocular units) and the phone timeline of the corpus motion file (eSpeak names; docs/corpus.md). Metrics:

    r_pooled, r_mean     Pearson r of opening, pooled over all frames / mean per utterance
    opening_mae          mean |predicted - true| opening
    closure_recall       share of p/b/m phones during which the opening drops below the threshold
    false_closure_open   share of open-vowel phones (the jaw-open vowels of the articulation table) whose mean
                         opening is below the threshold: a mouth shut where it should be open
    bilabial_open_ratio  mean opening over bilabial frames / mean opening over open-vowel frames (truth: 0)
    p95, p95_ratio       95th percentile of the opening, and its ratio to the truth's (scale: a model that
                         follows the timing but barely opens the mouth has r high and p95_ratio low)

The baseline is a loudness envelope: log-RMS of the same audio in each motion frame's 40 ms, smoothed over 3
frames, mapped to an opening by the least-squares line against the truth of the same frames (clipped at 0):
the best any level meter can do, scale included.
"""
from __future__ import annotations

import sys

import numpy as np
from safetensors import safe_open

LEAD_S = 0.030  # src/corpus/articulation.rs Articulator::default().lead
BILABIALS = {"p", "b", "m"}
# eSpeak names with jaw opening >= 0.6 in src/corpus/articulation.rs (diphthongs that start open included).
OPEN_VOWELS = {"a", "a#", "&", "aa", "A:", "A@", "A", "V", "0", "O:", "O@", "O", "O2", "o@", "aI", "aU", "aI@",
               "aI3", "aU@"}
UPPER_Y, LOWER_Y = 1, 4  # mouth4-2d: [upper xyz, lower xyz, left xyz, right xyz]


def opening(m: np.ndarray) -> np.ndarray:
    return m[:, LOWER_Y] - m[:, UPPER_Y]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


def phone_spans(path, n: int, fps: float) -> list[tuple[str, int, int]]:
    """(name, first frame, last frame) of every phone of a corpus motion file, shifted by the lips' lead."""
    with safe_open(str(path), "np") as f:
        names = f.metadata()["phonemes"].split(" ")
        start, end = f.get_tensor("ph_start"), f.get_tensor("ph_end")
    out = []
    for name, s, e in zip(names, start, end, strict=True):
        j0 = max(0, int(np.ceil((s - LEAD_S) * fps)))
        j1 = min(n - 1, int(np.floor((e - LEAD_S) * fps)))
        if j1 < j0:  # shorter than a frame: the nearest frame
            j0 = j1 = min(n - 1, max(0, round((0.5 * (s + e) - LEAD_S) * fps)))
        out.append((name, j0, j1))
    return out


def envelope(audio: np.ndarray, rate: int, n: int, fps: float) -> np.ndarray:
    """Smoothed log-RMS of `audio` at each of `n` motion frames (frame j covers [j, j + 1) / fps)."""
    hop = rate / fps
    out = np.empty(n)
    for j in range(n):
        seg = audio[int(j * hop): int((j + 1) * hop)]
        out[j] = np.log(np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-4) if len(seg) else np.log(1e-4)
    return np.convolve(np.pad(out, 1, mode="edge"), np.ones(3) / 3, mode="valid")


def fit_envelope(envs: list[np.ndarray], trues: list[np.ndarray]) -> list[np.ndarray]:
    """The loudness baseline: one least-squares line envelope -> opening over all frames, clipped at 0."""
    x, y = np.concatenate(envs), np.concatenate(trues)
    a, b = np.polyfit(x, y, 1) if np.ptp(x) > 0 else (0.0, float(y.mean()))
    return [np.maximum(a * e + b, 0.0) for e in envs]


def metrics(preds: list[np.ndarray], trues: list[np.ndarray], spans: list[list], thr: float) -> dict:
    p, t = np.concatenate(preds), np.concatenate(trues)
    closed, false_closed, bil, opn = [], [], [], []
    for op, sp in zip(preds, spans, strict=True):
        for name, j0, j1 in sp:
            seg = op[j0: j1 + 1]
            if name in BILABIALS:
                closed.append(bool(seg.min() < thr))
                bil.append(seg)
            elif name in OPEN_VOWELS:
                false_closed.append(bool(seg.mean() < thr))
                opn.append(seg)
    mean_bil = float(np.concatenate(bil).mean()) if bil else float("nan")
    mean_open = float(np.concatenate(opn).mean()) if opn else float("nan")
    p95, t95 = float(np.percentile(p, 95)), float(np.percentile(t, 95))
    return {
        "frames": int(len(p)),
        "r_pooled": pearson(p, t),
        "r_mean": float(np.mean([pearson(a, b) for a, b in zip(preds, trues, strict=True)])),
        "opening_mae": float(np.abs(p - t).mean()),
        "bilabials": len(closed),
        "closure_recall": float(np.mean(closed)) if closed else float("nan"),
        "open_vowels": len(false_closed),
        "false_closure_open": float(np.mean(false_closed)) if false_closed else float("nan"),
        "bilabial_open_ratio": mean_bil / mean_open if mean_open > 0 else float("nan"),
        "p95": p95,
        "p95_ratio": p95 / t95 if t95 > 0 else float("nan"),
    }


def group_key(u: dict) -> str:
    """`family/condition` of a manifest utterance (v1 corpora: espeak-ng, clean)."""
    return f"{u.get('family') or 'espeak:' + u['voice'].split('+')[0]}/{u.get('condition', 'clean')}"


def report(utts: list[dict], preds, trues, envs, spans, thr: float) -> dict:
    """Model and loudness-baseline metrics, overall, per family/condition, and for the held-out voices."""
    base = fit_envelope(envs, trues)
    groups: dict[str, list[int]] = {}
    for i, u in enumerate(utts):
        groups.setdefault(group_key(u), []).append(i)
        held = "held_out" if u.get("held_out") else "held_in"
        groups.setdefault(f"{held}/{u.get('condition', 'clean')}", []).append(i)

    def both(idx: list[int]) -> dict:
        pick = lambda xs: [xs[i] for i in idx]  # noqa: E731
        m = metrics(pick(preds), pick(trues), pick(spans), thr)
        b = metrics(pick(base), pick(trues), pick(spans), thr)
        g = metrics(pick(trues), pick(trues), pick(spans), thr)
        return {"utterances": len(idx), "model": m, "baseline": b, "truth": g,
                "r_over_baseline": m["r_pooled"] - b["r_pooled"]}

    return {"all": both(list(range(len(utts)))), **{k: both(v) for k, v in sorted(groups.items())}}


def print_report(rep: dict, file=sys.stderr) -> None:
    keys = ["r_pooled", "closure_recall", "false_closure_open", "bilabial_open_ratio", "p95_ratio"]
    head = f"{'group':34} {'n':>4} " + " ".join(f"{k[:14]:>14}" for k in keys)
    print(head + "\n" + "-" * len(head), file=file)
    for g, v in rep.items():
        m, b = v["model"], v["baseline"]
        cells = " ".join(f"{m[k]:6.3f} ({b[k]:5.2f})" for k in keys)
        print(f"{g:34} {v['utterances']:4d} {cells}", file=file)
    print("model (loudness-envelope baseline) on the same frames and truth", file=file)
