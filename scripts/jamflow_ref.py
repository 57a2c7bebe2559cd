"""PyTorch reference of the jamflow MM-DiT (docs/model.md), built from F5-TTS modules.

The audio stream *is* F5-TTS: an audio-only package builds `f5_tts.model.DiT` itself, and the MM-DiT subclasses
it, so its audio state-dict keys are F5's. The motion stream is assembled from the same F5 modules at its own width
under the `motion.` prefix. Only the joint-attention layers are written here (they reuse each `DiTBlock`'s
submodules), together with the per-row CFG handling and the sampler loop.

Public API:
    normalize_config(cfg)           -> cfg dict with every serde default of src/model/config.rs filled in
    build(cfg)                      -> nn.Module (F5 `DiT` for audio-only configs, else `JamFlowMMDiT`), eval mode
    randomize(model, seed)          -> every parameter random and non-zero (no zero-init that would hide errors)
    run(model, inputs)              -> {"mel_velocity", "motion_velocity"?} for graph inputs named as in io.rs
    schedule(kind, steps, coef, t)  -> float32 time grid as F5 builds it
    sample(model, cfg, inputs, t_list, cfg_strength) -> {"mel", "motion"?} (Euler, packed CFG, known write-back)
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from f5_tts.model.backbones.dit import DiT, InputEmbedding, TextEmbedding
from f5_tts.model.modules import AdaLayerNorm_Final, ConvPositionEmbedding, DiTBlock, TimestepEmbedding
from f5_tts.model.utils import get_epss_timesteps
from safetensors.torch import load_file
from torch import nn
from x_transformers.x_transformers import apply_rotary_pos_emb

FORMAT = "jamflow-model/1"

# Motion layout constants (src/model/config.rs).
MOUTH_POINTS = 4
POINT_DIMS = 3
LIVEPORTRAIT_KEYPOINTS = 21

# ---------------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------------

SAMPLE_RATE = 24000  # the audio rate of F5 / Vocos mels and of every corpus (model.json audio.sample_rate default)
_AUDIO_DEFAULTS = {"sample_rate": SAMPLE_RATE, "n_fft": 1024, "win_length": 1024, "hop_length": 256, "n_mels": 100}
_TEXT_DEFAULTS = {"vocab_file": "vocab.txt", "conv_layers": 0, "conv_mult": 2, "mask_padding": True, "max_len": 4096}
_DIT_DEFAULTS = {
    "ff_mult": 2,
    "qk_norm": None,
    "pe_attn_head": None,
    "attn_mask_enabled": False,
    "long_skip_connection": False,
    "conv_pos_kernel": 31,
    "conv_pos_groups": 16,
}
_SAMPLER_DEFAULTS = {
    "steps": 32,
    "schedule": {"kind": "sway", "coef": -1.0},
    "cfg_strength": 2.0,
    "noise_scale": 1.0,
    "guidance_baked": False,
}


def _with_defaults(value: Mapping | None, defaults: Mapping) -> dict:
    out = copy.deepcopy(dict(value or {}))
    for key, default in defaults.items():
        out.setdefault(key, copy.deepcopy(default))
    return out


def normalize_config(cfg: Mapping) -> dict:
    """Return a copy of a model.json dict with every default of src/model/config.rs filled in."""
    if cfg.get("format") != FORMAT:
        raise ValueError(f'format: expected "{FORMAT}", found {cfg.get("format")!r}')
    out = {"format": FORMAT, "name": cfg.get("name", "")}
    out["audio"] = _with_defaults(cfg.get("audio"), _AUDIO_DEFAULTS)
    out["text"] = _with_defaults(cfg["text"], _TEXT_DEFAULTS) if cfg.get("text") is not None else None
    out["audio_dit"] = _with_defaults(cfg["audio_dit"], _DIT_DEFAULTS)
    motion = cfg.get("motion")
    if motion is not None:
        motion = {
            "layout": copy.deepcopy(motion["layout"]),
            "fps": motion.get("fps", 25.0),
            "dit": _with_defaults(motion["dit"], _DIT_DEFAULTS),
            "known_mask_channel": motion.get("known_mask_channel", False),
            "normalization": copy.deepcopy(motion.get("normalization")),
        }
        for key in ("depth", "heads", "dim_head", "pe_attn_head", "qk_norm"):
            if motion["dit"][key] != out["audio_dit"][key]:
                raise ValueError(f"motion.dit.{key} must equal audio_dit.{key}")
    out["motion"] = motion
    joint = cfg.get("joint")
    if motion is None and joint is not None:
        raise ValueError("joint: given without a motion stream")
    out["joint"] = None if motion is None else _with_defaults(joint, {"layers": None, "window_s": 0.5})
    out["sampler"] = _with_defaults(cfg.get("sampler"), _SAMPLER_DEFAULTS)
    return out


def mel_rate(cfg: Mapping) -> float:
    """Mel frames per second (93.75 for 24 kHz / hop 256)."""
    return cfg["audio"]["sample_rate"] / cfg["audio"]["hop_length"]


def motion_dim(cfg: Mapping) -> int:
    return MOUTH_POINTS * POINT_DIMS if cfg.get("motion") else 0


def rest_dim(cfg: Mapping) -> int:
    motion = cfg.get("motion")
    if motion is None or motion["layout"]["kind"] != "liveportrait-mouth4":
        return 0
    return (LIVEPORTRAIT_KEYPOINTS - MOUTH_POINTS) * POINT_DIMS


def motion_frames_for(cfg: Mapping, mel_frames: int) -> int:
    """Motion frames covering `mel_frames` mel frames (ceil, as ModelConfig::motion_frames_for)."""
    return math.ceil(mel_frames * cfg["motion"]["fps"] / mel_rate(cfg))


def joint_layers(cfg: Mapping) -> list[int]:
    """Sorted unique joint layer indices; default the second half."""
    if cfg.get("motion") is None:
        return []
    depth = cfg["audio_dit"]["depth"]
    layers = (cfg.get("joint") or {}).get("layers")
    return list(range(depth // 2, depth)) if layers is None else sorted(set(layers))


# ---------------------------------------------------------------------------------------------------------------
# Model construction
# ---------------------------------------------------------------------------------------------------------------


def _dit_kwargs(cfg: Mapping) -> dict:
    """F5 `DiT` constructor arguments of the audio stream."""
    text = cfg["text"]
    if text is None:
        raise NotImplementedError("text: null (a model without text) has no F5-TTS counterpart; not supported")
    a = cfg["audio_dit"]
    return {
        "dim": a["dim"],
        "depth": a["depth"],
        "heads": a["heads"],
        "dim_head": a["dim_head"],
        "dropout": 0.0,
        "ff_mult": a["ff_mult"],
        "mel_dim": cfg["audio"]["n_mels"],
        "text_num_embeds": text["vocab_size"],
        "text_dim": text["dim"],
        "text_mask_padding": text["mask_padding"],
        "qk_norm": a["qk_norm"],
        "conv_layers": text["conv_layers"],
        "pe_attn_head": a["pe_attn_head"],
        "attn_mask_enabled": a["attn_mask_enabled"],
        "long_skip_connection": a["long_skip_connection"],
    }


def _conv_pos(dim: int, dit: Mapping) -> ConvPositionEmbedding:
    return ConvPositionEmbedding(dim, kernel_size=dit["conv_pos_kernel"], groups=dit["conv_pos_groups"])


def _patch_audio(model: DiT, cfg: Mapping) -> None:
    """Settings F5's `DiT` constructor does not expose: same modules, same keys, other sizes."""
    a, text = cfg["audio_dit"], cfg["text"]
    if (a["conv_pos_kernel"], a["conv_pos_groups"]) != (31, 16):
        model.input_embed.conv_pos_embed = _conv_pos(a["dim"], a)
    if text["conv_mult"] != 2:
        model.text_embed = TextEmbedding(
            text["vocab_size"],
            text["dim"],
            mask_padding=text["mask_padding"],
            conv_layers=text["conv_layers"],
            conv_mult=text["conv_mult"],
        )


