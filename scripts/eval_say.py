#!/usr/bin/env python3
"""Word error rate of the speech engines, by a real recognizer (pocketsphinx with its bundled en-us model), in one run.

Conditions, on the held-out sentences of scripts/eval_say_sentences.txt (never used in training):
  (a) piper    piper-tts's own audio of the joe voice (the reference);
  (b) piper-gl that audio through our mel -> Griffin-Lim path (`jamflow mel` + `jamflow vocode`);
  (c) rust     our Rust Piper engine (`jamflow say --engine piper`);
  (d) model    the joint model's own text path (`jamflow say --engine model`).
Targets (docs/speech.md): WER (c) <= 1.1 x WER (a); (d) <= 1.5 x (b).

    .venv/bin/python scripts/eval_say.py [--jamflow target/debug/jamflow] [--only piper,rust] [--limit N] [--package DIR]
"""
import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = ROOT / "scripts" / "eval_say_sentences.txt"
VOICE = ROOT / ".voices" / "joe" / "en_US-joe-medium.onnx"
CONDITIONS = ["piper", "piper-gl", "rust", "model"]
TARGET_RATIO = 1.1  # (c) / (a)
MODEL_TARGET_RATIO = 1.5  # (d) / (b)


def words(s: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", s.lower().replace("'s", "s")).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[len(b)]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2:
            raise SystemExit(f"eval_say: {path}: expected 16-bit PCM")
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        if w.getnchannels() > 1:
            x = x.reshape(-1, w.getnchannels()).mean(axis=1)
        return x, w.getframerate()


class Recognizer:
    """pocketsphinx, its bundled en-us acoustic model, language model and dictionary."""

    def __init__(self):
        from pocketsphinx import Decoder
        self.decoder = Decoder(loglevel="FATAL")

    def __call__(self, path: Path) -> str:
        from scipy.signal import resample_poly
        x, rate = read_wav(path)
        x16 = resample_poly(x, 16000, rate) if rate != 16000 else x
        pcm = (np.clip(x16, -1, 1) * 32767).astype("<i2").tobytes()
        d = self.decoder
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        return hyp.hypstr if hyp is not None else ""


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"eval_say: {' '.join(cmd)} failed:\n{r.stderr}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jamflow", default=str(ROOT / "target" / "debug" / "jamflow"))
    ap.add_argument("--only", default=",".join(CONDITIONS), help="comma-separated subset of " + ",".join(CONDITIONS))
    ap.add_argument("--limit", type=int, default=0, help="first N sentences only (0: all)")
    ap.add_argument("--sentences", type=Path, default=SENTENCES,
                    help="sentences file, one a line, # comments (default: the held-out test sentences; tune "
                         "settings on others, e.g. a corpus's val texts, so the test figures stay honest)")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--package", help="(d)'s package (`say --package`; default: say's own default speech package)")
    ap.add_argument("--steps", type=int, help="(d)'s sampler steps (`say --steps`; default: the package's)")
    ap.add_argument("--speed", type=float, help="(d)'s speaking speed (`say --speed`; default: say's)")
    ap.add_argument("--durations", choices=["auto", "espeak", "voice"],
                    help="(d)'s phoneme durations (`say --durations`; default: say's, auto: the joe voice's own)")
    ap.add_argument("--reference", help="(d)'s reference voice WAV (`say --reference`; needs --reference-text)")
    ap.add_argument("--reference-text", help="what --reference says")
    ap.add_argument("--json", help="also write the figures here")
    a = ap.parse_args()
    if (a.reference is None) != (a.reference_text is None):
        raise SystemExit("eval_say: --reference and --reference-text go together")
    only = a.only.split(",")
    for c in only:
        if c not in CONDITIONS:
            raise SystemExit(f"eval_say: --only {c}: expected one of {CONDITIONS}")
    sentences = [l.strip() for l in a.sentences.read_text().splitlines() if l.strip() and not l.startswith("#")]
    if a.limit:
        sentences = sentences[: a.limit]
    if not VOICE.is_file():
        raise SystemExit(f"eval_say: {VOICE} missing: run scripts/setup.sh")
    jf = a.jamflow
    rec = Recognizer()
    errors = {c: 0 for c in only}
    seconds = {c: 0.0 for c in only}
    n_words = 0
    piper = None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, text in enumerate(sentences):
            ref = words(text)
            n_words += len(ref)
            wavs = {}
            if "piper" in only or "piper-gl" in only:
                if piper is None:
                    from piper import PiperVoice
                    piper = PiperVoice.load(VOICE)
                wavs["piper"] = tmp / f"{i}-piper.wav"
                t0 = time.time()
                with wave.open(str(wavs["piper"]), "wb") as w:
                    piper.synthesize_wav(text, w)
                seconds["piper"] = seconds.get("piper", 0.0) + time.time() - t0
            if "piper-gl" in only:
                mel, wavs["piper-gl"] = tmp / f"{i}.mel.safetensors", tmp / f"{i}-gl.wav"
                t0 = time.time()
                run([jf, "mel", str(wavs["piper"]), "--out", str(mel)])
                run([jf, "vocode", str(mel), "--vocoder", "griffin-lim", "--out", str(wavs["piper-gl"])])
                seconds["piper-gl"] += time.time() - t0
            for cond, engine in (("rust", "piper"), ("model", "model")):
                if cond in only:
                    wavs[cond] = tmp / f"{i}-{cond}.wav"
                    t0 = time.time()
                    extra = ["--package", a.package] if cond == "model" and a.package else []
                    extra += ["--steps", str(a.steps)] if cond == "model" and a.steps else []
                    extra += ["--speed", str(a.speed)] if cond == "model" and a.speed else []
                    extra += ["--durations", a.durations] if cond == "model" and a.durations else []
                    if cond == "model" and a.reference:
                        extra += ["--reference", a.reference, "--reference-text", a.reference_text]
                    run([jf, "say", text, "--engine", engine, "--out", str(wavs[cond]), "--threads", a.threads, *extra])
                    seconds[cond] += time.time() - t0
            line = [f"{i + 1:2d}/{len(sentences)}"]
            for c in only:
                hyp = rec(wavs[c])
                e = edit_distance(ref, words(hyp))
                errors[c] += e
                line.append(f"{c} {e}/{len(ref)}")
            print("  ".join(line), flush=True)
    wer = {c: errors[c] / max(n_words, 1) for c in only}
    print(f"\nWER over {len(sentences)} sentences, {n_words} words (pocketsphinx en-us):")
    for c in only:
        print(f"  {c:9s} {100 * wer[c]:6.1f} %   ({errors[c]} errors; {seconds[c]:.1f} s to synthesize)")
    if "piper" in wer and "rust" in wer:
        ratio = wer["rust"] / wer["piper"] if wer["piper"] > 0 else float("inf") if wer["rust"] > 0 else 1.0
        verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
        print(f"  rust / piper = {ratio:.2f} ({verdict} the target <= {TARGET_RATIO})")
    if "piper-gl" in wer and "model" in wer:
        ratio = wer["model"] / wer["piper-gl"] if wer["piper-gl"] > 0 else float("inf")
        verdict = "meets" if ratio <= MODEL_TARGET_RATIO else "MISSES"
        print(f"  model / piper-gl = {ratio:.2f} ({verdict} the target <= {MODEL_TARGET_RATIO})")
    if a.json:
        model = {"package": a.package, "steps": a.steps, "speed": a.speed, "durations": a.durations or "auto",
                 "reference": a.reference}
        Path(a.json).write_text(json.dumps({"sentences": len(sentences), "words": n_words, "wer": wer,
                                            "model": model if "model" in only else None}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
