"""Convert a published Vocos checkpoint (`pytorch_model.bin`, e.g. charactr/vocos-mel-24khz) to the safetensors file
`jamflow vocode --vocoder vocos:DIR` reads (`DIR/vocos.safetensors`). Keys are kept unchanged (the Rust graph
builder uses the upstream state-dict paths); only tensors are converted to contiguous f32.

    .venv/bin/python scripts/vocos_convert.py path/to/pytorch_model.bin DIR/vocos.safetensors
"""

import sys

import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    sd = torch.load(src, map_location="cpu", weights_only=True)
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):  # a Lightning checkpoint
        sd = sd["state_dict"]
    out = {k: v.detach().float().contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if not any(k.startswith("backbone.") for k in out):
        sys.exit(f"{src}: no `backbone.*` tensors: not a Vocos state dict")
    save_file(out, dst)
    print(f"{dst}: {len(out)} tensors")


if __name__ == "__main__":
    main()
