"""Metrics of a jamflow package on held-out corpus sentences (issue 5, docs/training.md "Metrics").

Two tasks (--task a2m|tts|both, default both), each on the first --limit utterances of --split, sampled with the
reference sampler (scripts/jamflow_ref.py: Euler, packed CFG, known write-back, motion normalization):

a2m (audio -> motion, the live path): the whole mel known, the motion unknown, the text dropped unless --with-text.
    r_pooled        Pearson r of mouth opening (lower-lip y minus upper-lip y) over all frames of all utterances
    r_mean          mean of the per-utterance Pearson r
    opening_mae     mean |predicted - true| opening (inter-ocular units)
    closure_recall  share of bilabial phonemes (p, b, m) during which the predicted opening drops below
                    --closure-threshold (min over the frames of the phoneme, shifted by the corpus' 30 ms lead)
    gt_closure_recall  the same on the ground truth (sanity: should be 1.0)

tts (text -> audio + motion): the sentence's text known, no audio (or the first --prompt-s seconds of the reference
mel known, F5 style), the motion unknown; the generated mel has the reference's frame count. The generated mel is
aligned to the espeak-ng reference mel by DTW (cost: mean |log-mel difference| over the 100 bins, steps
(1,0) (0,1) (1,1)), over the frames after the prompt:
    tts_mel_l1      mean over the DTW path of the mean |log-mel difference| (F5/Vocos natural-log amplitude mel)
    tts_mel_l1_diag the same frame by frame without alignment (durations are equal; >= tts_mel_l1)
    tts_mcd         mel-cepstral distortion on the same path, dB: 10 sqrt(2) / ln 10 * sqrt(sum_k (c_k - c'_k)^2),
                    k = 1..13, c = DCT-II of the log-mel scaled as the real cepstrum, c_k = 1/N sum_n
                    logmel_n cos(pi k (n + 1/2) / N) (N = 100 bins; c0, the level, excluded)
    tts_r_pooled, tts_r_mean, tts_opening_mae, tts_closure_recall, tts_gt_closure_recall
                    the a2m motion metrics on the generated motion after time-warping it onto the reference's
                    timeline with the same DTW path (reference motion frame q -> mel frame 3.75 q -> the mean of
                    the generated mel frames the path pairs with it -> generated motion time, linear
                    interpolation), against the ground-truth motion and phoneme times of the reference

Sampler: a teacher package (sampler.guidance_baked false) runs --steps / --schedule / --cfg (default the package's
model.json sampler: 32 steps, sway -1, CFG 2); a student (guidance_baked true) runs its own steps and schedule
with one pass per step (--steps/--schedule/--cfg are ignored). Noise is drawn per utterance and task from --seed,
so a teacher and its student see the same noise. `nfe` = network calls per utterance (= steps, F5's count: the
packed CFG call is one), `passes` = batch rows evaluated (x2 with CFG: the compute ratio between packages);
`*_sampler_rtf` is the PyTorch reference sampler's time / audio duration (--threads; for comparison only).

--onnx MODEL.onnx evaluates the network with ONNX Runtime (CPU provider, --threads intra-op threads) instead of the
PyTorch module: an exported or built graph of the same package (`jamflow export`, `jamflow build --precision
fp32|int8|fp16|w8a16 --target ort-cpu` -> PKG/build/<precision>-ort-cpu/model.onnx). The sampler stays the
reference one (jamflow_ref.sample; only its network call, jamflow_ref.run, is routed to the session), so the noise
and every other setting are the same as without --onnx. "graph" in the output is "pytorch" or the ONNX path, with
"graph_precision" / "graph_target" / "graph_calibration" from the build's manifest.json beside it (null without one,
e.g. `jamflow export`).

--compare TEACHER.json prints (and stores under "vs_teacher") the ratio this/teacher of every numeric metric;
--ratio STUDENT.json TEACHER.json does only that, on two earlier --json outputs.

    .venv/bin/python scripts/eval.py --corpus target/corpus --package target/train/package --limit 50 \\
        --json target/eval-teacher.json
    .venv/bin/python scripts/eval.py --corpus target/corpus --package target/distill/package --limit 50 \\
        --json target/eval-student.json --compare target/eval-teacher.json
    .venv/bin/python scripts/eval.py --corpus target/corpus --package target/train/package --task a2m --limit 50 \\
        --onnx target/train/package/build/int8-ort-cpu/model.onnx --json target/eval-teacher-int8.json \\
        --compare target/eval-teacher.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
import lipsync  # noqa: E402
from heard import formant_warp  # noqa: E402
from train import Corpus, read_wav  # noqa: E402

LEAD_S = 0.030  # src/corpus/articulation.rs Articulator::default().lead
BILABIALS = {"p", "b", "m"}
MCD_K = 13  # mel-cepstral coefficients 1..13
MCD_CONST = 10.0 * math.sqrt(2.0) / math.log(10.0)


# ---------------------------------------------------------------------------------------------------------------
# Metric helpers
# ---------------------------------------------------------------------------------------------------------------


opening, pearson = lipsync.opening, lipsync.pearson


def closures(path: Path, open_pred: np.ndarray, thr: float, fps: float) -> list[bool]:
    with safe_open(str(path), "np") as f:
        names = f.metadata()["phonemes"].split(" ")
        start, end = f.get_tensor("ph_start"), f.get_tensor("ph_end")
    out = []
    n = len(open_pred)
    for name, s, e in zip(names, start, end, strict=True):
        if name not in BILABIALS:
            continue
        j0 = max(0, int(np.ceil((s - LEAD_S) * fps)))
        j1 = min(n - 1, int(np.floor((e - LEAD_S) * fps)))
        if j1 < j0:  # shorter than a frame: the nearest frame
            j0 = j1 = min(n - 1, max(0, round((0.5 * (s + e) - LEAD_S) * fps)))
        out.append(bool(open_pred[j0 : j1 + 1].min() < thr))
    return out


def mel_cepstrum(logmel: np.ndarray, k: int = MCD_K) -> np.ndarray:
    """[T, N] natural-log mel -> [T, k] cepstral coefficients 1..k (DCT-II scaled as the real cepstrum)."""
    n = logmel.shape[1]
    basis = np.cos(np.pi * np.arange(1, k + 1)[:, None] * (np.arange(n)[None, :] + 0.5) / n) / n  # [k, N]
    return logmel.astype(np.float64) @ basis.T


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost monotone path (steps (1,0), (0,1), (1,1)) from (0, 0) to (n-1, m-1): index arrays (i, j)."""
    n, m = cost.shape
    acc = np.full((n + 1, m + 1), np.inf)
    acc[0, 0] = 0.0
    for d in range(2, n + m + 1):  # anti-diagonals i + j = d (1-based), each from the two before it
        i = np.arange(max(1, d - m), min(n, d - 1) + 1)
        j = d - i
        best = np.minimum(np.minimum(acc[i - 1, j - 1], acc[i - 1, j]), acc[i, j - 1])
        acc[i, j] = cost[i - 1, j - 1] + best
    i, j, path = n, m, []
    while i > 0 and j > 0:
        path.append((i - 1, j - 1))
        steps = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])  # ties: the diagonal first
        k = int(np.argmin(steps))
        i, j = (i - 1, j - 1) if k == 0 else (i - 1, j) if k == 1 else (i, j - 1)
    p = np.array(path[::-1])
    return p[:, 0], p[:, 1]


