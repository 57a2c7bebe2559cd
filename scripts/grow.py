#!/usr/bin/env python3
"""Grow a package's network without changing what it computes, to train on from there (`train.py --init`).

    .venv/bin/python scripts/grow.py engines/jamflow-speech --out target/grown --audio-ff-mult 4 --text-conv-layers 4

- `--audio-ff-mult M`: each Audio-DiT block's feed-forward gets M x dim hidden units instead of ff_mult x dim. The
  new units' input weights are drawn as a fresh layer's (nn.Linear's init); their output weights are zero, so they
  add nothing until training moves them.
- `--text-conv-layers N`: ConvNeXtV2 blocks appended to the text embedding up to N. Each new block's last
  projection (pwconv2) is zero, so the block is its residual: the identity.

Every other weight is copied. The grown package is checked against the original on a random request (both run by
the reference network): the outputs must agree within float rounding, or nothing is written. The package keeps its
dtype (f16 stays f16) and its vocabulary.
"""
import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import jamflow_ref as ref  # noqa: E402
from train import write_package  # noqa: E402

# The largest disagreement (relative to the output's RMS) a grown network may show against its original.
TOLERANCE = 1e-4


def grown_config(cfg: dict, audio_ff_mult: int | None, text_conv_layers: int | None) -> dict:
    """The model.json of the grown network; refuses to shrink (that would change what it computes)."""
    out = json.loads(json.dumps(cfg))
    norm = ref.normalize_config(cfg)
    if audio_ff_mult is not None:
        now = norm["audio_dit"]["ff_mult"]
        if audio_ff_mult < now:
            raise SystemExit(f"grow: --audio-ff-mult {audio_ff_mult}: the package has ff_mult {now}; only growing")
        out["audio_dit"]["ff_mult"] = audio_ff_mult
    if text_conv_layers is not None:
        now = norm["text"]["conv_layers"]
        if text_conv_layers < now:
            raise SystemExit(f"grow: --text-conv-layers {text_conv_layers}: the package has {now}; only growing")
        out["text"]["conv_layers"] = text_conv_layers
    return out


@torch.no_grad()
def grow(old: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The grown state dict: `model` is the grown network with its fresh init; old weights copied into it."""
    new = {k: v.detach().clone().float() for k, v in model.state_dict().items()}
    for key, value in new.items():
        if key in old and old[key].shape == value.shape:
            new[key] = old[key].float()
        elif key.startswith("transformer_blocks.") and ".ff.ff." in key:
            o = old[key].float()
            if key.endswith(".ff.ff.2.weight"):  # [D, D*ff]: the new units' output weights zero
                value.zero_()
                value[:, : o.shape[1]] = o
            else:  # ff.0.0 weight [D*ff, D] / bias [D*ff]: the old units first, fresh ones after
                value[: o.shape[0]] = o
        elif key.startswith("text_embed.text_blocks.") and key not in old:
            if ".pwconv2." in key:  # the new block adds nothing: residual + 0
                value.zero_()
        else:
            raise SystemExit(f"grow: {key}: {tuple(old[key].shape) if key in old else 'absent'} in the package, "
                             f"{tuple(value.shape)} grown: not a part this tool grows")
    return new


def probe(cfg: dict, vocab_size: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random text -> speech + motion request of 2 s, the first half of the mel known, noise drawn."""
    g = torch.Generator().manual_seed(seed)
    norm = ref.normalize_config(cfg)
    frames = int(2 * ref.mel_rate(norm))
    mel = torch.randn(frames, norm["audio"]["n_mels"], generator=g)  # [T, n_mels]
    known = torch.arange(frames) < frames // 2  # [T]
    text = torch.randint(0, vocab_size, (frames,), generator=g)  # [T]: vocabulary ids (F5 shifts them by one)
    motion_frames = ref.motion_frames_for(norm, frames) if norm["motion"] is not None else 0
    return ref.request(norm, mel, known, text, motion_frames, gen=g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--audio-ff-mult", type=int, help="Audio-DiT feed-forward width, in multiples of its dim")
    ap.add_argument("--text-conv-layers", type=int, help="ConvNeXtV2 blocks of the text embedding")
    ap.add_argument("--seed", type=int, default=0, help="the new weights' draw")
    a = ap.parse_args()
    if a.audio_ff_mult is None and a.text_conv_layers is None:
        raise SystemExit("grow: nothing to grow: give --audio-ff-mult and/or --text-conv-layers")
    if a.out.resolve() == a.package.resolve():
        raise SystemExit(f"grow: --out {a.out} is the package itself; write the grown one elsewhere")
    for name in ("model.json", "model.safetensors"):
        if not (a.package / name).is_file():
            raise SystemExit(f"grow: {a.package / name}: missing (expected a package: model.json, model.safetensors, "
                             "vocab.txt)")
    cfg, original = ref.load_package(a.package)
    vocab = ref.read_vocab(a.package, cfg)
    stored = load_file(str(a.package / "model.safetensors"))
    dtype = next(iter(stored.values())).dtype
    new_cfg = grown_config(cfg, a.audio_ff_mult, a.text_conv_layers)
    torch.manual_seed(a.seed)
    grown = ref.build(new_cfg)
    sd = grow(stored, grown)
    # What the package will hold, rounded to its dtype, is what is checked (and written).
    grown.load_state_dict({k: v.to(dtype).float() for k, v in sd.items()})
    inputs = probe(cfg, len(vocab))
    t_list = ref.schedule("uniform", 2)
    want = ref.sample(original, cfg, inputs, t_list, cfg_strength=2.0)
    got = ref.sample(grown.eval(), new_cfg, inputs, t_list, cfg_strength=2.0)
    worst = 0.0
    for name, w in want.items():
        err = ((got[name] - w).abs().max() / w.pow(2).mean().sqrt().clamp_min(1e-12)).item()
        worst = max(worst, err)
        print(f"check {name}: max |grown - original| / rms = {err:.2e}")
    if worst > TOLERANCE:
        raise SystemExit(f"grow: the grown network computes something else ({worst:.2e} > {TOLERANCE:.0e}); "
                         "nothing written")
    write_package(a.out, new_cfg, grown, vocab, dtype)
    n_old = sum(v.numel() for v in stored.values())
    n_new = sum(v.numel() for v in sd.values())
    print(f"grown: {n_old / 1e6:.2f} M -> {n_new / 1e6:.2f} M parameters, same outputs; written to {a.out}")


if __name__ == "__main__":
    main()