class MotionDiT(nn.Module):
    """The Motion-DiT's parameters (`motion.*`): F5 modules at width `motion.dit.dim`.

    No forward of its own: its layers run interleaved with the audio stream in `JamFlowMMDiT.forward`.
    The input embedding is F5's `InputEmbedding` with the motion values in the "mel" slots and the extra
    per-frame conditioning (known channel, rest) in the "text" slot, i.e. `proj(concat(noisy, cond, extras))`
    followed by `conv_pos_embed(h, mask) + h`, exactly docs/model.md step 3.
    """

    def __init__(self, cfg: Mapping):
        super().__init__()
        m = cfg["motion"]["dit"]
        extra = int(cfg["motion"]["known_mask_channel"]) + rest_dim(cfg)
        self.time_embed = TimestepEmbedding(m["dim"])
        self.input_embed = InputEmbedding(motion_dim(cfg), extra, m["dim"])
        self.input_embed.conv_pos_embed = _conv_pos(m["dim"], m)
        self.transformer_blocks = nn.ModuleList(
            [
                DiTBlock(
                    dim=m["dim"],
                    heads=m["heads"],
                    dim_head=m["dim_head"],
                    ff_mult=m["ff_mult"],
                    dropout=0.0,
                    qk_norm=m["qk_norm"],
                    pe_attn_head=m["pe_attn_head"],
                    attn_mask_enabled=m["attn_mask_enabled"],
                )
                for _ in range(m["depth"])
            ]
        )
        self.long_skip_connection = nn.Linear(m["dim"] * 2, m["dim"], bias=False) if m["long_skip_connection"] else None
        self.norm_out = AdaLayerNorm_Final(m["dim"])
        self.proj_out = nn.Linear(m["dim"], motion_dim(cfg))


