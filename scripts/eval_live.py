#!/usr/bin/env python3
"""Lip sync through the live path (issue 11, docs/training.md "Metrics"): jamflowd with WAV input plays held-out
test utterances in real time, its chunked audio -> motion windows send every frame's motion over UDP, and the
frames are scored against the corpus truth with the metrics and loudness baseline of scripts/lipsync.py, beside
the offline sampler on the same utterances (scripts/eval.py --json) when given.

    .venv/bin/python scripts/eval_live.py --corpus target/corpus2 --package engines/jamflow-small-student \\
        --limit 40 --json target/eval-live.json [--offline target/eval-student.json]

The utterances (the first --limit of --split, clean ones by default) are joined into one WAV with --gap-s of
silence between them; motion frame n of the stream shows media frame n - D (D = jamflow_output_delay_frames,
read from jamflowd's /metrics), and media frame j of the WAV is frame j - start of its utterance. Frames the live
path could not make in time (held motion) count as they are: what a viewer sees.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lipsync  # noqa: E402

FPS = 25.0
RATE = 24000


def read_wav(p: Path) -> np.ndarray:
    with wave.open(str(p), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32767.0


def free_port(kind=socket.SOCK_STREAM) -> int:
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--package", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--condition", default="clean", help="utterances of this condition (default clean; 'all')")
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--gap-s", type=float, default=0.6)
    ap.add_argument("--jamflowd", type=Path, default=Path("target/release/jamflowd"))
    ap.add_argument("--config", type=Path, default=Path("configs/demo.toml"),
                    help="base config: its [streaming] plan is the one measured")
    ap.add_argument("--closure-threshold", type=float, default=0.03)
    ap.add_argument("--offline", type=Path, help="an eval.py --json of the same package and utterances")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    manifest = json.loads((args.corpus / "manifest.json").read_text())
    utts = [u for u in manifest["utterances"] if u["split"] == args.split
            and (args.condition == "all" or u.get("condition", "clean") == args.condition)][: args.limit]
    if not utts:
        sys.exit(f"{args.corpus}: no {args.condition} utterances in split {args.split}")
    gap = np.zeros(int(args.gap_s * RATE), dtype=np.float32)
    pieces, starts, pos = [gap], [], len(gap)
    for u in utts:
        x = read_wav(args.corpus / u["wav"])
        starts.append(pos)
        pieces += [x, gap]
        pos += len(x) + len(gap)
    audio = np.concatenate(pieces)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        wav_path = d / "live.wav"
        with wave.open(str(wav_path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        udp_port, http_port = free_port(socket.SOCK_DGRAM), free_port()
        cfg = args.config.read_text()
        # The base config's paths are relative to it; this copy lives elsewhere.
        cfg = cfg.replace('"../', f'"{args.config.resolve().parent.parent}/')
        cfg_path = d / "live.toml"
        cfg_path.write_text(cfg)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", udp_port))
        sock.settimeout(0.5)
        frames: dict[int, list[float]] = {}
        stop = threading.Event()

        def receive() -> None:
            while not stop.is_set():
                try:
                    msg = json.loads(sock.recv(65536))
                except socket.timeout:
                    continue
                frames[int(msg["frame"])] = msg["motion"]

        th = threading.Thread(target=receive, daemon=True)
        th.start()
        secs = len(audio) / RATE + 2.5
        cmd = [str(args.jamflowd), "--config", str(cfg_path), "--input", "wav", "--wav", str(wav_path), "--no-loop",
               "--package", str(args.package), "--motion-udp", f"127.0.0.1:{udp_port}", "--duration-s", f"{secs:.2f}",
               "--control-port", str(http_port), "--no-rtsp", "--mp4", str(d / "live.mp4")]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        delay = None
        t_end = time.time() + secs + 60
        while proc.poll() is None and time.time() < t_end:
            time.sleep(1.0)
            if delay is None:
                try:
                    text = urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=2).read().decode()
                    for line in text.splitlines():
                        if line.startswith("jamflow_output_delay_frames "):
                            delay = int(float(line.split()[1])) or None
                except OSError:
                    pass
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read()
        stop.set()
        th.join()
        if proc.returncode not in (0, None) or delay is None:
            sys.exit(f"jamflowd failed (rc {proc.returncode}, delay {delay}):\n{err[-3000:]}")
    preds, trues, envs, spans = [], [], [], []
    k = len(next(iter(frames.values())))
    for u, s in zip(utts, starts, strict=True):
        with safe_open(str(args.corpus / u["motion"]), "np") as f:
            gt = f.get_tensor("motion")
        n = gt.shape[0]
        j0 = int(round(s / RATE * FPS))
        got = np.array([frames.get(j0 + j + delay, [0.0] * k) for j in range(n)], dtype=np.float32)
        preds.append(lipsync.opening(got))
        trues.append(lipsync.opening(gt))
        envs.append(lipsync.envelope(read_wav(args.corpus / u["wav"]), RATE, n, FPS))
        spans.append(lipsync.phone_spans(args.corpus / u["motion"], n, FPS))
    rep = lipsync.report(utts, preds, trues, envs, spans, args.closure_threshold)
    out = {"package": str(args.package), "split": args.split, "condition": args.condition, "utterances": len(utts),
           "delay_frames": delay, "frames_received": len(frames), "lipsync": rep}
    print("live path (jamflowd, WAV input, motion over UDP):", file=sys.stderr)
    lipsync.print_report(rep)
    if args.offline:
        off = json.loads(args.offline.read_text())["lipsync"]
        for g in rep:
            if g in off:
                d_r = rep[g]["model"]["r_pooled"] - off[g]["model"]["r_pooled"]
                rep[g]["live_minus_offline_r"] = d_r
                print(f"{g:34} live r - offline r = {d_r:+.3f}", file=sys.stderr)
    print(json.dumps(out, indent=2, default=lambda v: None))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, default=lambda v: None) + "\n")


if __name__ == "__main__":
    main()
