"""Train the jamflow MM-DiT (scripts/jamflow_ref.py, same state-dict keys) on a `jamflow corpus make` corpus.

Objective (DESIGN §1, F5-TTS's CFM.forward generalized to two streams): rectified flow
x_t = (1 - t) x0 + t x1, t ~ U(0, 1), target velocity x1 - x0, mean-squared error on the *unknown* (masked)
region of each stream. Per utterance one inpainting task is drawn (docs/training.md):

    tts      audio: random span of 70-100 % unknown (F5's frac_lengths), motion: all unknown
    a2m      audio: all known (the live mic -> motion path), motion: all unknown, or a known prefix (continuation)
    m2a      motion: all known, audio: 70-100 % span unknown
    both     independent random spans on both streams

Condition dropping for CFG: a row is unconditional (text, audio cond, motion cond dropped: the `uncond` input)
with p_uncond; otherwise the text alone is dropped with p_drop_text (so audio-only driving works without text).

Text (--text-alignment, model.json text.alignment): filler = the sentence's characters (F5); durations = one eSpeak
phoneme id per mel frame from the utterance's phone timeline (motion safetensors ph_start / ph_end / metadata
phonemes), the vocabulary the corpus's phoneme names with the pause "_" first.

Checkpoint: OUT/ckpt.pt (model, optimizer, EMA, step, rng states, config, vocab, loss log) every --ckpt-every
steps and at the end; --resume continues it exactly. The package OUT/package/ (model.json, model.safetensors with
the EMA weights in f16 or f32, vocab.txt) is what `jamflow info/forward/sample` load.

    .venv/bin/python scripts/train.py --corpus target/corpus --out target/train --steps 2000 --threads 2
    .venv/bin/python scripts/train.py --corpus target/corpus --out target/train --steps 4000 --resume
    .venv/bin/python scripts/train.py --corpus target/corpus --out target/train2 --init engines/jamflow-small \
        --init-step 1200 --steps 5000        # continue from shipped f16 weights (fresh optimizer)
    .venv/bin/python scripts/train.py --corpus target/corpus --out target/train-dur --text-alignment durations
    .venv/bin/python scripts/train.py --corpus target/joe --out target/speech --init engines/jamflow-small \
        --text-alignment durations --name jamflow-speech   # a durations package grown from the filler teacher
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import signal
import sys
import time
import wave
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
from heard import FORMANT_WARP_RANGE, formant_warp, recording_conditions  # noqa: E402

# Model sizes. "live" is the default model (sized for the audio->motion path at RTF <= 0.35 on two CPU cores);
# "tiny" is for the CI smoke test.
SIZES = {
    "live": {"audio": (192, 6, 4, 32), "motion": 96, "text": (96, 2)},
    "tiny": {"audio": (32, 2, 2, 16), "motion": 16, "text": (16, 1)},
}


def dit(dim: int, depth: int, heads: int, dim_head: int) -> dict:
    return {"dim": dim, "depth": depth, "heads": heads, "dim_head": dim_head, "ff_mult": 2}


# Floor of the per-channel motion std (inter-ocular units): channels that never move (the lip centres' x) stay 0.
MIN_MOTION_STD = 0.005


def motion_normalization(motion: list[torch.Tensor]) -> dict:
    """Per-channel mean and std of the training motion (model.json motion.normalization): the network works on
    (motion - mean) / std, so the mouth's few-percent displacements are on the unit scale of the flow's noise."""
    m = torch.cat(motion)  # [N, K]
    mean, std = m.mean(0), m.std(0).clamp(min=MIN_MOTION_STD)
    return {"mean": [round(float(v), 6) for v in mean], "std": [round(float(v), 6) for v in std]}


def make_config(size: str, vocab_size: int, name: str, alignment: str = "filler") -> dict:
    s = SIZES[size]
    (ad, depth, heads, dh), md, (td, conv) = s["audio"], s["motion"], s["text"]
    text = {"vocab_size": vocab_size, "dim": td, "conv_layers": conv}
    if alignment != "filler":  # filler is the default: existing packages' model.json stay as they are
        text["alignment"] = alignment
    return {
        "format": ref.FORMAT,
        "name": name,
        "text": text,
        "audio_dit": dit(ad, depth, heads, dh),
        "motion": {"layout": {"kind": "mouth4-2d"}, "fps": 25.0, "dit": dit(md, depth, heads, dh),
                   "known_mask_channel": True},
        "joint": {"window_s": 0.5},
    }


# ---------------------------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------------------------


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2 or w.getframerate() != ref.SAMPLE_RATE:
            raise ValueError(f"{path}: expected {ref.SAMPLE_RATE} Hz 16-bit mono")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32767.0


# Text alignments (model.json text.alignment, DESIGN §7; src/model/alignment.rs): "filler" = F5's characters padded
# with filler to the mel length; "durations" = one eSpeak phoneme id per mel frame, from the corpus's phone timings.
ALIGNMENTS = ("filler", "durations")
# The eSpeak pause: line 0 of a durations vocabulary, the id of frames without a phoneme (and of unknown names).
PAUSE = "_"


def text_alignment(cfg: dict) -> str:
    return (cfg.get("text") or {}).get("alignment", "filler")


def read_phones(path: Path) -> tuple[list[str], list[float], list[float]]:
    """An utterance's phone timeline from its motion safetensors: metadata `phonemes` (eSpeak names, space-separated;
    every engine's timeline is mapped onto them by `jamflow corpus make`), `ph_start` / `ph_end` in seconds."""
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
        start, end = f.get_tensor("ph_start").tolist(), f.get_tensor("ph_end").tolist()
    joined = meta.get("phonemes", "")
    names = joined.split(" ") if joined else []
    if len(names) != len(start) or len(start) != len(end):
        raise ValueError(f"{path}: {len(names)} phoneme names for {len(start)} starts and {len(end)} ends")
    return names, start, end