def _heads_qkv(block: DiTBlock, x: torch.Tensor, rope) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """q, k, v [B, H, N, dh] of one stream: its own projections, q/k norms and RoPE (as F5's AttnProcessor)."""
    attn = block.attn
    b = x.shape[0]

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, -1, attn.heads, t.shape[-1] // attn.heads).transpose(1, 2)

    q, k, v = heads(attn.to_q(x)), heads(attn.to_k(x)), heads(attn.to_v(x))
    if attn.q_norm is not None:
        q = attn.q_norm(q)
    if attn.k_norm is not None:
        k = attn.k_norm(k)
    freqs, xpos_scale = rope
    assert not torch.is_tensor(xpos_scale), "xpos is not used by F5"
    pn = attn.processor.pe_attn_head
    if pn is None:
        q, k = apply_rotary_pos_emb(q, freqs), apply_rotary_pos_emb(k, freqs)
    else:  # RoPE on the first `pe_attn_head` heads only
        q = torch.cat((apply_rotary_pos_emb(q[:, :pn], freqs), q[:, pn:]), dim=1)
        k = torch.cat((apply_rotary_pos_emb(k[:, :pn], freqs), k[:, pn:]), dim=1)
    return q, k, v


def _block_tail(block: DiTBlock, x, attn_out, gate_msa, shift_mlp, scale_mlp, gate_mlp) -> torch.Tensor:
    """Gate, residual and feed-forward of a DiTBlock after its attention (docs/model.md step 5)."""
    x = x + gate_msa.unsqueeze(1) * attn_out
    norm = block.ff_norm(x) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
    return x + gate_mlp.unsqueeze(1) * block.ff(norm)


