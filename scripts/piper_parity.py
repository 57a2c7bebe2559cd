#!/usr/bin/env python3
"""piper-tts's own ids and audio for one text without noise -> safetensors (`ids` [N] i64, `audio` [T] f32).

The oracle of tests/say.rs (`voice_audio_equals_piper_tts_without_noise`): our Rust Piper engine
(src/speech/piper.rs) must give the same ids and, with noise_scale = noise_w = 0 (the VITS graph's only random
parts), the same raw audio (not normalized) as piper-tts's `PiperVoice.phoneme_ids_to_audio`.

    .venv/bin/python scripts/piper_parity.py --voice .voices/joe/en_US-joe-medium.onnx --text "Hello." --out p.safetensors
"""
import argparse

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice", required=True, help="MODEL.onnx (MODEL.onnx.json beside it)")
    ap.add_argument("--text", required=True, help="one sentence")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    from piper import PiperVoice, SynthesisConfig
    from safetensors.numpy import save_file

    voice = PiperVoice.load(a.voice)
    sentences = voice.phonemize(a.text)
    if len(sentences) != 1:
        raise SystemExit(f"piper_parity: {a.text!r} is {len(sentences)} sentences; give one")
    ids = voice.phonemes_to_ids(sentences[0])
    audio = voice.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
    save_file({"ids": np.asarray(ids, dtype=np.int64), "audio": np.asarray(audio, dtype=np.float32).reshape(-1)}, a.out)
    print(f"{len(ids)} ids -> {audio.size} samples -> {a.out}")


if __name__ == "__main__":
    main()