def warp_to_reference(pi: np.ndarray, pj: np.ndarray, n_ref_mel: int, gen: np.ndarray, ratio: float,
                      n_ref_motion: int) -> np.ndarray:
    """Generated per-motion-frame values `gen` resampled onto the reference's motion timeline via a mel DTW path
    (pi: generated mel frame, pj: reference mel frame; every reference frame occurs). ratio = mel frames per
    motion frame (3.75)."""
    tot = np.zeros(n_ref_mel)
    cnt = np.zeros(n_ref_mel)
    np.add.at(tot, pj, pi)
    np.add.at(cnt, pj, 1)
    gen_of_ref = tot / np.maximum(cnt, 1)
    ref_mel_pos = np.arange(n_ref_motion) * ratio
    gen_mel_pos = np.interp(ref_mel_pos, np.arange(n_ref_mel), gen_of_ref)
    return np.interp(gen_mel_pos / ratio, np.arange(len(gen)), gen)


def motion_metrics(preds: list[np.ndarray], trues: list[np.ndarray], closed: list[bool], gt_closed: list[bool],
                   prefix: str = "") -> dict:
    p, t = np.concatenate(preds), np.concatenate(trues)
    return {
        f"{prefix}frames": int(len(p)),
        f"{prefix}r_pooled": pearson(p, t),
        f"{prefix}r_mean": float(np.mean([pearson(a, b) for a, b in zip(preds, trues, strict=True)])),
        f"{prefix}opening_mae": float(np.abs(p - t).mean()),
        f"{prefix}bilabials": len(closed),
        f"{prefix}closure_recall": float(np.mean(closed)) if closed else float("nan"),
        f"{prefix}gt_closure_recall": float(np.mean(gt_closed)) if gt_closed else float("nan"),
    }