class JamFlowMMDiT(DiT):
    """Audio-DiT (F5 `DiT`, same keys) + Motion-DiT (`motion.*`) coupled by joint attention."""

    def __init__(self, cfg: Mapping):
        cfg = normalize_config(cfg)
        if cfg["motion"] is None:
            raise ValueError("JamFlowMMDiT needs a motion stream; use build() for audio-only configs")
        super().__init__(**_dit_kwargs(cfg))
        _patch_audio(self, cfg)
        self.cfg = cfg
        self.motion = MotionDiT(cfg)
        self.joint = set(joint_layers(cfg))
        # Positions on the mel axis (docs/model.md step 4) and the cross-stream window, in mel frames.
        self.motion_pos_scale = mel_rate(cfg) / cfg["motion"]["fps"]
        self.window_frames = cfg["joint"]["window_s"] * mel_rate(cfg)

    def joint_mask(self, mel_mask: torch.Tensor, motion_mask: torch.Tensor) -> torch.Tensor:
        """Boolean [B, 1, T+F, T+F] mask of a joint layer (True = may attend), docs/model.md step 5.

        Distances are evaluated in float64 (the configuration's own precision).
        """
        t, f = mel_mask.shape[1], motion_mask.shape[1]
        pos = torch.cat(
            (torch.arange(t, dtype=torch.float64), torch.arange(f, dtype=torch.float64) * self.motion_pos_scale)
        )
        stream = torch.cat((torch.zeros(t, dtype=torch.bool), torch.ones(f, dtype=torch.bool)))
        same = stream[:, None] == stream[None, :]
        near = (pos[:, None] - pos[None, :]).abs() <= self.window_frames
        key_valid = torch.cat((mel_mask, motion_mask), dim=1)  # [B, T+F]
        return (key_valid[:, None, :] & (same | near)[None]).unsqueeze(1)

    def _joint_layer(self, layer: int, xa, xm, ta, tm, mel_mask, motion_mask, rope_a, rope_m, mask):
        ba, bm = self.transformer_blocks[layer], self.motion.transformer_blocks[layer]
        na, *mod_a = ba.attn_norm(xa, emb=ta)
        nm, *mod_m = bm.attn_norm(xm, emb=tm)
        qa, ka, va = _heads_qkv(ba, na, rope_a)
        qm, km, vm = _heads_qkv(bm, nm, rope_m)
        q, k, v = (torch.cat(p, dim=2) for p in ((qa, qm), (ka, km), (va, vm)))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # scale 1/sqrt(dim_head)
        b, h, n, dh = o.shape
        o = o.transpose(1, 2).reshape(b, n, h * dh)
        t = xa.shape[1]
        oa = ba.attn.to_out[0](o[:, :t]).masked_fill(~mel_mask.unsqueeze(-1), 0.0)
        om = bm.attn.to_out[0](o[:, t:]).masked_fill(~motion_mask.unsqueeze(-1), 0.0)
        return _block_tail(ba, xa, oa, *mod_a), _block_tail(bm, xm, om, *mod_m)

    def forward(self, inputs: Mapping) -> dict[str, torch.Tensor]:  # type: ignore[override]
        x = as_torch_inputs(inputs)
        noisy_mel, mel_mask, time, uncond = x["noisy_mel"], x["mel_mask"], x["time"], x["uncond"]
        motion_mask = x["motion_mask"]
        row = uncond[:, None, None]

        # 1. time embeddings
        ta, tm = self.time_embed(time), self.motion.time_embed(time)

        # 2. audio input embedding, per-row drop: text embedded with and without drop_text over the whole batch
        #    (text length max(sum(mel_mask)) as F5), then the rows picked; the cond of uncond rows zeroed.
        seq_len = mel_mask.sum(dim=1)
        text_c = self.text_embed(x["text"], seq_len=seq_len, drop_text=False)
        text_u = self.text_embed(x["text"], seq_len=seq_len, drop_text=True)
        text = torch.where(row, text_u, text_c)
        cond_mel = torch.where(row, torch.zeros_like(x["cond_mel"]), x["cond_mel"])
        xa = self.input_embed(noisy_mel, cond_mel, text, audio_mask=mel_mask)

        # 3. motion input embedding: concat(noisy, cond, [known], [rest])
        cond_motion = torch.where(row, torch.zeros_like(x["cond_motion"]), x["cond_motion"])
        extras = []
        if self.cfg["motion"]["known_mask_channel"]:
            extras.append((x["motion_known"] & ~uncond[:, None]).to(noisy_mel.dtype).unsqueeze(-1))
        if rest_dim(self.cfg) > 0:
            extras.append(x["rest"])
        b, f = motion_mask.shape
        extra = torch.cat(extras, dim=-1) if extras else noisy_mel.new_zeros(b, f, 0)
        xm = self.motion.input_embed(x["noisy_motion"], cond_motion, extra, audio_mask=motion_mask)

        # 4. RoPE per stream (x_transformers RotaryEmbedding, float32 positions)
        rope_a = self.rotary_embed.forward_from_seq_len(noisy_mel.shape[1])
        scale = torch.tensor(self.motion_pos_scale, dtype=torch.float32)
        rope_m = self.rotary_embed(torch.arange(f, dtype=torch.float32) * scale)

        # 5. layers
        res_a, res_m = xa, xm
        mask = self.joint_mask(mel_mask, motion_mask) if self.joint else None
        for layer in range(self.depth):
            if layer in self.joint:
                xa, xm = self._joint_layer(layer, xa, xm, ta, tm, mel_mask, motion_mask, rope_a, rope_m, mask)
            else:
                xa = self.transformer_blocks[layer](xa, ta, mask=mel_mask, rope=rope_a)
                xm = self.motion.transformer_blocks[layer](xm, tm, mask=motion_mask, rope=rope_m)

        # 6. long skip, final AdaLN, projection
        if self.long_skip_connection is not None:
            xa = self.long_skip_connection(torch.cat((xa, res_a), dim=-1))
        if self.motion.long_skip_connection is not None:
            xm = self.motion.long_skip_connection(torch.cat((xm, res_m), dim=-1))
        mel_v = self.proj_out(self.norm_out(xa, ta))
        motion_v = self.motion.proj_out(self.motion.norm_out(xm, tm))
        return {"mel_velocity": mel_v, "motion_velocity": motion_v}


