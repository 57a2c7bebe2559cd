"""Oracles for the audio/text front end tests (run with the project venv: `.venv/bin/python scripts/audio_oracle.py`).

Subcommands:
    mel     IN.safetensors OUT.safetensors : every 1-D f32 tensor of IN -> f5_tts get_vocos_mel_spectrogram as
            [frames, n_mels] under the same name; signals torch rejects are listed in OUT.errors.json instead.
    tokens  VOCAB TEXTS.json OUT.json      : f5_tts `list_str_to_idx` ids of each text (vocab read as f5_tts'
            `get_tokenizer(..., "custom")` reads it).
    vocos   OUTDIR --seed N --frames T     : a Vocos (charactr/vocos-mel-24khz layout) with random weights saved as
            pytorch_model.bin + config.yaml, a mel input (mel.safetensors, `mel` [T, 100]) and the PyPI `vocos`
            package's decode (expected.safetensors, `audio` [T * 256]).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file as np_load
from safetensors.numpy import save_file as np_save

VOCOS_24KHZ_CONFIG = """\
feature_extractor:
  class_path: vocos.feature_extractors.MelSpectrogramFeatures
  init_args:
    sample_rate: 24000
    n_fft: 1024
    hop_length: 256
    n_mels: 100
    padding: center

backbone:
  class_path: vocos.models.VocosBackbone
  init_args:
    input_channels: 100
    dim: 512
    intermediate_dim: 1536
    num_layers: 8

head:
  class_path: vocos.heads.ISTFTHead
  init_args:
    dim: 512
    n_fft: 1024
    hop_length: 256
    padding: same
"""


def cmd_mel(a):
    from f5_tts.model.modules import get_vocos_mel_spectrogram

    out, errors = {}, {}
    for name, x in np_load(a.input).items():
        try:
            mel = get_vocos_mel_spectrogram(torch.from_numpy(x.astype(np.float32))[None])  # [1, M, T]
            out[name] = mel[0].T.contiguous().numpy()  # [T, M]
        except Exception as e:  # torch's own rejection (e.g. too short for reflect padding)
            errors[name] = str(e)
    np_save(out, a.out)
    Path(a.out + ".errors.json").write_text(json.dumps(errors, indent=1))


def cmd_tokens(a):
    from f5_tts.model.utils import get_tokenizer, list_str_to_idx

    vocab_map, _ = get_tokenizer(a.vocab, "custom")
    texts = json.loads(Path(a.texts).read_text(encoding="utf-8"))
    ids = [list_str_to_idx([t], vocab_map)[0].tolist() if t else [] for t in texts]
    Path(a.out).write_text(json.dumps(ids))


def randomize(model: torch.nn.Module, seed: int):
    """Random weights that keep activations O(1) (trunc-normal 0.02 init would make the test trivial)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=g)
            if name.endswith("gamma"):
                p.copy_(0.3 * r)
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.2 * r)
            elif name.endswith("bias"):
                p.copy_(0.1 * r)
            else:
                fan_in = p[0].numel()
                p.copy_(r * (0.5 if name.startswith("head.") else 1.0) / fan_in**0.5)


def cmd_vocos(a):
    import yaml  # noqa: F401  (vocos needs it; fail early with a clear message)
    from vocos import Vocos

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(VOCOS_24KHZ_CONFIG)
    model = Vocos.from_hparams(str(out / "config.yaml")).eval()
    randomize(model, a.seed)
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    g = torch.Generator().manual_seed(a.seed + 1)
    mel = torch.randn(1, 100, a.frames, generator=g) * 2.0 - 3.0  # log-mel-like levels
    with torch.no_grad():
        audio = model.decode(mel)  # [1, T * hop]
    np_save({"mel": mel[0].T.contiguous().numpy()}, str(out / "mel.safetensors"))
    np_save({"audio": audio[0].contiguous().numpy()}, str(out / "expected.safetensors"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mel")
    m.add_argument("input")
    m.add_argument("out")
    t = sub.add_parser("tokens")
    t.add_argument("vocab")
    t.add_argument("texts")
    t.add_argument("out")
    v = sub.add_parser("vocos")
    v.add_argument("out")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--frames", type=int, default=50)
    a = ap.parse_args()
    torch.manual_seed(0)
    {"mel": cmd_mel, "tokens": cmd_tokens, "vocos": cmd_vocos}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
