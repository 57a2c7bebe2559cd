"""Oracle data for the Rust tests: model packages with random weights, graph inputs and PyTorch outputs.

Subcommands (run with the project venv, e.g. `.venv/bin/python scripts/oracle.py f5 --preset small --seed 1
--out /tmp/f5`):

    f5        F5-TTS DiT package (f5_tts itself) + inputs.safetensors + expected.safetensors
    mmdit     MM-DiT package (scripts/jamflow_ref.py) + inputs + expected
    sampler   small liveportrait MM-DiT package + sampler_inputs / sampler_expected / sampler_args.json
    f5ckpt    upstream-style F5 checkpoint (ema_model.transformer.* keys + EMA bookkeeping) + vocab + expected
    bench     PyTorch eager ms per network evaluation (batch 2 = cond + uncond) of a package
    selfcheck consistency checks of the reference itself (see `selfcheck`)

Tensors are written with safetensors.numpy: booleans as BOOL, ids as I64, everything else F32.
"""

from __future__ import annotations

import argparse
import json
import shutil
import string
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as np_load
from safetensors.numpy import save_file as np_save
from safetensors.torch import load_file as torch_load
from safetensors.torch import save_file as torch_save

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref

# F5 warns that attn_mask_enabled with the torch backend is memory hungry; irrelevant at these sizes.
warnings.filterwarnings("ignore", message="attn_mask_enabled=True")

LIVEPORTRAIT_LAYOUT = {"kind": "liveportrait-mouth4", "keypoints": [6, 12, 14, 17]}
MOUTH4_2D_LAYOUT = {"kind": "mouth4-2d"}

# ---------------------------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------------------------

# Audio presets: (text, audio_dit, default mel frames of the test inputs).
AUDIO_PRESETS = {
    "small": (
        {"vocab_size": 40, "dim": 32, "conv_layers": 2, "mask_padding": True},
        {"dim": 64, "depth": 3, "heads": 4, "dim_head": 16, "ff_mult": 2},
        150,
    ),
    # F5TTS_v1_Base widths, depth 2.
    "base2": (
        {"vocab_size": 2545, "dim": 512, "conv_layers": 4, "mask_padding": True},
        {"dim": 1024, "depth": 2, "heads": 16, "dim_head": 64, "ff_mult": 2, "attn_mask_enabled": False},
        120,
    ),
}
MOTION_DIM_SMALL = 32


def dit_variant(dit: dict, args: argparse.Namespace) -> dict:
    """Apply the optional block switches of the command line to one stream's DiT config."""
    dit = dict(dit)
    if getattr(args, "qk_norm", False):
        dit["qk_norm"] = "rms_norm"
    if getattr(args, "pe_attn_head", None) is not None:
        dit["pe_attn_head"] = args.pe_attn_head
    if getattr(args, "attn_mask", False):
        dit["attn_mask_enabled"] = True
    if getattr(args, "long_skip", False):
        dit["long_skip_connection"] = True
    return dit


def full_dit(dit: dict) -> dict:
    """Every DitConfig field written explicitly (serde defaults filled in)."""
    return ref._with_defaults(dit, ref._DIT_DEFAULTS)


def audio_config(preset: str, args: argparse.Namespace, name: str) -> dict:
    text, dit, _ = AUDIO_PRESETS[preset]
    return {
        "format": ref.FORMAT,
        "name": name,
        "audio": dict(ref._AUDIO_DEFAULTS),
        "text": ref._with_defaults(text, ref._TEXT_DEFAULTS),
        "audio_dit": full_dit(dit_variant(dit, args)),
        "motion": None,
        "joint": None,
        "sampler": json.loads(json.dumps(ref._SAMPLER_DEFAULTS)),
    }


def mmdit_config(preset: str, layout: dict, known_channel: bool, args: argparse.Namespace, name: str) -> dict:
    if preset != "small":
        raise SystemExit(f"mmdit: unknown preset {preset!r} (only 'small')")
    cfg = audio_config(preset, args, name)
    a = cfg["audio_dit"]
    motion_dit = {k: a[k] for k in ("depth", "heads", "dim_head", "ff_mult", "qk_norm", "pe_attn_head")}
    motion_dit.update(dim=MOTION_DIM_SMALL, attn_mask_enabled=a["attn_mask_enabled"])
    motion_dit["long_skip_connection"] = a["long_skip_connection"]
    if getattr(args, "motion_conv_kernel", None) is not None:
        motion_dit["conv_pos_kernel"] = args.motion_conv_kernel
    cfg["motion"] = {"layout": layout, "fps": 25.0, "dit": full_dit(motion_dit), "known_mask_channel": known_channel}
    layers = getattr(args, "joint_layers", None)
    cfg["joint"] = {"layers": layers, "window_s": getattr(args, "window_s", 0.5)}
    return cfg


