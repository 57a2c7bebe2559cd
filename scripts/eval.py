"""Audio -> motion metrics of a jamflow package on held-out corpus sentences (issue 5, docs/training.md).

For each utterance of the split: the whole mel is known, the motion unknown (and the text dropped unless
--with-text); the reference sampler (scripts/jamflow_ref.py, Euler, packed CFG) generates the motion, which is
compared with the corpus ground truth:

    r_pooled        Pearson r of mouth opening (lower-lip y minus upper-lip y) over all frames of all utterances
    r_mean          mean of the per-utterance Pearson r
    opening_mae     mean |predicted - true| opening (inter-ocular units)
    closure_recall  share of bilabial phonemes (p, b, m) during which the predicted opening drops below
                    --closure-threshold (min over the frames of the phoneme, shifted by the corpus' 30 ms lead)
    gt_closure_recall  the same on the ground truth (sanity: should be 1.0)

    .venv/bin/python scripts/eval.py --corpus target/corpus --package engines/jamflow-small --limit 50
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
from train import Corpus  # noqa: E402

LEAD_S = 0.030  # src/corpus/articulation.rs Articulator::default().lead
BILABIALS = {"p", "b", "m"}
UPPER_Y, LOWER_Y = 1, 4  # mouth4-2d: [upper xyz, lower xyz, left xyz, right xyz]


def opening(m: np.ndarray) -> np.ndarray:
    return m[:, LOWER_Y] - m[:, UPPER_Y]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    d = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / d) if d > 0 else 0.0


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--package", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--limit", type=int, default=20, help="first N utterances of the split (0 = all)")
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--schedule", default="sway", choices=["sway", "uniform"])
    ap.add_argument("--cfg", type=float, default=2.0)
    ap.add_argument("--with-text", action="store_true", help="give the sentence too (default: audio only, live)")
    ap.add_argument("--closure-threshold", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the metrics here")
    ap.add_argument("--dump", type=Path, help="write the first utterance's sampler request (request.safetensors, "
                    "`jamflow sample --inputs` names) and the reference result (expected.safetensors) here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    cfg = json.loads((args.package / "model.json").read_text())
    vocab = (args.package / cfg["text"].get("vocab_file", "vocab.txt")).read_text(encoding="utf-8").split("\n")[:-1]
    model = ref.build(cfg)
    model.load_state_dict({k: v.float() for k, v in load_file(str(args.package / "model.safetensors")).items()})
    cfg = ref.normalize_config(cfg)
    fps = cfg["motion"]["fps"]
    t_list = ref.schedule(args.schedule, args.steps, -1.0 if args.schedule == "sway" else None)

    data = Corpus(args.corpus, args.split, vocab)
    n = len(data) if args.limit == 0 else min(args.limit, len(data))
    gen = torch.Generator().manual_seed(args.seed)
    preds, trues, rs, closed, gt_closed = [], [], [], [], []
    for i in range(n):
        mel, gt = data.mel[i].float(), data.motion[i].numpy()
        f = ref.motion_frames_for(cfg, mel.shape[0])
        if f != gt.shape[0]:
            sys.exit(f"{data.utts[i]['motion']}: {gt.shape[0]} motion frames, the model expects {f}")
        inputs = {
            "cond_mel": mel,
            "mel_known": torch.ones(mel.shape[0], dtype=torch.bool),
            "text": data.text[i] if args.with_text else torch.full((1,), -1, dtype=torch.long),
            "noise_mel": torch.randn(mel.shape, generator=gen),
            "cond_motion": torch.zeros(f, 12),
            "motion_known": torch.zeros(f, dtype=torch.bool),
            "noise_motion": torch.randn(f, 12, generator=gen),
        }
        result = ref.sample(model, cfg, inputs, t_list, args.cfg)
        if args.dump and i == 0:
            args.dump.mkdir(parents=True, exist_ok=True)
            save_file({k: v.contiguous() for k, v in inputs.items()}, str(args.dump / "request.safetensors"))
            save_file({k: v.contiguous() for k, v in result.items()}, str(args.dump / "expected.safetensors"))
        pred = result["motion"].numpy()
        op, ot = opening(pred), opening(gt)
        preds.append(op)
        trues.append(ot)
        rs.append(pearson(op, ot))
        path = args.corpus / data.utts[i]["motion"]
        closed += closures(path, op, args.closure_threshold, fps)
        gt_closed += closures(path, ot, args.closure_threshold, fps)
    p, t = np.concatenate(preds), np.concatenate(trues)
    metrics = {
        "package": str(args.package),
        "split": args.split,
        "utterances": n,
        "frames": int(len(p)),
        "steps": args.steps,
        "schedule": args.schedule,
        "cfg": args.cfg,
        "with_text": args.with_text,
        "r_pooled": pearson(p, t),
        "r_mean": float(np.mean(rs)),
        "opening_mae": float(np.abs(p - t).mean()),
        "bilabials": len(closed),
        "closure_recall": float(np.mean(closed)) if closed else float("nan"),
        "gt_closure_recall": float(np.mean(gt_closed)) if gt_closed else float("nan"),
    }
    print(json.dumps(metrics, indent=2))
    if args.json:
        args.json.write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