def frame_phonemes(names: list[str], start: list[float], end: list[float], rate: float, frames: int) -> list[str]:
    """The phoneme at each mel frame, frame i at i / rate seconds: the last phoneme starting at or before it, the
    pause before the first and after a phoneme's end. The same rule as src/model/alignment.rs `frame_names`."""
    out, k = [], 0
    for i in range(frames):
        t = i / rate
        while k < len(names) and start[k] <= t:
            k += 1
        out.append(names[k - 1] if k > 0 and t < end[k - 1] else PAUSE)
    return out


def build_vocab(corpora: list[tuple[dict, Path]], alignment: str = "filler") -> list[str]:
    """filler: the corpora's characters, a space first (F5's vocab); durations: their eSpeak phoneme names (every
    split's, so no evaluated name is unknown), the pause first. `corpora`: (manifest, root) of each corpus."""
    if alignment == "durations":
        names = set()
        for manifest, root in corpora:
            for u in manifest["utterances"]:
                names.update(read_phones(root / u["motion"])[0])
        return [PAUSE] + sorted(names - {PAUSE})
    chars = sorted({c for manifest, _ in corpora for u in manifest["utterances"] for c in u["text"]} - {" "})
    return [" "] + chars


class Corpus:
    """Mel (cached as float16 in CORPUS/mel-cache-SPLIT.pt), motion and text ids of one split. With cfg's
    text.alignment = "durations" the text ids are one phoneme id per mel frame (`frame_phonemes`)."""

    # The per-utterance lists, index-aligned (`union` joins and filters them together).
    ROWS = ("utts", "roots", "motion", "mel", "text")

    def __init__(self, root: Path, split: str, vocab: list[str], cfg: dict | None = None):
        manifest = json.loads((root / "manifest.json").read_text())
        self.utts = [u for u in manifest["utterances"] if u["split"] == split]
        self.held_out = {u["text"] for u in manifest["utterances"] if u["split"] != "train"}  # validation, test
        if not self.utts:
            raise ValueError(f"{root}/manifest.json: no utterances in split {split!r}")
        self.roots = [root] * len(self.utts)  # each utterance's corpus (`union` joins several)
        index = {c: i for i, c in enumerate(vocab)}
        self.motion = []
        for u in self.utts:
            with safe_open(str(root / u["motion"]), "pt") as f:
                self.motion.append(f.get_tensor("motion").float())
        self.mel = self._mels(root, split)
        if cfg is not None and text_alignment(cfg) == "durations":
            if vocab[0] != PAUSE:
                raise ValueError(f"a durations vocabulary starts with the pause {PAUSE!r}, found {vocab[0]!r}")
            rate = ref.mel_rate(ref.normalize_config(cfg))
            self.text = []
            for u, mel in zip(self.utts, self.mel, strict=True):
                names = frame_phonemes(*read_phones(root / u["motion"]), rate, mel.shape[0])
                self.text.append(torch.tensor([index.get(n, 0) for n in names], dtype=torch.long))  # [T]
        else:
            self.text = [torch.tensor([index.get(c, 0) for c in u["text"]], dtype=torch.long) for u in self.utts]
        self.wav: list[np.ndarray] | None = None  # int16 audio, loaded by keep_audio() for on-the-fly conditions

    def keep_audio(self) -> None:
        """Hold every utterance's audio (int16, ~0.17 MB per second of a split) for `heard_mel`."""
        self.wav = [(read_wav(r / u["wav"]) * 32767.0).astype(np.int16) for r, u in zip(self.roots, self.utts)]

    def heard_mel(self, i: int, gen: random.Random, p: float, p_warp: float = 0.0) -> torch.Tensor:
        """Row i's mel [T, n_mels] (float32), with probability p heard through freshly drawn recording conditions
        (`recording_conditions`): an a2m row's audio is known input, so a new room and noise every time it is drawn
        teach the audio -> motion path what the corpus' one fixed copy per utterance cannot. With probability
        p_warp (independently) its frequencies are then scaled by a drawn vocal-tract factor (`formant_warp`).
        Same frame count."""
        return self.heard_mels(i, gen, p, p_warp)[0]

    def heard_mels(self, i: int, gen: random.Random, p: float, p_warp: float) -> tuple[torch.Tensor, torch.Tensor]:
        """`heard_mel` and the same row before its vocal-tract warp (the drawn recording conditions kept)."""
        heard = unwarped = self._heard(i, gen, p)
        if p_warp > 0 and gen.random() < p_warp:
            lo, hi = FORMANT_WARP_RANGE
            heard = formant_warp(unwarped, math.exp(gen.uniform(math.log(lo), math.log(hi))))
        return heard, unwarped

    def _heard(self, i: int, gen: random.Random, p: float) -> torch.Tensor:
        if self.wav is None or p <= 0 or gen.random() >= p:
            return self.mel[i].float()
        rng = np.random.default_rng(gen.getrandbits(63))
        x = recording_conditions(self.wav[i].astype(np.float32) / 32767.0, rng,
                                 lambda: self.wav[int(rng.integers(len(self.wav)))].astype(np.float32) / 32767.0)
        from f5_tts.model.modules import get_vocos_mel_spectrogram

        mel = get_vocos_mel_spectrogram(torch.from_numpy(x)[None])[0].T.contiguous()  # [T, n_mels]
        return mel[: self.mel[i].shape[0]]

    @staticmethod
    def union(roots: list[Path], split: str, vocab: list[str], cfg: dict | None = None) -> "Corpus":
        """One split of several corpora as one (e.g. the many-voice corpus for motion beside one voice's for
        speech, or several seeds of one voice); rows are drawn uniformly over all their utterances. A training
        sentence that any of the corpora holds out (its validation or test split: two seeds of one voice draw from
        the same sentences) is dropped, so validation and test stay unseen."""
        data = Corpus(roots[0], split, vocab, cfg)
        for root in roots[1:]:
            more = Corpus(root, split, vocab, cfg)
            data.held_out |= more.held_out
            for field in Corpus.ROWS:
                getattr(data, field).extend(getattr(more, field))
        if split == "train":
            keep = [i for i, u in enumerate(data.utts) if u["text"] not in data.held_out]
            if len(keep) < len(data.utts):
                print(f"dropped {len(data.utts) - len(keep)} training utterances: their sentences are held out by "
                      "one of the corpora", flush=True)
                for field in Corpus.ROWS:
                    setattr(data, field, [getattr(data, field)[i] for i in keep])
        return data

    def _mels(self, root: Path, split: str) -> list[torch.Tensor]:
        cache = root / f"mel-cache-{split}.pt"
        if cache.exists():
            mels = torch.load(cache)
            if len(mels) == len(self.utts):
                return mels
        from f5_tts.model.modules import get_vocos_mel_spectrogram

        mels = []
        for k, u in enumerate(self.utts):
            wav = torch.from_numpy(read_wav(root / u["wav"]))
            mels.append(get_vocos_mel_spectrogram(wav[None])[0].T.to(torch.float16).contiguous())  # [T, 100]
            if (k + 1) % 1000 == 0:
                print(f"mel {split}: {k + 1}/{len(self.utts)}", flush=True)
        torch.save(mels, cache)
        return mels

    def __len__(self) -> int:
        return len(self.utts)


