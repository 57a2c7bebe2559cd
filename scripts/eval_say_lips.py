#!/usr/bin/env python3
"""Lip sync of `jamflow say` videos, scored against the phones of the speech they show (issue 12, docs/speech.md).

Each held-out sentence of scripts/eval_say_sentences.txt (never used in training) goes through `say` itself:
  1. `jamflow say TEXT [--engine model] --out S.wav --motion-out M.safetensors --phones-out P.json`: the speech, the
     lips a `say` video shows with it, and where each phone of that speech lies:
       - engine piper (the joe voice; its lips by `--lips`: `phones`, say's default, the durations speech package
         hears the audio and reads the voice's phones; `audio`, `animate`'s audio -> motion path as jamflowd's
         built-in `[speech] lips`; `--package` the lips' package): the voice's own durations
         (`PiperVoice::speak_timed`, equal to piper-tts's alignments through scripts/corpus_piper.py: IPA, its
         measured 45 ms lag removed, the corpus's Piper truth; tests/say.rs checks the equality);
       - engine model (the joint model speaks and moves the lips in one sampling run; a `durations` package,
         `--package` the speech package): the phonemes the model was given per frame;
  2. the truth: `jamflow corpus truth` of P.json (the corpus's phone tables and articulator); as a cross-check also
     of pocketsphinx's forced alignment of S.wav to TEXT (en-us model, ARPAbet), a recognizer that never saw the
     voice's internals (for the model engine it also tells whether the speech says its phones where asked);
  3. the corpus eval's audio -> motion metrics (scripts/lipsync.py) beside the loudness-envelope baseline of the
     same audio, against each truth. Target: r >= 0.8 (against the speech's own timeline).

    .venv/bin/python scripts/eval_say_lips.py [--jamflow target/debug/jamflow] [--lips phones|audio] [--package DIR]
    .venv/bin/python scripts/eval_say_lips.py --engine model [--package engines/jamflow-speech]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lipsync  # noqa: E402
from corpus_piper import Aligner  # noqa: E402
from eval_say import SENTENCES, read_wav  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FPS = 25.0
TARGET_R = 0.8
TRUTHS = ("voice", "aligned")


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"eval_say_lips: {' '.join(cmd)} failed:\n{r.stderr}")


def motion(path: Path) -> np.ndarray:
    with safe_open(str(path), "np") as f:
        return f.get_tensor("motion")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jamflow", default=str(ROOT / "target" / "debug" / "jamflow"))
    ap.add_argument("--engine", choices=("piper", "model"), default="piper", help="which engine of `say` to score")
    ap.add_argument("--package", help="piper: the package of the lips (default: say's for --lips); model: the speech "
                    "package (default: say's)")
    ap.add_argument("--lips", choices=("phones", "audio"), default="phones",
                    help="piper: `say --lips` (phones: the speech package reads the voice's phones with its audio; "
                    "audio: the live audio -> motion model hears the audio only)")
    ap.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--seed", type=int, default=0, help="`say --seed`")
    ap.add_argument("--closure-threshold", type=float, default=0.03)
    ap.add_argument("--json", help="also write the reports here")
    a = ap.parse_args()
    sentences = [s.strip() for s in SENTENCES.read_text().splitlines() if s.strip() and not s.startswith("#")]
    if a.limit:
        sentences = sentences[: a.limit]
    # Per truth: the sentences it could score (pocketsphinx fails on a few; the voice's timeline never does).
    rows = {k: {"utts": [], "preds": [], "trues": [], "envs": [], "spans": []} for k in TRUTHS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, text in enumerate(sentences):
            wav, mot = tmp / f"{i}.wav", tmp / f"{i}.motion.safetensors"
            extra = ["--package", a.package] if a.package else []
            if a.engine == "piper":
                extra += ["--lips", a.lips]
            told = tmp / f"{i}.told.json"
            run([a.jamflow, "say", text, "--engine", a.engine, "--out", str(wav), "--motion-out", str(mot),
                 "--phones-out", str(told), "--seed", str(a.seed), "--threads", a.threads, *extra])
            audio, rate = read_wav(wav)
            told_json = json.loads(told.read_text())
            timelines = {"voice": (told_json["phone_set"], told_json["phones"])}
            # The recognizer's dictionary is plain ASCII (café -> cafe); a fresh decoder each time (one that failed
            # an alignment refuses the next).
            plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
            try:
                timelines["aligned"] = ("arpabet", Aligner().phones(audio, rate, plain))
            except RuntimeError as e:
                print(f"{i + 1:2d}/{len(sentences)} no forced alignment (pocketsphinx: {e})", flush=True)
            got = motion(mot)
            cells = []
            for k, (set_, phones) in timelines.items():
                ph, tru = tmp / f"{i}.{k}.json", tmp / f"{i}.{k}.safetensors"
                ph.write_text(json.dumps({"phone_set": set_, "phones": phones}))
                run([a.jamflow, "corpus", "truth", "--phones", str(ph), "--audio", str(wav), "--out", str(tru)])
                gt = motion(tru)
                n = min(len(got), len(gt))
                if max(len(got), len(gt)) - n > 1:
                    raise SystemExit(f"eval_say_lips: sentence {i + 1}: {len(got)} motion frames vs {len(gt)} ({k})")
                row = rows[k]
                row["preds"].append(lipsync.opening(got[:n]))
                row["trues"].append(lipsync.opening(gt[:n]))
                row["envs"].append(lipsync.envelope(audio, rate, n, FPS))
                row["spans"].append(lipsync.phone_spans(tru, n, FPS))
                family = "piper:joe" if a.engine == "piper" else "model"
                row["utts"].append({"family": family, "condition": "say", "held_out": False})
                cells.append(f"{k} r {lipsync.pearson(row['preds'][-1], row['trues'][-1]):.3f} "
                             f"(loudness {lipsync.pearson(row['envs'][-1], row['trues'][-1]):.3f})")
            print(f"{i + 1:2d}/{len(sentences)} {'  '.join(cells)}  {text}", flush=True)
    reports = {}
    for k in TRUTHS:
        row = rows[k]
        if not row["utts"]:
            continue
        rep = lipsync.report(row["utts"], row["preds"], row["trues"], row["envs"], row["spans"], a.closure_threshold)
        reports[k] = rep["all"]
        own = "the voice's own phoneme timeline" if a.engine == "piper" else "the phones the model was given"
        print(f"\ntruth: {k} ({own if k == 'voice' else 'pocketsphinx'})", file=sys.stderr)
        lipsync.print_report({"all": rep["all"]})
    v = reports["voice"]
    r = v["model"]["r_pooled"]
    verdict = "meets" if r >= TARGET_R else "MISSES"
    cross = (f"; {reports['aligned']['model']['r_pooled']:.3f} against pocketsphinx's ({reports['aligned']['utterances']}"
             " sentences)" if "aligned" in reports else "")
    print(f"say lips over {v['utterances']} sentences: r {r:.3f} (loudness baseline {v['baseline']['r_pooled']:.3f}) "
          f"against {'the voice' + chr(39) + 's timeline' if a.engine == 'piper' else 'the phones it was given'}{cross}; "
          f"{verdict} the target r >= {TARGET_R} ({a.engine} engine)")
    if a.json:
        Path(a.json).write_text(json.dumps(reports, indent=1, allow_nan=True))


if __name__ == "__main__":
    main()