# ---------------------------------------------------------------------------------------------------------------
# ONNX Runtime network (--onnx)
# ---------------------------------------------------------------------------------------------------------------


class OnnxNet:
    """An ONNX Runtime session with the network interface of jamflow_ref.run: graph inputs named as in
    src/model/io.rs in, {output name: float32 tensor} out. Only the inputs the graph declares are fed (the sampler
    may prepare more, e.g. motion_known without a known-mask channel), each as the graph's element type."""

    DTYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(bool)": np.bool_}

    def __init__(self, path: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = {}
        for i in self.session.get_inputs():
            if i.type not in self.DTYPES:
                raise ValueError(f"{path}: graph input {i.name} has type {i.type}; expected float, int64 or bool")
            self.inputs[i.name] = self.DTYPES[i.type]
        self.outputs = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs) -> dict[str, torch.Tensor]:
        missing = [k for k in self.inputs if k not in inputs]
        if missing:
            raise ValueError(f"the graph needs inputs {missing} the sampler did not provide (another package?)")
        feed = {}
        for name, dtype in self.inputs.items():
            v = inputs[name]
            v = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
            feed[name] = np.ascontiguousarray(v.astype(dtype, copy=False))
        out = self.session.run(self.outputs, feed)
        return {k: torch.from_numpy(v) for k, v in zip(self.outputs, out, strict=True)}


_torch_run = ref.run


def _run(model, inputs):
    """jamflow_ref.run, or the ONNX session's call when `model` is an OnnxNet."""
    return model(inputs) if isinstance(model, OnnxNet) else _torch_run(model, inputs)


ref.run = _run  # jamflow_ref.sample looks `run` up at call time: the reference sampler drives either network


def graph_info(path: Path, package: Path) -> dict:
    """What --onnx evaluates: the path, and precision / target / calibration from the build's manifest.json
    (jamflow-build/1) when one is beside the graph; a warning when that manifest was built from other weights."""
    info = {"graph": str(path), "graph_precision": None, "graph_target": None, "graph_calibration": None}
    man = path.parent / "manifest.json"
    if not man.exists():
        return info
    m = json.loads(man.read_text())
    info["graph_precision"] = m.get("precision")
    info["graph_target"] = m.get("target")
    cal = m.get("calibration")
    if isinstance(cal, dict):
        info["graph_calibration"] = {k: cal.get(k) for k in ("name", "id", "method") if k in cal}
    elif cal is not None:
        info["graph_calibration"] = cal
    want = m.get("sources") or {}
    for key, fname in (("weights_sha256", "model.safetensors"), ("config_sha256", "model.json")):
        rec = want.get(key) if isinstance(want, dict) else None
        if rec and (package / fname).exists():
            got = hashlib.sha256((package / fname).read_bytes()).hexdigest()
            if got != rec:
                print(f"warning: {man}: built from another {fname} than {package}'s (sha256 {rec[:12]} vs "
                      f"{got[:12]})", file=sys.stderr)
    return info


# ---------------------------------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------------------------------

