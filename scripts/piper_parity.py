#!/usr/bin/env python3
"""piper-tts's own ids and audio for one text without noise -> safetensors (`ids` [N] i64, `audio` [T] f32).

With --phones P.json, also the voice's phone timeline of TEXT (any number of sentences, no noise) as the corpus
makes it (scripts/corpus_piper.py's `piper_phones`: piper-tts's alignments, modifiers merged, its lag): the oracle
of `PiperVoice::speak_timed` (`say --engine piper --phones-out`).

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
    ap.add_argument("--out", help="the ids and raw audio of TEXT (one sentence) here")
    ap.add_argument("--phones", help="also write the phone timeline of TEXT here (JSON, as `say --phones-out`)")
    a = ap.parse_args()
    if not a.out and not a.phones:
        raise SystemExit("piper_parity: give --out and / or --phones")
    from piper import PiperVoice, SynthesisConfig
    from safetensors.numpy import save_file

    if a.out:
        voice = PiperVoice.load(a.voice)
        sentences = voice.phonemize(a.text)
        if len(sentences) != 1:
            raise SystemExit(f"piper_parity: {a.text!r} is {len(sentences)} sentences; give one")
        ids = voice.phonemes_to_ids(sentences[0])
        audio = voice.phoneme_ids_to_audio(ids, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))
        save_file({"ids": np.asarray(ids, dtype=np.int64), "audio": np.asarray(audio, dtype=np.float32).reshape(-1)},
                  a.out)
        print(f"{len(ids)} ids -> {audio.size} samples -> {a.out}")
    if a.phones:
        import json
        import sys
        from pathlib import Path

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from corpus_piper import piper_phones

        timed = PiperVoice.load(a.voice, include_alignments=True)
        rate, offset, phones = timed.config.sample_rate, 0.0, []
        for c in timed.synthesize(a.text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0), include_alignments=True):
            if not c.phoneme_alignments:
                raise SystemExit("piper_parity: the voice reported no phoneme alignments")
            phones += [[p[0], p[1] + offset, p[2] + offset] for p in piper_phones(c.phoneme_alignments, rate)]
            offset += len(c.audio_float_array) / rate
        Path(a.phones).write_text(json.dumps({"phone_set": "ipa", "phones": phones}) + "\n")
        print(f"{len(phones)} phones -> {a.phones}")


if __name__ == "__main__":
    main()