def parse_layers(text: str) -> list[int]:
    """'0,2' -> [0, 2]; '' -> [] (no joint layer)."""
    return [int(p) for p in text.split(",") if p.strip()]


def layout_arg(name: str) -> dict:
    return {"mouth4-2d": MOUTH4_2D_LAYOUT, "liveportrait": LIVEPORTRAIT_LAYOUT}[name]


# ---------------------------------------------------------------------------------------------------------------
# Packages and tensors
# ---------------------------------------------------------------------------------------------------------------


def vocab_lines(n: int) -> list[str]:
    """`n` distinct single characters, F5 style: line 0 is a space, then ASCII, then CJK ideographs."""
    chars = [" ", *(string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation)]
    chars += [chr(0x4E00 + i) for i in range(max(0, n - len(chars)))]
    return chars[:n]


def write_vocab(path: Path, n: int) -> None:
    # F5 reads each line as `line[:-1]`, so every line (the last too) ends with "\n".
    path.write_text("".join(c + "\n" for c in vocab_lines(n)), encoding="utf-8")


def state_dict_f32(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}


def write_package(pkg: Path, cfg: dict, model: torch.nn.Module) -> None:
    """pkg/model.json + pkg/model.safetensors (float32, reference state-dict keys) + pkg/vocab.txt."""
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "model.json").write_text(json.dumps(cfg, indent=2) + "\n")
    torch_save(state_dict_f32(model), str(pkg / "model.safetensors"))
    if cfg.get("text"):
        write_vocab(pkg / cfg["text"]["vocab_file"], cfg["text"]["vocab_size"])


def load_package(pkg: Path) -> tuple[dict, torch.nn.Module]:
    """model.json + model.safetensors -> (normalized cfg, reference model with the weights, strict)."""
    raw, model = ref.load_package(pkg)
    return ref.normalize_config(raw), model


def to_numpy(tensors: dict) -> dict[str, np.ndarray]:
    out = {}
    for k, v in tensors.items():
        a = v.detach().cpu().numpy() if torch.is_tensor(v) else np.asarray(v)
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        out[k] = np.ascontiguousarray(a)
    return out


