#!/usr/bin/env python3
"""Soak benchmark of jamflowd (issue 15): run the live path for a long time and say whether it stays flat.

jamflowd plays a WAV in a loop through the model package and the mesh renderer into the outputs given (by default
RTSP on a free port and a fragmented MP4 under --out), and every --interval seconds this script records from
/metrics and /proc: RSS, frames out, late frames (clock slot missed + motion not ready), late chunks, xruns, input
underruns, pipeline restarts, and the mic-to-frame latency p50/p95 of that interval (from the histogram's bucket
deltas: upper bucket bounds). At the end it compares the last third of the run with the first third and prints
FLAT or NOT FLAT per series, then exits 0 when all are flat. Each sample also shows the process's CPU time (user +
system, /proc) per second of media streamed: its real-time factor in CPU, the cost of the configuration
independent of what else runs (`--motion-only`: jamflowd with only `[motion_out]`, the robot-face mode of
docs/daemon.md, whose target is RTF <= 0.1; `--config` for its `[streaming]` chunk / history and `[model] threads`).

    .venv/bin/python scripts/soak.py --minutes 30                  # the benchmark (not a CI test): about 30 min
    .venv/bin/python scripts/soak.py --minutes 0.4 --interval 2 --jamflowd target/debug/jamflowd \
        --checks rss,xruns,restarts                                 # the short CI version (~25 s of streaming)
    .venv/bin/python scripts/soak.py --minutes 2 --motion-only --config C.toml --checks rss   # motion-only CPU RTF

Flat means: RSS grows by less than --rss-growth-mb (default 20 MB) from the first third's median to the last
third's; late frames per minute in the last third at most the first third's + 1.5/min; latency p95 of the last third
at most one histogram bucket above the first third's; xruns and pipeline restarts do not grow in the last third.
Figures are of this machine under whatever else runs on it: compare runs on the same machine only.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave
from pathlib import Path

BUCKETS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 3.0]
RATE = 24000
FPS = 25.0
DEFAULT_PACKAGES = [Path("engines/jamflow-small-student"), Path("engines/jamflow-small")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_babble(path: Path, seconds: float) -> None:
    """Speech-like input without a speech engine: syllable-rate bursts of harmonic tones with pauses."""
    import numpy as np

    t = np.arange(int(seconds * RATE)) / RATE
    syll = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t)  # ~4 syllables/s envelope
    pause = (np.sin(2 * np.pi * 0.23 * t) > -0.5).astype(np.float64)  # pauses every few seconds
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voice = sum(np.sin(k * phase) / k for k in range(1, 8))
    x = 0.25 * syll * pause * voice / 2.0
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())


def metrics(port: int) -> dict[str, float]:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in body.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        try:
            out[name] = float(value)
        except ValueError:
            pass
    return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return math.nan


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far (/proc/PID/stat fields 14 and 15, in clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bucket_counts(m: dict[str, float]) -> list[float]:
    return [m.get(f'jamflow_mic_to_frame_seconds_bucket{{le="{b:g}"}}', 0.0) for b in BUCKETS] + [
        m.get('jamflow_mic_to_frame_seconds_bucket{le="+Inf"}', 0.0)
    ]


def quantile(prev: list[float], now: list[float], q: float) -> float | None:
    """Upper bucket bound of quantile q over the observations between two cumulative snapshots."""
    d = [b - a for a, b in zip(prev, now)]
    n = d[-1]
    if n <= 0:
        return None
    want = q * n
    for bound, c in zip(BUCKETS + [math.inf], d):
        if c >= want:
            return bound
    return math.inf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--jamflowd", type=Path, default=Path("target/release/jamflowd"))
    ap.add_argument("--package", type=Path, help="model package (default: the shipped student, else its teacher)")
    ap.add_argument("--portrait", type=Path, default=Path("assets/portraits/astronaut.png"))
    ap.add_argument("--wav", type=Path, help="input played in a loop (default: generated babble)")
    ap.add_argument("--out", type=Path, default=Path("target/soak"))
    ap.add_argument("--no-mp4", action="store_true", help="no MP4 recording (RTSP only)")
    ap.add_argument("--motion-only", action="store_true",
                    help="no video or audio output: motion as UDP datagrams to a local port (robot-face mode)")
    ap.add_argument("--config", type=Path, help="jamflowd --config (e.g. [streaming] chunk_ms / history_ms)")
    ap.add_argument("--rss-growth-mb", type=float, default=20.0)
    ap.add_argument("--json", type=Path, help="write the samples and the verdict here")
    ap.add_argument("--checks", default="rss,late_frames,latency,xruns,restarts",
                    help="which series must stay flat (comma list; CI on a loaded machine: rss,xruns,restarts)")
    a = ap.parse_args()

    a.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    wav = a.wav
    if wav is None:
        wav = tmp / "babble.wav"
        write_babble(wav, 30.0)
    ctl, rtsp = free_port(), free_port()
    cmd = [str(a.jamflowd), "--wav", str(wav), "--control-port", str(ctl)]
    if a.config is not None:
        cmd += ["--config", str(a.config)]
    if a.motion_only:
        cmd += ["--motion-udp", f"127.0.0.1:{free_port()}"]
    else:
        cmd += ["--portrait", str(a.portrait), "--rtsp-port", str(rtsp)]
    package = a.package or next((p for p in DEFAULT_PACKAGES if (p / "model.json").is_file()), None)
    if package is None:
        sys.exit("no model package: pass --package")
    cmd += ["--package", str(package)]
    if not a.no_mp4 and not a.motion_only:
        cmd += ["--mp4", str(a.out / "soak.mp4")]
    log = open(a.out / "jamflowd.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, RUST_LOG="info"))
    samples = []
    try:
        t_start = time.time()
        while True:  # wait for frames
            if proc.poll() is not None:
                sys.exit(f"jamflowd exited early ({proc.returncode}); see {a.out / 'jamflowd.log'}")
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{ctl}/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.time() - t_start > 120:
                sys.exit("jamflowd not healthy within 120 s")
            time.sleep(0.5)
        t0 = time.time()
        prev = metrics(ctl)
        prev_cpu = cpu_seconds(proc.pid)
        end = t0 + a.minutes * 60
        print(f"soak: {a.minutes:g} min, a sample every {a.interval:g} s; jamflowd pid {proc.pid}")
        print(f"{'t_s':>7} {'rss_mb':>7} {'frames':>7} {'late':>5} {'late_ch':>7} {'xruns':>5} {'undrn':>5} "
              f"{'p50_ms':>6} {'p95_ms':>6} {'cpu_rtf':>7}")
        while time.time() < end:
            time.sleep(a.interval)
            if proc.poll() is not None:
                sys.exit(f"jamflowd died during the soak ({proc.returncode}); see {a.out / 'jamflowd.log'}")
            now = metrics(ctl)
            cpu = cpu_seconds(proc.pid)
            g = lambda k, m=now: m.get(k, 0.0)  # noqa: E731
            d = lambda k: g(k) - prev.get(k, 0.0)  # noqa: E731
            bp, bn = bucket_counts(prev), bucket_counts(now)
            p50, p95 = quantile(bp, bn, 0.5), quantile(bp, bn, 0.95)
            s = {
                "t": round(time.time() - t0, 1),
                "rss_mb": round(rss_mb(proc.pid), 1),
                "frames": d("jamflow_frames_out_total"),
                "late_frames": d("jamflow_late_frames_total") + d("jamflow_live_late_frames_total"),
                "late_chunks": d("jamflow_late_chunks_total"),
                "xruns": g("jamflow_xruns_total"),
                "underruns": d("jamflow_input_underruns_total"),
                "restarts": g("jamflow_pipeline_restarts_total"),
                "p50_s": p50,
                "p95_s": p95,
                "cpu_rtf": (cpu - prev_cpu) / max(d("jamflow_frames_out_total") / FPS, 1e-9),
            }
            prev_cpu = cpu
            samples.append(s)
            ms = lambda v: "-" if v is None else f"{v * 1e3:.0f}"  # noqa: E731
            print(f"{s['t']:7.1f} {s['rss_mb']:7.1f} {s['frames']:7.0f} {s['late_frames']:5.0f} "
                  f"{s['late_chunks']:7.0f} {s['xruns']:5.0f} {s['underruns']:5.0f} {ms(p50):>6} {ms(p95):>6} "
                  f"{s['cpu_rtf']:7.3f}",
                  flush=True)
            prev = now
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if len(samples) < 3:
        sys.exit("too few samples for a verdict (run longer or sample more often)")
    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]
    per_min = lambda xs: 60.0 * sum(x["late_frames"] for x in xs) / (a.interval * len(xs))  # noqa: E731
    p95 = lambda xs: max((x["p95_s"] for x in xs if x["p95_s"] is not None), default=0.0)  # noqa: E731
    rss_growth = statistics.median(x["rss_mb"] for x in last) - statistics.median(x["rss_mb"] for x in first)
    next_bucket = lambda v: next((b for b in BUCKETS if b > v), math.inf)  # noqa: E731
    checks = {
        "rss": (rss_growth < a.rss_growth_mb, f"RSS {rss_growth:+.1f} MB (first third -> last third)"),
        "late_frames": (per_min(last) <= per_min(first) + 1.5,
                        f"late frames {per_min(first):.1f}/min -> {per_min(last):.1f}/min"),
        "latency": (p95(last) <= next_bucket(p95(first)),
                    f"latency p95 {p95(first) * 1e3:.0f} ms -> {p95(last) * 1e3:.0f} ms (bucket bounds)"),
        "xruns": (last[-1]["xruns"] == last[0]["xruns"], f"xruns {samples[-1]['xruns']:.0f} in all"),
        "restarts": (last[-1]["restarts"] == last[0]["restarts"],
                     f"pipeline restarts {samples[-1]['restarts']:.0f} in all"),
    }
    wanted = {c.strip() for c in a.checks.split(",") if c.strip()}
    unknown = wanted - set(checks)
    if unknown:
        sys.exit(f"--checks: unknown {sorted(unknown)}; expected some of {sorted(checks)}")
    for name, (ok, text) in checks.items():
        mark = ("FLAT    " if ok else "NOT FLAT") if name in wanted else "(info)  "
        print(f"{mark} {text}")
    flat = all(ok for name, (ok, _) in checks.items() if name in wanted)
    print(f"CPU per second of media (RTF in CPU time): median {statistics.median(x['cpu_rtf'] for x in samples):.3f}"
          f"{' (motion only)' if a.motion_only else ''}")
    print("soak:", "flat" if flat else "NOT flat")
    if a.json:
        a.json.write_text(json.dumps({"samples": samples, "flat": flat,
                                      "checks": {k: {"ok": ok, "text": t} for k, (ok, t) in checks.items()}},
                                     indent=1))
    sys.exit(0 if flat else 1)


if __name__ == "__main__":
    main()
