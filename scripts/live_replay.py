"""Replay jamflowd's live windows offline with the PyTorch reference: where the live lip-sync gap lies.

jamflowd runs one model window [history | chunk | look-ahead] per chunk (src/live/window.rs) and shows the chunk.
This replays that on a corpus's clean test utterances, without real time, and prints the pooled r of the mouth
opening against the corpus truth (scripts/lipsync.py) beside the whole-utterance (offline) sampler's, for each
look-ahead asked, plus the frame-to-frame motion change at chunk seams and inside chunks (a seam that jumps shows
there, not in r). `jamflow bench-live --eval` measures the real pipeline (3 minutes a row); this takes about one,
so settings can be compared before a build or a distillation.

    .venv/bin/python scripts/live_replay.py --package engines/jamflow-small-student --corpus target/evalset \\
        --lookahead-frames 2 4 --history-motion generated --joined

--history-motion known gives each window the motion already shown as known (what jamflowd's `history_motion =
"known"` does), optionally --cross-fade'd with the previous window's look-ahead as the daemon does in that mode;
--joined also replays the utterances as bench-live plays them (joined with 0.6 s of silence, windows on one grid).
Windows hear the mel of their own audio (`get_vocos_mel_spectrogram`, as the daemon computes it from the window).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
import lipsync  # noqa: E402
from train import Corpus, read_wav  # noqa: E402

GAP_FRAMES = 15  # silence around the utterances of the joined stream (0.6 s, as bench-live)


class Replay:
    def __init__(self, package: Path):
        raw, self.model = ref.load_package(package)
        self.raw = raw
        self.cfg = ref.normalize_config(raw)
        sampler = self.cfg["sampler"]
        if not sampler["guidance_baked"]:
            sys.exit(f"{package}: a guidance-baked student is what jamflowd runs live (sampler.guidance_baked)")
        self.t_list = ref.schedule_from_config(sampler["schedule"], sampler["steps"])
        self.k = ref.motion_dim(self.cfg)
        self.fps = self.cfg["motion"]["fps"]
        self.spf = round(self.cfg["audio"]["sample_rate"] / self.fps)  # samples per motion frame
        self.mel_per_frame = ref.mel_rate(self.cfg) / self.fps

    def motion(self, mel: torch.Tensor, known: torch.Tensor | None) -> torch.Tensor:
        """Motion [F, K] for mel [T, n_mels] (all known), the first known.shape[0] frames of motion given; noise at
        the prior's mean (the student ships with noise_scale 0)."""
        f = ref.motion_frames_for(self.cfg, mel.shape[0])
        no_text = torch.full((1,), -1, dtype=torch.long)
        inputs = ref.request(self.cfg, mel, torch.ones(mel.shape[0], dtype=torch.bool), no_text, f, known_motion=known)
        with torch.no_grad():
            return ref.sample(self.model, self.cfg, inputs, self.t_list, 0.0)["motion"]

    def window_mel(self, audio: np.ndarray, frames: int) -> torch.Tensor:
        from f5_tts.model.modules import get_vocos_mel_spectrogram

        a = np.zeros(frames * self.spf, np.float32)
        a[: min(len(audio), len(a))] = audio[: len(a)]
        mel = get_vocos_mel_spectrogram(torch.from_numpy(a)[None])[0].T  # [T, n_mels]
        return mel[: math.ceil(frames * self.mel_per_frame)]

    def live(self, audio: np.ndarray, frames: int, history: int, chunk: int, lookahead: int, known: bool,
             fade: bool) -> np.ndarray:
        """The motion [frames, K] a live run over `audio` shows, one window per chunk."""
        out = torch.zeros(frames, self.k)
        prev_la = None
        for c0 in range(0, frames, chunk):
            h0 = max(0, c0 - history)
            end = c0 + chunk + lookahead
            m = self.motion(self.window_mel(audio[h0 * self.spf : end * self.spf], end - h0),
                            out[h0:c0] if known and c0 > h0 else None)
            shown = m[c0 - h0 : c0 - h0 + chunk].clone()
            if fade and prev_la is not None:
                n = min(prev_la.shape[0], shown.shape[0])
                for j in range(n):
                    w = (j + 1) / (n + 1)
                    shown[j] = (1 - w) * prev_la[j] + w * shown[j]
            prev_la = m[c0 - h0 + chunk : c0 - h0 + chunk + lookahead]
            n = min(chunk, frames - c0)
            out[c0 : c0 + n] = shown[:n]
        return out.numpy()


def changes(motions: list[np.ndarray]) -> list[np.ndarray]:
    """Frame-to-frame motion change (L2 over K) of each motion [F, K]: element j - 1 is frame j's."""
    return [np.linalg.norm(np.diff(m, axis=0), axis=1) for m in motions]