def read_config(pkg: Path) -> dict:
    """A package's model.json as written (normalize_config fills in the defaults)."""
    return json.loads((Path(pkg) / "model.json").read_text())


def read_vocab(pkg: Path, cfg: Mapping) -> list[str]:
    """A package's vocabulary, one token a line (model.json text.vocab_file, vocab.txt by default)."""
    return (Path(pkg) / cfg["text"].get("vocab_file", "vocab.txt")).read_text(encoding="utf-8").split("\n")[:-1]


def load_weights(model: nn.Module, pkg: Path) -> nn.Module:
    """pkg/model.safetensors into model, strictly (every key, no other), as float32 whatever the package stores."""
    model.load_state_dict({k: v.float() for k, v in load_file(str(Path(pkg) / "model.safetensors")).items()})
    return model


def load_package(pkg: Path) -> tuple[dict, nn.Module]:
    """A package -> (its model.json as written, the reference network with its weights, in eval mode)."""
    raw = read_config(pkg)
    return raw, load_weights(build(raw), pkg).eval()


def build(cfg: Mapping) -> nn.Module:
    """The reference network of a model.json dict, in eval mode (weights still F5's zero-init: see randomize)."""
    cfg = normalize_config(cfg)
    if cfg["motion"] is None:
        model = DiT(**_dit_kwargs(cfg))
        _patch_audio(model, cfg)
        model.cfg = cfg
    else:
        model = JamFlowMMDiT(cfg)
    return model.eval()


# ---------------------------------------------------------------------------------------------------------------
# Random weights
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def randomize(model: nn.Module, seed: int) -> nn.Module:
    """Give every parameter a random, non-zero value that keeps activations O(1).

    Upstream zero-initializes AdaLN, norm_out, proj_out and GRN, which would hide errors in those paths.
    Matrices: N(0, 1/fan_in); text embedding N(0, 0.5^2); biases, GRN gamma/beta: N(0, 0.1^2);
    norm weights (LayerNorm, RMSNorm): 1 + N(0, 0.1^2). Buffers (RoPE inv_freq) are left as constructed.
    """
    gen = torch.Generator().manual_seed(seed)
    for name, p in sorted(model.named_parameters()):
        noise = torch.randn(p.shape, generator=gen, dtype=torch.float32)
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("gamma", "beta"):  # GRN [1, 1, d]
            value = 0.1 * noise
        elif name.endswith(("norm.weight", "q_norm.weight", "k_norm.weight")):
            value = 1.0 + 0.1 * noise
        elif leaf == "bias" or p.ndim == 1:
            value = 0.1 * noise
        elif name.endswith("text_embed.text_embed.weight"):
            value = 0.5 * noise
        else:
            fan_in = p[0].numel()
            value = noise / math.sqrt(fan_in)
        p.copy_(value.to(p.dtype))
    return model


# ---------------------------------------------------------------------------------------------------------------
# One network evaluation
# ---------------------------------------------------------------------------------------------------------------