NOT_METRICS = {"utterances", "seed", "prompt_s", "closure_threshold", "bilabials", "tts_bilabials", "frames",
               "tts_frames", "cfg", "nfe", "noise_scale", "gt_closure_recall", "tts_gt_closure_recall"}


def ratios(this: dict, teacher: dict) -> dict:
    """this / teacher for every numeric metric both have (bools, counts and settings skipped)."""
    out = {}
    for k, v in this.items():
        w = teacher.get(k)
        if k in NOT_METRICS or isinstance(v, bool) or isinstance(w, bool):
            continue
        if isinstance(v, (int, float)) and isinstance(w, (int, float)):
            out[k] = float(v) / float(w) if w != 0 else float("nan")
        elif isinstance(v, (int, float)) and k in teacher and w is None:  # teacher's NaN (e.g. no bilabials)
            out[k] = float("nan")
    return out


def print_ratios(r: dict, this: dict, teacher: dict) -> None:
    for k in ("split", "utterances", "seed", "with_text", "prompt_s", "closure_threshold"):
        if k in this and k in teacher and this[k] != teacher[k]:
            print(f"warning: {k} differs ({this[k]!r} vs teacher {teacher[k]!r}): ratios compare unlike runs",
                  file=sys.stderr)
    print(f"{'metric':<24} {'this':>10} {'teacher':>10} {'ratio':>8}")
    for k, v in r.items():
        t = teacher[k]
        print(f"{k:<24} {float(this[k]):>10.4f} {float('nan') if t is None else float(t):>10.4f} {v:>8.3f}")


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------