def seams(motions: list[np.ndarray], chunk: int) -> tuple[float, float]:
    """Mean frame-to-frame motion change at chunk seams (frames chunk, 2 chunk, ...) and inside chunks."""
    d = np.concatenate(changes(motions))
    j = np.concatenate([np.arange(1, len(m)) for m in motions])  # the frame each change arrives at
    return float(d[j % chunk == 0].mean()), float(d[j % chunk != 0].mean())


def joined_stream(pieces: list[np.ndarray], spf: int) -> tuple[np.ndarray, list[int]]:
    """The utterances as bench-live plays them: GAP_FRAMES of silence, then each one padded to whole frames and
    followed by GAP_FRAMES more; returns the audio and each utterance's first frame."""
    out, starts, pos = [np.zeros(GAP_FRAMES * spf, np.float32)], [], GAP_FRAMES
    for a in pieces:
        n = -(-len(a) // spf)
        starts.append(pos)
        out.append(np.concatenate([a, np.zeros(n * spf - len(a) + GAP_FRAMES * spf, np.float32)]))
        pos += n + GAP_FRAMES
    return np.concatenate(out), starts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", type=Path, required=True, help="a guidance-baked student package")
    ap.add_argument("--corpus", type=Path, required=True, help="corpus (`jamflow corpus make`): clean test utterances")
    ap.add_argument("--limit", type=int, default=40, help="first N clean test utterances (bench-live's --eval-limit)")
    ap.add_argument("--history-frames", type=int, default=10, help="history (25 fps frames; 10 = 400 ms)")
    ap.add_argument("--chunk-frames", type=int, default=2, help="chunk (2 = 80 ms)")
    ap.add_argument("--lookahead-frames", type=int, nargs="+", default=[2], help="look-aheads to replay")
    ap.add_argument("--history-motion", choices=("generated", "known"), default="generated")
    ap.add_argument("--cross-fade", action="store_true", help="with known: blend the chunk with the last look-ahead")
    ap.add_argument("--joined", action="store_true", help="also replay the utterances joined as bench-live plays them")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.cross_fade and args.history_motion != "known":
        ap.error("--cross-fade: only with --history-motion known (the daemon cross-fades in that mode only)")
    torch.set_num_threads(args.threads)
    rp = Replay(args.package)
    vocab = ref.read_vocab(args.package, rp.raw)
    data = Corpus(args.corpus, "test", vocab, rp.raw)
    idx = [i for i, u in enumerate(data.utts) if u.get("condition", "clean") == "clean"][: args.limit]
    if not idx:
        sys.exit(f"{args.corpus}: no clean test utterances")
    audio = {i: read_wav(args.corpus / data.utts[i]["wav"]).astype(np.float32) for i in idx}
    truths = [lipsync.opening(data.motion[i].numpy()) for i in idx]
    truth = np.concatenate(truths)
    offline = [rp.motion(data.mel[i].float(), None).numpy() for i in idx]
    off_r = lipsync.pearson(np.concatenate([lipsync.opening(m) for m in offline]), truth)
    per_frame = float(np.concatenate(changes(offline)).mean())
    known = args.history_motion == "known"
    if args.joined:
        joined, starts = joined_stream([audio[i] for i in idx], rp.spf)
    print(f"{len(idx)} utterances, {len(truth)} frames; history {args.history_frames}, chunk {args.chunk_frames} "
          f"frames, history motion {args.history_motion}{', cross-faded' if args.cross_fade else ''}")
    print(f"offline (whole utterances): r {off_r:.3f}; motion change per frame {per_frame:.4f}")
    for la in args.lookahead_frames:
        live = [rp.live(audio[i], data.motion[i].shape[0], args.history_frames, args.chunk_frames, la, known,
                        args.cross_fade) for i in idx]
        r = lipsync.pearson(np.concatenate([lipsync.opening(m) for m in live]), truth)
        at, inside = seams(live, args.chunk_frames)
        line = (f"look-ahead {la} frames ({round(la * 1000 / rp.fps)} ms): live r {r:.3f} ({r - off_r:+.3f}); motion "
                f"change at seams {at:.4f}, inside chunks {inside:.4f}")
        if args.joined:
            shown = rp.live(joined, len(joined) // rp.spf, args.history_frames, args.chunk_frames, la, known,
                            args.cross_fade)
            preds = [lipsync.opening(shown[s : s + len(t)]) for s, t in zip(starts, truths, strict=True)]
            rj = lipsync.pearson(np.concatenate(preds), truth)
            line += f"; joined stream r {rj:.3f} ({rj - off_r:+.3f})"
        print(line, flush=True)


if __name__ == "__main__":
    main()