_BOOL_INPUTS = ("mel_mask", "uncond", "motion_mask", "motion_known", "mel_known")
_INT_INPUTS = ("text",)


def as_torch_inputs(inputs: Mapping) -> dict[str, torch.Tensor]:
    """numpy/torch graph inputs -> torch tensors of the io.rs element types (f32, i64, bool)."""
    out = {}
    for name, value in inputs.items():
        t = value if torch.is_tensor(value) else torch.from_numpy(np.ascontiguousarray(value))
        if name in _BOOL_INPUTS:
            t = t.to(torch.bool)
        elif name in _INT_INPUTS:
            t = t.to(torch.int64)
        else:
            t = t.to(torch.float32)
        out[name] = t
    return out


def _f5_forward(model: DiT, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """F5 `DiT.forward` with per-row uncond.

    F5's drop flags are per call, so the whole batch runs once per flag set that occurs (with the same
    `mask=mel_mask`, hence the same text length max(sum(mel_mask)) as a single packed call) and each row is taken
    from the call of its own flag. Rows are independent in F5's DiT, so this equals running the cond and uncond rows
    as separate sub-batches whenever each sub-batch has an all-true mask row (F5's own requirement).
    """
    uncond = x["uncond"]

    def call(drop: bool) -> torch.Tensor:
        return model(
            x=x["noisy_mel"],
            cond=x["cond_mel"],
            text=x["text"],
            time=x["time"],
            mask=x["mel_mask"],
            drop_audio_cond=drop,
            drop_text=drop,
            cache=False,
        )

    if not bool(uncond.any()):
        return call(False)
    if bool(uncond.all()):
        return call(True)
    return torch.where(uncond[:, None, None], call(True), call(False))


@torch.no_grad()
def run(model: nn.Module, inputs: Mapping) -> dict[str, torch.Tensor]:
    """One network evaluation on graph inputs named as in src/model/io.rs; outputs named likewise."""
    x = as_torch_inputs(inputs)
    if isinstance(model, JamFlowMMDiT):
        return model(x)
    return {"mel_velocity": _f5_forward(model, x)}


# ---------------------------------------------------------------------------------------------------------------
# Sampler
# ---------------------------------------------------------------------------------------------------------------


def schedule(kind: str, steps: int, coef: float | None = None, t: list[float] | None = None) -> torch.Tensor:
    """Time grid (float32, steps + 1 values from 0 to 1) as F5's `CFM.sample` builds it.

    kind: "uniform" (linspace), "sway" (linspace then sway with `coef`), "epss" (F5's EPSS grid, swayed when `coef`
    is given, as F5 does), "list" (explicit `t`).
    """
    if kind == "list":
        return torch.tensor(t, dtype=torch.float32)
    if kind == "epss":
        grid = get_epss_timesteps(steps, device="cpu", dtype=torch.float32)
    elif kind in ("uniform", "sway"):
        grid = torch.linspace(0, 1, steps + 1, dtype=torch.float32)
    else:
        raise ValueError(f"unknown schedule kind {kind!r}")
    if kind == "sway" and coef is None:
        coef = -1.0
    if kind != "uniform" and coef is not None:
        grid = grid + coef * (torch.cos(torch.pi / 2 * grid) - 1 + grid)
    return grid


def schedule_from_config(sched: Mapping, steps: int) -> torch.Tensor:
    """Time grid of a model.json / sampler_args.json schedule object."""
    kind = sched["kind"]
    if kind == "sway":
        return schedule("sway", steps, sched.get("coef", -1.0))
    if kind == "epss":
        return schedule("epss", steps, sched.get("sway"))
    if kind == "list":
        return schedule("list", steps, t=sched["t"])
    return schedule(kind, steps)


@torch.no_grad()
def request(cfg: Mapping, mel: torch.Tensor, mel_known: torch.Tensor, text: torch.Tensor, frames: int,
            gen: torch.Generator | None = None, noise_scale: float = 1.0,
            known_motion: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """A sampler request (`jamflow sample --inputs` names) for mel [T, n_mels]: its known frames and the text;
    `frames` motion frames, the first known_motion.shape[0] of them given (none by default); noise drawn from gen
    (the mel's, then the motion's, scaled by noise_scale: the sampler's `noise_scale`), or the prior's mean (zero)
    without gen."""
    k = motion_dim(cfg)
    noise = (lambda *shape: torch.randn(*shape, generator=gen)) if gen is not None else torch.zeros
    cond_motion = torch.zeros(frames, k)  # [F, K]
    motion_known = torch.zeros(frames, dtype=torch.bool)  # [F]
    if known_motion is not None:
        cond_motion[: known_motion.shape[0]] = known_motion
        motion_known[: known_motion.shape[0]] = True
    return {
        "cond_mel": torch.where(mel_known[:, None], mel, 0.0),  # [T, n_mels]
        "mel_known": mel_known,  # [T]
        "text": text,
        "noise_mel": noise(*mel.shape),  # [T, n_mels]
        "cond_motion": cond_motion,
        "motion_known": motion_known,
        "noise_motion": noise(frames, k) * noise_scale,  # [F, K]
    }


def sample(model: nn.Module, cfg: Mapping, inputs: Mapping, t_list, cfg_strength: float) -> dict[str, torch.Tensor]:
    """Euler sampler of docs/model.md "Sampler" for one utterance (inputs WITHOUT batch dim).

    inputs: cond_mel [T, n_mels], mel_known [T], text [Nt], noise_mel [T, n_mels]; with motion also
    cond_motion [F, K], motion_known [F], noise_motion [F, K] and rest [F, R] (rest_dim > 0).
    Each step is one packed call (rows [cond, uncond]) unless cfg_strength == 0 or guidance is baked in.
    """
    cfg = normalize_config(cfg)
    x = as_torch_inputs(inputs)
    has_motion = cfg["motion"] is not None
    norm = cfg["motion"]["normalization"] if has_motion else None
    if norm is not None:  # the network works on (motion - mean) / std (model.json motion.normalization)
        mean, std = torch.tensor(norm["mean"]), torch.tensor(norm["std"])
        x["cond_motion"] = (x["cond_motion"] - mean) / std
    t_list = torch.as_tensor(t_list, dtype=torch.float32)
    packed = cfg_strength != 0 and not cfg["sampler"]["guidance_baked"]
    rows = 2 if packed else 1

    def rep(t: torch.Tensor) -> torch.Tensor:
        return t.unsqueeze(0).expand(rows, *t.shape).contiguous()

    mel_known = x["mel_known"][:, None]
    step = {
        "cond_mel": rep(torch.where(mel_known, x["cond_mel"], 0.0)),
        "text": rep(x["text"]),
        "mel_mask": torch.ones(rows, x["cond_mel"].shape[0], dtype=torch.bool),
        "uncond": torch.tensor([False, True][:rows]),
    }
    state = {"mel": x["noise_mel"].clone()}
    if has_motion:
        motion_known = x["motion_known"][:, None]
        step["cond_motion"] = rep(torch.where(motion_known, x["cond_motion"], 0.0))
        step["motion_mask"] = torch.ones(rows, x["cond_motion"].shape[0], dtype=torch.bool)
        if cfg["motion"]["known_mask_channel"]:
            step["motion_known"] = rep(x["motion_known"])
        if rest_dim(cfg) > 0:
            step["rest"] = rep(x["rest"])
        state["motion"] = x["noise_motion"].clone()

    for n in range(len(t_list) - 1):
        t0, dt = t_list[n], t_list[n + 1] - t_list[n]
        call = dict(step, noisy_mel=rep(state["mel"]), time=t0.repeat(rows))
        if has_motion:
            call["noisy_motion"] = rep(state["motion"])
        out = run(model, call)
        for key, out_key in (("mel", "mel_velocity"), ("motion", "motion_velocity")):
            if key not in state:
                continue
            v = out[out_key]
            v = v[0] + (v[0] - v[1]) * cfg_strength if packed else v[0]
            state[key] = state[key] + dt * v

    result = {"mel": torch.where(mel_known, x["cond_mel"], state["mel"])}
    if has_motion:
        result["motion"] = torch.where(motion_known, x["cond_motion"], state["motion"])
        if norm is not None:
            result["motion"] = result["motion"] * std + mean
    return result