def finite(obj):
    """NaN / inf -> None (JSON null), recursively: strict JSON readers (serde_json) reject NaN."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def utt_gen(seed: int, task: int, i: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + task * 100_003 + i)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--package", type=Path)
    ap.add_argument("--task", choices=["a2m", "tts", "both"], default="both")
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=20, help="first N utterances of the split (0 = all)")
    ap.add_argument("--steps", type=int, help="teacher: Euler steps (default the package's, 32)")
    ap.add_argument("--schedule", choices=["sway", "uniform"], help="teacher: time grid (default the package's)")
    ap.add_argument("--cfg", type=float, help="teacher: CFG strength (default the package's, 2.0)")
    ap.add_argument("--noise-scale", type=float, default=None,
                    help="scale of the motion's initial noise (default: the package's sampler.noise_scale, else 1: "
                    "the flow's prior; lower: closer to the mean answer)")
    ap.add_argument("--with-text", action="store_true", help="a2m: give the sentence too (default: audio only)")
    ap.add_argument("--prompt-s", type=float, default=0.0,
                    help="tts: seconds of the reference mel given as a known prefix (F5 style; default none); "
                    "mel metrics exclude it")
    ap.add_argument("--formant-warp", type=float, default=None, metavar="FACTOR",
                    help="a2m: hear every utterance with its frequencies scaled by FACTOR (train.py formant_warp: a "
                         "longer (< 1) or shorter (> 1) vocal tract), to probe how the model depends on the voice's")
    ap.add_argument("--closure-threshold", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--onnx", type=Path, metavar="MODEL_ONNX",
                    help="run the network with ONNX Runtime (CPU, --threads) on this graph of the package "
                    "(e.g. PKG/build/int8-ort-cpu/model.onnx) instead of the PyTorch module")
    ap.add_argument("--json", type=Path, help="also write the metrics here")
    ap.add_argument("--compare", type=Path, metavar="TEACHER_JSON",
                    help="print the ratio of each metric to this earlier --json output (e.g. student / teacher)")
    ap.add_argument("--ratio", type=Path, nargs=2, metavar=("STUDENT_JSON", "TEACHER_JSON"),
                    help="only print the ratios of two earlier --json outputs")
    ap.add_argument("--dump", type=Path, help="write the first a2m utterance's sampler request (request.safetensors, "
                    "`jamflow sample --inputs` names) and the reference result (expected.safetensors) here")
    args = ap.parse_args()
    if args.ratio:
        this, teacher = (json.loads(p.read_text()) for p in args.ratio)
        print_ratios(ratios(this, teacher), this, teacher)
        return
    if args.corpus is None or args.package is None:
        ap.error("--corpus and --package are required (unless --ratio)")
    torch.set_num_threads(args.threads)

    raw = ref.read_config(args.package)
    vocab = ref.read_vocab(args.package, raw)
    if args.onnx is not None:
        if not args.onnx.is_file():
            sys.exit(f"{args.onnx}: no such ONNX graph (jamflow export / jamflow build writes it)")
        model = OnnxNet(args.onnx, args.threads)
    else:
        _, model = ref.load_package(args.package)
    cfg = ref.normalize_config(raw)
    fps = cfg["motion"]["fps"]
    ratio = ref.mel_rate(cfg) / fps
    sampler = cfg["sampler"]
    baked = bool(sampler["guidance_baked"])
    if baked:
        if args.steps is not None or args.schedule is not None or args.cfg is not None:
            print("note: guidance-baked student: --steps/--schedule/--cfg ignored, the package's sampler runs",
                  file=sys.stderr)
        steps, cfg_strength = sampler["steps"], 0.0
        t_list = ref.schedule_from_config(sampler["schedule"], steps)
        sched_name = sampler["schedule"]["kind"]
    else:
        steps = args.steps if args.steps is not None else sampler["steps"]
        cfg_strength = args.cfg if args.cfg is not None else sampler["cfg_strength"]
        if args.schedule is not None:
            sched_name = args.schedule
            t_list = ref.schedule(args.schedule, steps, -1.0 if args.schedule == "sway" else None)
        else:
            sched_name = sampler["schedule"]["kind"]
            t_list = ref.schedule_from_config(sampler["schedule"], steps)
    steps = len(t_list) - 1
    rows = 2 if cfg_strength != 0 and not baked else 1
    if args.noise_scale is None:  # the package's, as `jamflow sample` draws it (src/sampler.rs)
        args.noise_scale = float(sampler["noise_scale"])

    data = Corpus(args.corpus, args.split, vocab, raw)  # durations packages: per-frame phonemes (train.py)
    n = len(data) if args.limit == 0 else min(args.limit, len(data))
    metrics = {
        "package": str(args.package),
        **(graph_info(args.onnx, args.package) if args.onnx is not None else {"graph": "pytorch"}),
        "split": args.split,
        "utterances": n,
        "steps": steps,
        "schedule": sched_name,
        "cfg": cfg_strength,
        "guidance_baked": baked,
        "nfe": steps,
        "noise_scale": args.noise_scale,
        "passes": steps * rows,
        "seed": args.seed,
        "closure_threshold": args.closure_threshold,
    }
    tasks = ["a2m", "tts"] if args.task == "both" else [args.task]

    for i in range(n):  # shapes first: a corpus/model mismatch fails before any sampling
        f = ref.motion_frames_for(cfg, data.mel[i].shape[0])
        if f != data.motion[i].shape[0]:
            sys.exit(f"{data.utts[i]['motion']}: {data.motion[i].shape[0]} motion frames, the model expects {f}")

    if "a2m" in tasks:
        metrics["with_text"] = args.with_text
        metrics["formant_warp"] = args.formant_warp
        preds, trues, closed, gt_closed, secs, dur = [], [], [], [], 0.0, 0.0
        envs, spans = [], []
        for i in range(n):
            mel, gt = data.mel[i].float(), data.motion[i].numpy()
            if args.formant_warp is not None:
                mel = formant_warp(mel, args.formant_warp)
            f = gt.shape[0]
            envs.append(lipsync.envelope(read_wav(args.corpus / data.utts[i]["wav"]), ref.SAMPLE_RATE, f, fps))
            spans.append(lipsync.phone_spans(args.corpus / data.utts[i]["motion"], f, fps))
            gen = utt_gen(args.seed, 0, i)
            text = data.text[i] if args.with_text else torch.full((1,), -1, dtype=torch.long)
            inputs = ref.request(cfg, mel, torch.ones(mel.shape[0], dtype=torch.bool), text, f, gen, args.noise_scale)
            t0 = time.perf_counter()
            result = ref.sample(model, cfg, inputs, t_list, cfg_strength)
            secs += time.perf_counter() - t0
            dur += mel.shape[0] / ref.mel_rate(cfg)
            if args.dump and i == 0:
                args.dump.mkdir(parents=True, exist_ok=True)
                save_file({k: v.contiguous() for k, v in inputs.items()}, str(args.dump / "request.safetensors"))
                save_file({k: v.contiguous() for k, v in result.items()}, str(args.dump / "expected.safetensors"))
            op, ot = opening(result["motion"].numpy()), opening(gt)
            preds.append(op)
            trues.append(ot)
            path = args.corpus / data.utts[i]["motion"]
            closed += closures(path, op, args.closure_threshold, fps)
            gt_closed += closures(path, ot, args.closure_threshold, fps)
        metrics.update(motion_metrics(preds, trues, closed, gt_closed))
        metrics["sampler_rtf"] = secs / dur
        rep = lipsync.report(data.utts[:n], preds, trues, envs, spans, args.closure_threshold)
        metrics["lipsync"] = rep
        lipsync.print_report(rep)

    if "tts" in tasks:
        metrics["prompt_s"] = args.prompt_s
        preds, trues, closed, gt_closed, secs, dur = [], [], [], [], 0.0, 0.0
        l1_sum = l1_n = mcd_sum = diag_sum = diag_n = 0.0
        for i in range(n):
            mel, gt = data.mel[i].float(), data.motion[i].numpy()
            t_mel, f = mel.shape[0], gt.shape[0]
            p = min(max(0, round(args.prompt_s * ref.mel_rate(cfg))), t_mel - 1)
            known = torch.zeros(t_mel, dtype=torch.bool)
            known[:p] = True
            gen = utt_gen(args.seed, 1, i)
            inputs = ref.request(cfg, mel, known, data.text[i], f, gen, args.noise_scale)
            t0 = time.perf_counter()
            result = ref.sample(model, cfg, inputs, t_list, cfg_strength)
            secs += time.perf_counter() - t0
            dur += t_mel / ref.mel_rate(cfg)
            g, r = result["mel"].numpy()[p:].astype(np.float64), mel.numpy()[p:].astype(np.float64)
            cost = np.abs(g[:, None, :] - r[None, :, :]).mean(-1)  # [Tg, Tr]
            pi, pj = dtw(cost)
            l1_sum += cost[pi, pj].sum()
            l1_n += len(pi)
            cg, cr = mel_cepstrum(g), mel_cepstrum(r)
            mcd_sum += MCD_CONST * np.sqrt(((cg[pi] - cr[pj]) ** 2).sum(-1)).sum()
            diag_sum += np.abs(g - r).mean(-1).sum()
            diag_n += len(g)
            # full-utterance path: the prompt frames pair with themselves
            pi_all = np.concatenate([np.arange(p), pi + p])
            pj_all = np.concatenate([np.arange(p), pj + p])
            op = warp_to_reference(pi_all, pj_all, t_mel, opening(result["motion"].numpy()), ratio, f)
            ot = opening(gt)
            preds.append(op)
            trues.append(ot)
            path = args.corpus / data.utts[i]["motion"]
            closed += closures(path, op, args.closure_threshold, fps)
            gt_closed += closures(path, ot, args.closure_threshold, fps)
        metrics["tts_mel_l1"] = l1_sum / l1_n
        metrics["tts_mel_l1_diag"] = diag_sum / diag_n
        metrics["tts_mcd"] = mcd_sum / l1_n
        metrics.update(motion_metrics(preds, trues, closed, gt_closed, prefix="tts_"))
        metrics["tts_sampler_rtf"] = secs / dur

    if args.compare:
        teacher = json.loads(args.compare.read_text())
        r = ratios(metrics, teacher)
        metrics["vs_teacher"] = {"json": str(args.compare), **r}
    print(json.dumps(finite(metrics), indent=2))
    if args.compare:
        print_ratios(r, metrics, teacher)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(finite(metrics), indent=2) + "\n")


if __name__ == "__main__":
    main()