def span_mask(n: int, lo: float, hi: float, gen: random.Random) -> torch.Tensor:
    """True on one random span covering lo..hi of n frames (F5's mask_from_frac_lengths)."""
    length = max(1, round(n * gen.uniform(lo, hi)))
    start = gen.randint(0, n - length)
    m = torch.zeros(n, dtype=torch.bool)
    m[start : start + length] = True
    return m


def make_batch(data: Corpus, idx: list[int], gen: random.Random, args) -> tuple[dict, dict]:
    """Graph inputs (minus noisy/time) + targets and loss masks for rows idx."""
    b = len(idx)
    t_max = max(data.mel[i].shape[0] for i in idx)
    f_max = max(data.motion[i].shape[0] for i in idx)
    n_max = max(len(data.text[i]) for i in idx)
    n_mels, motion_dims = data.mel[idx[0]].shape[1], data.motion[idx[0]].shape[1]  # the corpus's own sizes
    mel = torch.zeros(b, t_max, n_mels)  # [B, T_mel, n_mels]
    motion = torch.zeros(b, f_max, motion_dims)  # [B, F, motion dims]
    text = torch.full((b, n_max), -1, dtype=torch.long)
    mel_mask = torch.zeros(b, t_max, dtype=torch.bool)
    motion_mask = torch.zeros(b, f_max, dtype=torch.bool)
    mel_loss = torch.zeros(b, t_max, dtype=torch.bool)  # unknown (generated) frames
    motion_loss = torch.zeros(b, f_max, dtype=torch.bool)
    uncond = torch.zeros(b, dtype=torch.bool)
    for r, i in enumerate(idx):
        t, f = data.mel[i].shape[0], data.motion[i].shape[0]
        task = gen.choices(["tts", "a2m", "m2a", "both"], weights=args.task_weights)[0]
        heard = getattr(data, "heard_mel", None)
        p_aug = getattr(args, "augment", 0.0) if task == "a2m" else 0.0
        p_warp = getattr(args, "formant_warp", 0.0) if task == "a2m" else 0.0
        mel[r, :t] = heard(i, gen, p_aug, p_warp) if heard is not None else data.mel[i].float()
        motion[r, :f] = data.motion[i]
        mel_mask[r, :t], motion_mask[r, :f] = True, True
        if task == "tts":
            # F5's prompt inpainting, or (share --tts-whole) the whole mel unknown: speech with no reference voice
            whole = gen.random() < getattr(args, "tts_whole", 0.0)
            mel_loss[r, :t] = True if whole else span_mask(t, 0.7, 1.0, gen)
            motion_loss[r, :f] = True
        elif task == "a2m":
            motion_loss[r, :f] = True
            if gen.random() < 0.3:  # continuation: a known prefix of motion
                motion_loss[r, : gen.randint(0, f // 2)] = False
        elif task == "m2a":
            mel_loss[r, :t] = span_mask(t, 0.7, 1.0, gen)
        else:
            mel_loss[r, :t] = span_mask(t, 0.3, 1.0, gen)
            motion_loss[r, :f] = span_mask(f, 0.3, 1.0, gen)
        if gen.random() < args.p_uncond:
            uncond[r] = True
        elif gen.random() < args.p_drop_text or task == "a2m" and gen.random() < 0.5:
            continue  # text dropped: stays all padding (-1), which F5 embeds as its filler token
        n = len(data.text[i])
        text[r, :n] = data.text[i]
    known_mel = mel_mask & ~mel_loss
    known_motion = motion_mask & ~motion_loss
    inputs = {
        "cond_mel": torch.where(known_mel[..., None], mel, 0.0),
        "text": text,
        "mel_mask": mel_mask,
        "uncond": uncond,
        "cond_motion": torch.where(known_motion[..., None], motion, 0.0),
        "motion_mask": motion_mask,
        "motion_known": known_motion,
    }
    targets = {"mel": mel, "motion": motion, "mel_loss": mel_loss, "motion_loss": motion_loss}
    return inputs, targets


def flow_loss(model, inputs: dict, tg: dict, gen: torch.Generator) -> tuple[torch.Tensor, float, float]:
    b = tg["mel"].shape[0]
    t = torch.rand(b, generator=gen)
    x0_mel = torch.randn(tg["mel"].shape, generator=gen)
    x0_mot = torch.randn(tg["motion"].shape, generator=gen)
    tt = t[:, None, None]
    call = dict(inputs, time=t, noisy_mel=(1 - tt) * x0_mel + tt * tg["mel"],
                noisy_motion=(1 - tt) * x0_mot + tt * tg["motion"])
    out = model(call)
    mel_err = ((out["mel_velocity"] - (tg["mel"] - x0_mel)) ** 2).mean(-1)
    mot_err = ((out["motion_velocity"] - (tg["motion"] - x0_mot)) ** 2).mean(-1)
    ml, mm = tg["mel_loss"], tg["motion_loss"]
    mel_l = (mel_err * ml).sum() / ml.sum().clamp(min=1)
    mot_l = (mot_err * mm).sum() / mm.sum().clamp(min=1)
    return mel_l + mot_l, float(mel_l.detach()), float(mot_l.detach())


# ---------------------------------------------------------------------------------------------------------------
# Package
# ---------------------------------------------------------------------------------------------------------------


def write_package(pkg: Path, cfg: dict, model: torch.nn.Module, vocab: list[str], dtype: torch.dtype) -> None:
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "model.json").write_text(json.dumps(cfg, indent=2) + "\n")
    sd = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(sd, str(pkg / "model.safetensors"))
    (pkg / "vocab.txt").write_text("".join(c + "\n" for c in vocab), encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, nargs="+", required=True,
                    help="corpus directories (`jamflow corpus make`); several are trained on as one")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--size", choices=sorted(SIZES), default="live")
    ap.add_argument("--name", default="jamflow-small")
    ap.add_argument("--steps", type=int, default=1000, help="train until this global step")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--lr-end", type=float, default=None, metavar="LR",
                    help="decay the learning rate linearly from --lr at the step this run starts at to LR at --steps "
                         "(default: constant --lr)")
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--p-uncond", type=float, default=0.2)
    ap.add_argument("--p-drop-text", type=float, default=0.2)
    ap.add_argument("--task-weights", type=float, nargs=4, default=[0.25, 0.5, 0.05, 0.2],
                    metavar=("TTS", "A2M", "M2A", "BOTH"))
    ap.add_argument("--tts-whole", type=float, default=0.0, metavar="P",
                    help="share of tts rows whose whole mel is unknown (speaking with no reference voice, as "
                    "`say` without --reference); the rest keep F5's 0-30 %% known prompt")
    ap.add_argument("--augment", type=float, default=0.0, metavar="P",
                    help="share of a2m rows heard through freshly drawn room / noise / level (recording_conditions)")
    ap.add_argument("--formant-warp", type=float, default=0.0, metavar="P",
                    help="share of a2m rows whose heard mel has every frequency scaled by a factor drawn from "
                    f"{FORMANT_WARP_RANGE[0]}-{FORMANT_WARP_RANGE[1]} (vocal-tract length; formant_warp)")
    ap.add_argument("--f16", action="store_true", help="package weights in float16 (default float32)")
    ap.add_argument("--resume", action="store_true", help="continue OUT/ckpt.pt")
    ap.add_argument("--init", type=Path, help="start from a package's weights (model.json, model.safetensors, "
                    "vocab.txt; e.g. engines/jamflow-small): model and EMA from it, fresh optimizer, --init-step")
    ap.add_argument("--init-step", type=int, default=0, help="global step of the --init weights (for logs, warm-up)")
    ap.add_argument("--text-alignment", choices=ALIGNMENTS, default=None,
                    help="a new package's text input (model.json text.alignment): filler (characters, F5; the "
                    "default) or durations (one eSpeak phoneme id per mel frame from the corpus's phone timings); "
                    "--resume keeps its own; with --init of another alignment, the vocabulary is built from --corpus "
                    "and the text embedding table starts fresh (every other weight kept)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt_path = args.out / "ckpt.pt"

    corpora = [(json.loads((c / "manifest.json").read_text()), c) for c in args.corpus]
    new_text = False  # --init of another text alignment: a fresh embedding table
    if args.resume:
        if not ckpt_path.exists():
            sys.exit(f"--resume: {ckpt_path} does not exist")
        ck = torch.load(ckpt_path, weights_only=False)
        cfg, vocab = ck["config"], ck["vocab"]
    elif args.init:
        cfg = ref.read_config(args.init)
        vocab = ref.read_vocab(args.init, cfg)
        ck = None
        new_text = args.text_alignment is not None and args.text_alignment != text_alignment(cfg)
        if new_text:
            # A new text input on trained weights (e.g. a durations speech package grown from the filler teacher):
            # the vocabulary is the corpus's, the embedding table starts fresh, every other weight is kept.
            vocab = build_vocab(corpora, args.text_alignment)
            cfg = copy.deepcopy(cfg)
            cfg["name"] = args.name
            cfg["text"]["vocab_size"] = len(vocab)
            cfg["text"].pop("vocab_file", None)
            if args.text_alignment == "filler":
                cfg["text"].pop("alignment", None)
            else:
                cfg["text"]["alignment"] = args.text_alignment
    else:
        alignment = args.text_alignment or "filler"
        vocab = build_vocab(corpora, alignment)
        cfg = make_config(args.size, len(vocab), args.name, alignment)
        ck = None
    if args.text_alignment is not None and args.text_alignment != text_alignment(cfg):
        sys.exit(f"--text-alignment {args.text_alignment}: the continued weights are {text_alignment(cfg)!r}")
    model = ref.build(cfg).train()
    ema = copy.deepcopy(model).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    step, log = 0, []
    gen = random.Random(args.seed)
    tgen = torch.Generator().manual_seed(args.seed)
    if args.init and not args.resume:
        sd = {k: v.float() for k, v in load_file(str(args.init / "model.safetensors")).items()}
        own = model.state_dict()
        fresh = sorted(k for k in own if k not in sd or sd[k].shape != own[k].shape)
        if fresh and not new_text:
            sys.exit(f"--init {args.init}: weights do not fit the model: {', '.join(fresh)}")
        sd = {k: v for k, v in sd.items() if k not in fresh}
        model.load_state_dict({**own, **sd})
        ema.load_state_dict(model.state_dict())
        if fresh:
            print(f"init: fresh for the new text input: {', '.join(fresh)}", flush=True)
        step = args.init_step
    if ck is not None:
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        step, log = ck["step"], ck["log"]
        gen.setstate(ck["py_rng"])
        tgen.set_state(ck["torch_rng"])
    start = step  # where this run starts: the --lr-end decay runs from here to --steps
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {args.size}: {n_params / 1e6:.2f} M parameters; step {step} -> {args.steps}", flush=True)

    data = Corpus.union(args.corpus, "train", vocab, cfg)
    print(f"train: {len(data)} utterances, text {text_alignment(cfg)} ({len(vocab)} entries)", flush=True)
    if args.augment > 0:
        data.keep_audio()
    if cfg["motion"].get("normalization") is None and not args.resume and not args.init:
        cfg["motion"]["normalization"] = motion_normalization(data.motion)
    norm = cfg["motion"].get("normalization")
    if norm is not None:
        mean, std = torch.tensor(norm["mean"]), torch.tensor(norm["std"])
        data.motion = [(m - mean) / std for m in data.motion]
        print(f"motion normalization: std {[round(v, 4) for v in norm['std']]}", flush=True)

    def save() -> None:
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "log": log, "py_rng": gen.getstate(), "torch_rng": tgen.get_state(), "config": cfg,
                    "vocab": vocab}, tmp)
        tmp.replace(ckpt_path)
        write_package(args.out / "package", cfg, ema, vocab, torch.float16 if args.f16 else torch.float32)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    t0, run_mel, run_mot, run_n = time.time(), 0.0, 0.0, 0
    while step < args.steps and not stop["now"]:
        idx = [gen.randrange(len(data)) for _ in range(args.batch)]
        inputs, tg = make_batch(data, idx, gen, args)
        lr = args.lr * min(1.0, (step + 1 - args.init_step) / args.warmup)
        if args.lr_end is not None:
            lr += (args.lr_end - args.lr) * (step - start) / max(1, args.steps - start)
        for g in opt.param_groups:
            g["lr"] = lr
        loss, ml, mm = flow_loss(model, inputs, tg, tgen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():  # EMA with warm-up: short runs are not dominated by the initial weights
            decay = min(args.ema, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        step += 1
        run_mel += ml
        run_mot += mm
        run_n += 1
        if step % args.log_every == 0:
            k = run_n
            log.append({"step": step, "mel": run_mel / k, "motion": run_mot / k, "time": time.time()})
            print(f"step {step}: mel {run_mel / k:.4f} motion {run_mot / k:.4f} lr {lr:.2e} "
                  f"{(time.time() - t0) / k:.2f} s/step", flush=True)
            t0, run_mel, run_mot, run_n = time.time(), 0.0, 0.0, 0
        if step % args.ckpt_every == 0:
            save()
    save()
    print(f"saved step {step} -> {ckpt_path} and {args.out / 'package'}", flush=True)


if __name__ == "__main__":
    main()