def save(path: Path, tensors: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np_save(to_numpy(tensors), str(path))


# ---------------------------------------------------------------------------------------------------------------
# Test inputs
# ---------------------------------------------------------------------------------------------------------------

B = 3
TIMES = [0.1, 0.5, 0.9]
MEL_PAD_ROW1 = 30  # row 1: mel_mask false over its last 30 frames
MOTION_PAD_ROW1 = 8  # row 1: motion_mask false over its last 8 frames
SHORT_TEXT = 40


def make_inputs(cfg: dict, mel_frames: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """B=3 graph inputs: row 0 full masks and text longer than T, row 1 padded tail and short text, row 2 uncond.

    Every row (the uncond one too) has non-zero cond values, so a missing drop is visible.
    """
    t, n_mels = mel_frames, cfg["audio"]["n_mels"]
    vocab = cfg["text"]["vocab_size"]
    nt = t + 40
    text = np.full((B, nt), -1, dtype=np.int64)
    text[0] = rng.integers(0, vocab, nt)
    for r in (1, 2):
        text[r, :SHORT_TEXT] = rng.integers(0, vocab, SHORT_TEXT)
    mel_mask = np.ones((B, t), dtype=bool)
    mel_mask[1, t - MEL_PAD_ROW1 :] = False
    known = int(t * 0.35)
    cond_mel = np.zeros((B, t, n_mels), dtype=np.float32)
    cond_mel[:, :known] = rng.standard_normal((B, known, n_mels)) * 2.0 - 5.0  # log-mel like
    x = {
        "noisy_mel": rng.standard_normal((B, t, n_mels)).astype(np.float32),
        "cond_mel": cond_mel,
        "text": text,
        "mel_mask": mel_mask,
        "time": np.array(TIMES, dtype=np.float32),
        "uncond": np.array([False, False, True]),
    }
    if cfg.get("motion"):
        f, k, r = ref.motion_frames_for(cfg, t), ref.motion_dim(cfg), ref.rest_dim(cfg)
        motion_mask = np.ones((B, f), dtype=bool)
        motion_mask[1, f - MOTION_PAD_ROW1 :] = False
        motion_known = np.zeros((B, f), dtype=bool)
        motion_known[:, : int(f * 0.3)] = True
        motion_known[0, f // 2 : f // 2 + 3] = True  # a known island inside row 0
        x["noisy_motion"] = rng.standard_normal((B, f, k)).astype(np.float32)
        x["cond_motion"] = np.where(motion_known[..., None], rng.standard_normal((B, f, k)), 0).astype(np.float32)
        if r > 0:
            x["rest"] = (0.5 * rng.standard_normal((B, f, r))).astype(np.float32)
        x["motion_mask"] = motion_mask
        if cfg["motion"]["known_mask_channel"]:
            x["motion_known"] = motion_known
    return x


def graph_order(cfg: dict, x: dict) -> dict:
    """Inputs in io.rs graph order (only those the package takes)."""
    names = ["noisy_mel", "cond_mel", "text", "mel_mask", "time", "uncond"]
    if cfg.get("motion"):
        names += ["noisy_motion", "cond_motion", "rest", "motion_mask", "motion_known"]
    return {n: x[n] for n in names if n in x}


def write_case(out: Path, cfg: dict, model: torch.nn.Module, mel_frames: int, seed: int) -> dict:
    """inputs.safetensors + expected.safetensors of one package; returns the outputs."""
    x = graph_order(cfg, make_inputs(ref.normalize_config(cfg), mel_frames, np.random.default_rng(seed + 1000)))
    y = ref.run(model, x)
    save(out / "inputs.safetensors", x)
    save(out / "expected.safetensors", y)
    return y


def describe(y: dict) -> str:
    return ", ".join(f"{k} {tuple(v.shape)} std {v.std().item():.3f}" for k, v in y.items())


# ---------------------------------------------------------------------------------------------------------------
# Subcommands
# ---------------------------------------------------------------------------------------------------------------


def cmd_f5(args: argparse.Namespace) -> None:
    out = Path(args.out)
    cfg = audio_config(args.preset, args, f"oracle-f5-{args.preset}")
    model = ref.randomize(ref.build(cfg), args.seed)
    write_package(out / "pkg", cfg, model)
    y = write_case(out, cfg, model, args.mel_frames or AUDIO_PRESETS[args.preset][2], args.seed)
    print(f"f5 {args.preset}: {out} ({describe(y)})")


def cmd_mmdit(args: argparse.Namespace) -> None:
    out = Path(args.out)
    cfg = mmdit_config(args.preset, layout_arg(args.layout), args.known_channel, args, f"oracle-mmdit-{args.layout}")
    model = ref.randomize(ref.build(cfg), args.seed)
    write_package(out / "pkg", cfg, model)
    y = write_case(out, cfg, model, args.mel_frames or AUDIO_PRESETS[args.preset][2], args.seed)
    print(f"mmdit {args.layout} joint {ref.joint_layers(ref.normalize_config(cfg))}: {out} ({describe(y)})")


SAMPLER_ARGS = {"steps": 8, "schedule": {"kind": "sway", "coef": -1.0}, "cfg": 2.0}


def cmd_sampler(args: argparse.Namespace) -> None:
    out = Path(args.out)
    ns = argparse.Namespace(joint_layers=None, window_s=0.5)
    cfg = mmdit_config("small", LIVEPORTRAIT_LAYOUT, True, ns, "oracle-sampler")
    cfg["sampler"] = {
        "steps": SAMPLER_ARGS["steps"],
        "schedule": SAMPLER_ARGS["schedule"],
        "cfg_strength": SAMPLER_ARGS["cfg"],
        "guidance_baked": False,
    }
    model = ref.randomize(ref.build(cfg), args.seed)
    write_package(out / "pkg", cfg, model)

    ncfg = ref.normalize_config(cfg)
    rng = np.random.default_rng(args.seed + 2000)
    t = args.mel_frames
    f, k, r, n_mels = ref.motion_frames_for(ncfg, t), ref.motion_dim(ncfg), ref.rest_dim(ncfg), 100
    mel_known = np.arange(t) < 60
    motion_known = np.arange(f) < 16
    x = {
        "cond_mel": np.where(mel_known[:, None], rng.standard_normal((t, n_mels)) * 2.0 - 5.0, 0).astype(np.float32),
        "mel_known": mel_known,
        "text": rng.integers(0, ncfg["text"]["vocab_size"], 50).astype(np.int64),
        "cond_motion": np.where(motion_known[:, None], rng.standard_normal((f, k)), 0).astype(np.float32),
        "motion_known": motion_known,
        "rest": (0.5 * rng.standard_normal((f, r))).astype(np.float32),
        "noise_mel": rng.standard_normal((t, n_mels)).astype(np.float32),
        "noise_motion": rng.standard_normal((f, k)).astype(np.float32),
    }
    t_list = ref.schedule_from_config(SAMPLER_ARGS["schedule"], SAMPLER_ARGS["steps"])
    y = ref.sample(model, ncfg, x, t_list, SAMPLER_ARGS["cfg"])
    save(out / "sampler_inputs.safetensors", x)
    # `t` (the schedule's times) is extra, for diagnosing a schedule mismatch.
    save(out / "sampler_expected.safetensors", {"mel": y["mel"], "motion": y["motion"], "t": t_list})
    (out / "sampler_args.json").write_text(json.dumps(SAMPLER_ARGS) + "\n")
    print(f"sampler: {out} (T {t}, F {f}, t {[round(v, 4) for v in t_list.tolist()]}, {describe(y)})")


def ckpt_paths(out: str) -> tuple[Path, Path, Path]:
    """FILE.safetensors -> (FILE.safetensors, FILE.vocab.txt, FILE.expected/)."""
    path = Path(out)
    stem = path.with_suffix("") if path.suffix == ".safetensors" else path
    return path, Path(f"{stem}.vocab.txt"), Path(f"{stem}.expected")


def cmd_f5ckpt(args: argparse.Namespace) -> None:
    path, vocab_path, expected_dir = ckpt_paths(args.out)
    cfg = audio_config(args.preset, args, f"oracle-f5ckpt-{args.preset}")
    model = ref.randomize(ref.build(cfg), args.seed)
    tensors = {f"ema_model.transformer.{k}": v for k, v in state_dict_f32(model).items()}
    # EMA bookkeeping of ema_pytorch (bool / int64 scalars), at the top level as in F5's published files and,
    # to exercise the importer's filtering, under ema_model. too.
    for prefix in ("", "ema_model."):
        tensors[f"{prefix}initted"] = torch.tensor(True)
        tensors[f"{prefix}step"] = torch.tensor(1_250_000, dtype=torch.int64)
    if args.legacy_mel_keys:  # older checkpoints (before F5 commit 305e3ea) carry the mel front end's buffers
        tensors["ema_model.mel_spec.mel_stft.mel_scale.fb"] = torch.rand(513, 100)
        tensors["ema_model.mel_spec.mel_stft.spectrogram.window"] = torch.hann_window(1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch_save(tensors, str(path), metadata={"format": "pt"})
    write_vocab(vocab_path, cfg["text"]["vocab_size"])
    expected_dir.mkdir(parents=True, exist_ok=True)
    (expected_dir / "model.json").write_text(json.dumps(cfg, indent=2) + "\n")  # what an import should yield
    y = write_case(expected_dir, cfg, model, args.mel_frames or AUDIO_PRESETS[args.preset][2], args.seed)
    print(f"f5ckpt {args.preset}: {path}, {vocab_path}, {expected_dir}/ ({describe(y)})")


def cmd_bench(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    cfg, model = load_package(Path(args.pkg))
    rng = np.random.default_rng(0)
    t = args.mel_frames
    n_mels = cfg["audio"]["n_mels"]
    n_text = max(1, t // 3)
    text = torch.from_numpy(rng.integers(0, cfg["text"]["vocab_size"], (1, n_text)))
    noisy = torch.from_numpy(rng.standard_normal((1, t, n_mels)).astype(np.float32))
    cond = torch.zeros_like(noisy)
    cond[:, : t // 3] = noisy[:, : t // 3]
    tm = torch.tensor([0.5])
    if isinstance(model, ref.JamFlowMMDiT):
        f = ref.motion_frames_for(cfg, t)
        k, r = ref.motion_dim(cfg), ref.rest_dim(cfg)

        def two(a: torch.Tensor) -> torch.Tensor:
            return torch.cat((a, a), dim=0)

        x = {
            "noisy_mel": two(noisy),
            "cond_mel": two(cond),
            "text": two(text),
            "mel_mask": torch.ones(2, t, dtype=torch.bool),
            "time": two(tm),
            "uncond": torch.tensor([False, True]),
            "noisy_motion": torch.randn(2, f, k),
            "cond_motion": torch.zeros(2, f, k),
            "motion_mask": torch.ones(2, f, dtype=torch.bool),
        }
        if r > 0:
            x["rest"] = torch.randn(2, f, r)
        if cfg["motion"]["known_mask_channel"]:
            x["motion_known"] = torch.zeros(2, f, dtype=torch.bool)

        def nfe() -> None:
            model(x)
    else:
        f = 0

        def nfe() -> None:
            # F5's own inference call: one row, cond and uncond packed inside (batch 2), no text cache.
            model(x=noisy, cond=cond, text=text, time=tm, mask=None, cfg_infer=True, cache=False)

    with torch.inference_mode():
        for _ in range(2):
            nfe()
        start = time.perf_counter()
        for _ in range(args.iters):
            nfe()
        ms = (time.perf_counter() - start) * 1000.0 / args.iters
    kind = "mmdit" if f else "f5"
    result = {
        "torch_version": torch.__version__,
        "ms_per_nfe": round(ms, 3),
        "model": kind,
        "threads": args.threads,
        "batch": 2,
        "mel_frames": t,
        "motion_frames": f,
        "iters": args.iters,
    }
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------------------------
# Self-checks
# ---------------------------------------------------------------------------------------------------------------


def _check(ok: bool, what: str) -> None:
    print(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        raise SystemExit(f"selfcheck failed: {what}")


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


def _check_written_case(case: Path, pkg: Path) -> None:
    """Reload a written package and inputs; recompute; compare with the written expected outputs."""
    _, model = load_package(pkg)
    x = np_load(str(case / "inputs.safetensors"))
    want = {"text": np.int64, "mel_mask": np.bool_, "uncond": np.bool_, "motion_mask": np.bool_}
    want["motion_known"] = np.bool_
    bad = [f"{n}:{a.dtype}" for n, a in x.items() if a.dtype != want.get(n, np.float32)]
    _check(not bad, f"{case.name}: input dtypes (I64 text, BOOL masks, F32 rest) {bad or ''}")
    expected = np_load(str(case / "expected.safetensors"))
    y = ref.run(model, x)
    for name, want in expected.items():
        d = np.abs(y[name].numpy() - want).max()
        _check(d == 0.0 and np.isfinite(want).all(), f"{case.name}: reloaded package reproduces {name} (diff {d})")


def selfcheck(_args: argparse.Namespace | None = None) -> None:
    """Consistency checks of the reference (run with `oracle.py selfcheck`)."""
    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="jamflow-oracle-"))
    print(f"selfcheck in {tmp}")
    ns = argparse.Namespace(joint_layers=None, window_s=0.5)

    print("F5 DiT (audio-only) reference:")
    cfg = ref.normalize_config(audio_config("small", ns, "check"))
    m1 = ref.randomize(ref.build(cfg), 7)
    m2 = ref.randomize(ref.build(cfg), 7)
    same = all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True))
    _check(same, "randomize is deterministic")
    zero = [k for k, v in m1.named_parameters() if bool((v == 0).all())]
    _check(not zero, f"no all-zero parameter ({zero})")
    x = make_inputs(cfg, 150, np.random.default_rng(3))
    y1, y2 = ref.run(m1, x)["mel_velocity"], ref.run(m1, x)["mel_velocity"]
    _check(torch.equal(y1, y2), "F5 forward is deterministic")
    _check(bool(torch.isfinite(y1).all()) and 0.1 < y1.std().item() < 10, f"outputs O(1) (std {y1.std():.3f})")
    # Per-row uncond == F5 on the cond rows and the uncond rows as separate sub-batches.
    xt = ref.as_torch_inputs(x)
    with torch.no_grad():
        for rows, drop in (([0, 1], False), ([2], True)):
            sub = {k: v[rows] for k, v in xt.items()}
            ys = m1(
                sub["noisy_mel"],
                sub["cond_mel"],
                sub["text"],
                sub["time"],
                mask=sub["mel_mask"],
                drop_audio_cond=drop,
                drop_text=drop,
            )
            d = _max_diff(ys, y1[rows])
            _check(d < 1e-5, f"rows {rows} (drop={drop}) equal F5 on that sub-batch alone (diff {d:.2e})")
    # An all-true mel_mask is F5's mask=None.
    xf = dict(xt, mel_mask=torch.ones_like(xt["mel_mask"]), uncond=torch.zeros(B, dtype=torch.bool))
    with torch.no_grad():
        yn = m1(xf["noisy_mel"], xf["cond_mel"], xf["text"], xf["time"], mask=None)
    d = _max_diff(yn, ref.run(m1, xf)["mel_velocity"])
    _check(d < 1e-5, f"all-true mel_mask equals F5 mask=None (diff {d:.2e})")

    print("MM-DiT reference:")
    # (a) no joint layer: the audio stream is F5 alone on the same weights.
    for layout, known in ((MOUTH4_2D_LAYOUT, False), (LIVEPORTRAIT_LAYOUT, True)):
        cfg = ref.normalize_config(
            mmdit_config("small", layout, known, argparse.Namespace(joint_layers=[], window_s=0.5), "check")
        )
        mm = ref.randomize(ref.build(cfg), 11)
        audio_cfg = dict(cfg, motion=None, joint=None)
        f5 = ref.build(audio_cfg)
        sd = {k: v for k, v in mm.state_dict().items() if not k.startswith("motion.")}
        f5.load_state_dict(sd, strict=True)
        x = make_inputs(cfg, 150, np.random.default_rng(5))
        ya, yf = ref.run(mm, x), ref.run(f5, x)
        d = _max_diff(ya["mel_velocity"], yf["mel_velocity"])
        _check(d < 1e-5, f"{layout['kind']}: joint.layers=[] audio == F5 DiT with motion keys stripped (diff {d:.2e})")
        x2 = dict(x, noisy_mel=x["noisy_mel"] + 1.0, text=np.where(x["text"] >= 0, 0, -1))
        d = _max_diff(ref.run(mm, x2)["motion_velocity"], ya["motion_velocity"])
        _check(d == 0.0, f"{layout['kind']}: joint.layers=[] motion independent of audio inputs")
        _check(bool(torch.isfinite(ya["motion_velocity"]).all()), f"{layout['kind']}: motion output finite")

    # Joint mask boundary: window 0.5 s = 46.875 mel frames; motion frame 12 at 45, frame 13 at 48.75.
    cfg = ref.normalize_config(mmdit_config("small", MOUTH4_2D_LAYOUT, False, ns, "check"))
    mm = ref.build(cfg)
    mask = mm.joint_mask(torch.ones(1, 100, dtype=torch.bool), torch.ones(1, 27, dtype=torch.bool))[0, 0]
    _check(bool(mask[0, 100 + 12]) and not bool(mask[0, 100 + 13]), "joint mask: audio 0 sees motion 12, not 13")
    _check(bool(mask[100 + 13, 2]) and not bool(mask[100 + 13, 1]), "joint mask: motion 13 (48.75) sees audio 2, not 1")
    mm_mask = torch.ones(1, 27, dtype=torch.bool)
    mm_mask[0, 5] = False
    mask = mm.joint_mask(torch.ones(1, 100, dtype=torch.bool), mm_mask)[0, 0]
    _check(not bool(mask[:, 100 + 5].any()) and bool(mask[:100, :100].all()), "joint mask: padded keys masked")

    # (b) locality: one joint layer that is both first and last (depth 1), so the audio output at mel frame i can
    # only see motion input frames within j ± (k - 1) of a motion key within the window of i.
    lns = argparse.Namespace(joint_layers=[0], window_s=0.5, motion_conv_kernel=7)
    cfg = mmdit_config("small", LIVEPORTRAIT_LAYOUT, True, lns, "check")
    cfg["audio_dit"]["depth"] = cfg["motion"]["dit"]["depth"] = 1
    cfg = ref.normalize_config(cfg)
    mm = ref.randomize(ref.build(cfg), 13)
    t = 600
    x = make_inputs(cfg, t, np.random.default_rng(9))
    f = ref.motion_frames_for(cfg, t)
    base = ref.run(mm, x)["mel_velocity"]
    k = cfg["motion"]["dit"]["conv_pos_kernel"]
    win = cfg["joint"]["window_s"] * ref.mel_rate(cfg)
    scale = ref.mel_rate(cfg) / cfg["motion"]["fps"]
    for j0 in (f - 10, 20):
        xp = {n: v.copy() for n, v in x.items()}
        for name in ("noisy_motion", "cond_motion", "rest"):
            xp[name][:, j0] += 3.0
        xp["motion_known"][:, j0] = ~xp["motion_known"][:, j0]
        y = ref.run(mm, xp)["mel_velocity"]
        reach = ((j0 - (k - 1)) * scale - win, (j0 + (k - 1)) * scale + win)  # mel frames that may change
        far = [i for i in range(t) if i < reach[0] - 1 or i > reach[1] + 1]
        near = [i for i in range(t) if abs(i - j0 * scale) <= win / 2]
        changed = (y - base).abs().amax(dim=(0, 2))
        _check(bool((changed[far] == 0).all()), f"motion frame {j0}: mel frames outside {reach} bit-identical")
        _check(bool((changed[near] > 0).all()), f"motion frame {j0}: mel frames within half a window change")

    print("Sampler:")
    # Against F5's own CFM.sample for an audio-only package (batch 1, no EPSS, sway -1, cfg 2).
    cfg = ref.normalize_config(audio_config("small", ns, "check"))
    f5 = ref.randomize(ref.build(cfg), 17)
    from f5_tts.model.cfm import CFM

    cfm = CFM(transformer=f5, mel_spec_kwargs={"n_mel_channels": 100}, odeint_kwargs={"method": "euler"})
    rng = np.random.default_rng(21)
    t, lens, steps, seed = 120, 40, 8, 5
    cond = torch.from_numpy(rng.standard_normal((1, lens, 100)).astype(np.float32))
    text = torch.from_numpy(rng.integers(0, cfg["text"]["vocab_size"], (1, 30)))
    with torch.no_grad():
        want, _ = cfm.sample(
            cond,
            text,
            t,
            lens=torch.tensor([lens]),
            steps=steps,
            cfg_strength=2.0,
            sway_sampling_coef=-1.0,
            seed=seed,
            use_epss=False,
        )
    torch.manual_seed(seed)
    noise = torch.randn(t, 100)
    known = torch.arange(t) < lens
    x = {
        "cond_mel": torch.nn.functional.pad(cond[0], (0, 0, 0, t - lens)),
        "mel_known": known,
        "text": text[0],
        "noise_mel": noise,
    }
    got = ref.sample(f5, cfg, x, ref.schedule("sway", steps, -1.0), 2.0)["mel"]
    d = _max_diff(got, want[0])
    _check(d < 1e-4, f"audio-only sample == F5 CFM.sample (diff {d:.2e})")
    # Against torchdiffeq's fixed-grid Euler on the joint (mel, motion) state.
    from torchdiffeq import odeint

    cfg = ref.normalize_config(mmdit_config("small", LIVEPORTRAIT_LAYOUT, True, ns, "check"))
    mm = ref.randomize(ref.build(cfg), 19)
    fr = ref.motion_frames_for(cfg, t)
    mk = torch.arange(fr) < 10
    x.update(
        cond_motion=torch.randn(fr, 12) * mk[:, None],
        motion_known=mk,
        rest=torch.randn(fr, 51),
        noise_motion=torch.randn(fr, 12),
    )
    grid = ref.schedule("epss", 7, -1.0)
    got = ref.sample(mm, cfg, x, grid, 2.0)

    def fn(tt, state):
        mel, mot = state
        two = {
            "noisy_mel": torch.stack((mel, mel)),
            "cond_mel": torch.stack([x["cond_mel"]] * 2),
            "text": torch.stack([x["text"]] * 2),
            "mel_mask": torch.ones(2, t, dtype=torch.bool),
            "time": tt.repeat(2),
            "uncond": torch.tensor([False, True]),
            "noisy_motion": torch.stack((mot, mot)),
            "cond_motion": torch.stack([x["cond_motion"]] * 2),
            "rest": torch.stack([x["rest"]] * 2),
            "motion_mask": torch.ones(2, fr, dtype=torch.bool),
            "motion_known": torch.stack([mk, mk]),
        }
        v = ref.run(mm, two)
        return tuple(o[0] + (o[0] - o[1]) * 2.0 for o in (v["mel_velocity"], v["motion_velocity"]))

    with torch.no_grad():
        mel, mot = (s[-1] for s in odeint(fn, (noise, x["noise_motion"]), grid, method="euler"))
    d1 = _max_diff(got["mel"], torch.where(known[:, None], x["cond_mel"], mel))
    d2 = _max_diff(got["motion"], torch.where(mk[:, None], x["cond_motion"], mot))
    _check(max(d1, d2) < 1e-5, f"MM sample == torchdiffeq Euler on (mel, motion) (diff {d1:.1e}, {d2:.1e})")
    _check(torch.equal(got["motion"][:10], x["cond_motion"][:10]), "known motion written back")
    g = ref.schedule("epss", 7)
    _check(torch.allclose(g * 32, torch.tensor([0.0, 2, 4, 6, 8, 16, 24, 32])), "EPSS 7-step grid")
    g = ref.schedule("uniform", 4)
    _check(torch.equal(g, torch.linspace(0, 1, 5)), "uniform grid")

    print("Subcommands (written files reload and reproduce):")
    parser = build_parser()
    runs = [
        ("f5", "f5 --preset small --seed 1"),
        ("f5v", "f5 --preset small --seed 2 --qk-norm --pe-attn-head 2 --attn-mask --long-skip"),
        ("mm2d", "mmdit --preset small --layout mouth4-2d --seed 3"),
        ("mmlp", "mmdit --preset small --layout liveportrait --known-channel --joint-layers 0,2 --seed 4"),
        (
            "mmv",
            "mmdit --layout liveportrait --qk-norm --pe-attn-head 2 --attn-mask --long-skip --motion-conv-kernel 7",
        ),
        ("sampler", "sampler --seed 6"),
        ("ckpt/m.safetensors", "f5ckpt --preset small --seed 7 --legacy-mel-keys"),
    ]
    for out, argv in runs:
        a = parser.parse_args([*argv.split(), "--out", str(tmp / out)])
        a.func(a)
    for case in ("f5", "f5v", "mm2d", "mmlp", "mmv"):
        _check_written_case(tmp / case, tmp / case / "pkg")
    # The checkpoint: strip the prefix, drop bookkeeping, load into F5 strictly, reproduce expected.
    ck = torch_load(str(tmp / "ckpt" / "m.safetensors"))
    sd = {k.removeprefix("ema_model.transformer."): v for k, v in ck.items() if k.startswith("ema_model.transformer.")}
    cfg = json.loads((tmp / "ckpt" / "m.expected" / "model.json").read_text())
    f5 = ref.build(cfg)
    f5.load_state_dict(sd, strict=True)
    _check(ck["initted"].dtype == torch.bool and ck["step"].dtype == torch.int64, "checkpoint bookkeeping dtypes")
    pkg = tmp / "ckpt" / "pkg"
    write_package(pkg, cfg, f5)
    _check_written_case(tmp / "ckpt" / "m.expected", pkg)
    lines = (tmp / "ckpt" / "m.vocab.txt").read_text(encoding="utf-8").split("\n")
    _check(lines[0] == " " and lines[-1] == "" and len(set(lines[:-1])) == 40, "vocab: 40 distinct lines, line 0 ' '")
    # Sampler files.
    sx = np_load(str(tmp / "sampler" / "sampler_inputs.safetensors"))
    se = np_load(str(tmp / "sampler" / "sampler_expected.safetensors"))
    cfg, mm = load_package(tmp / "sampler" / "pkg")
    y = ref.sample(mm, cfg, sx, torch.from_numpy(se["t"]), 2.0)
    d = max(np.abs(y[k].numpy() - se[k]).max() for k in ("mel", "motion"))
    _check(d == 0.0, "sampler files reload and reproduce")
    _check(sx["mel_known"].dtype == np.bool_ and sx["text"].dtype == np.int64, "sampler input dtypes")
    a = parser.parse_args(
        ["bench", "--pkg", str(tmp / "mmlp" / "pkg"), "--threads", "2", "--mel-frames", "150", "--iters", "2"]
    )
    a.func(a)
    shutil.rmtree(tmp)
    print("selfcheck: all ok")


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def add_variant_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--qk-norm", action="store_true", help="qk_norm rms_norm in every stream")
    p.add_argument("--pe-attn-head", type=int, default=None, help="RoPE on the first N heads only")
    p.add_argument("--attn-mask", action="store_true", help="attn_mask_enabled in every stream")
    p.add_argument("--long-skip", action="store_true", help="long_skip_connection in every stream")
    p.add_argument("--mel-frames", type=int, default=None, help="T of the test inputs (preset default)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("f5", help="F5-TTS DiT package + inputs + expected")
    p.add_argument("--preset", choices=sorted(AUDIO_PRESETS), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    add_variant_flags(p)
    p.set_defaults(func=cmd_f5)

    p = sub.add_parser("mmdit", help="MM-DiT package + inputs + expected")
    p.add_argument("--preset", choices=["small"], default="small")
    p.add_argument("--layout", choices=["mouth4-2d", "liveportrait"], required=True)
    p.add_argument("--known-channel", action="store_true", help="motion.known_mask_channel")
    p.add_argument("--joint-layers", type=parse_layers, default=None, help="e.g. '0,2'; '' = none; default: 2nd half")
    p.add_argument("--window-s", type=float, default=0.5)
    p.add_argument("--motion-conv-kernel", type=int, default=None, help="motion conv_pos_kernel (default 31)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    add_variant_flags(p)
    p.set_defaults(func=cmd_mmdit)

    p = sub.add_parser("sampler", help="8-step sway CFG sample of a small liveportrait MM-DiT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mel-frames", type=int, default=150)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sampler)

    p = sub.add_parser("f5ckpt", help="upstream-style F5 checkpoint + FILE.vocab.txt + FILE.expected/")
    p.add_argument("--preset", choices=sorted(AUDIO_PRESETS), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--legacy-mel-keys", action="store_true", help="add ema_model.mel_spec.* buffers (old F5 files)")
    p.add_argument("--out", required=True, help="FILE.safetensors")
    add_variant_flags(p)
    p.set_defaults(func=cmd_f5ckpt)

    p = sub.add_parser("bench", help="PyTorch eager ms per network evaluation (batch 2)")
    p.add_argument("--pkg", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mel-frames", type=int, default=750)
    p.add_argument("--iters", type=int, default=5)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("selfcheck", help="consistency checks of the reference")
    p.set_defaults(func=selfcheck)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
