"""`python -m bench.recordings`: how well recordings are heard, wideband against telephone.

    python -m bench.recordings                 # render the scripted calls, then measure
    python -m bench.recordings FILE.wav ...    # measure given renderings (FILE.txt: script)

The scripted calls below are spoken by espeak-ng and written as 16 kHz 16-bit PCM and in
the formats telephone platforms record: 8 kHz μ-law and A-law, 32-bit extensible WAV, MP3
and Opus. Each rendering is transcribed
with the default engine (Sphinx), and the word match (1 − WER against the script) and the
seconds of CPU per second of audio are printed per rendering. A μ-law file that this
callaudit cannot read is converted by sox to 8 kHz 16-bit PCM first (the narrowband audio
is the same; only the container differs). Needs espeak-ng and sox to render.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CALLS = [
    ["Hello, am I speaking with the account holder?", "Yes, speaking.",
     "Do you have a minute to hear about our streaming offer?", "Please stop calling me.",
     "I understand. Goodbye."],
    ["Good morning, this is Anna from the phone company.", "Good morning.",
     "The first month is free and then it costs ten dollars a month.",
     "How do I cancel it?", "You can cancel at any time by sending a text message."],
    ["Are you the owner of this number?", "No, it is my husband's phone.",
     "Could I speak with him please?", "He is not at home right now.",
     "I will call again tomorrow, thank you."],
]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def word_errors(reference: list[str], heard: list[str]) -> int:
    """Word-level edit distance (substitutions, insertions, deletions)."""
    row = list(range(len(heard) + 1))
    for i, ref in enumerate(reference, 1):
        previous, row[0] = row[0], i
        for j, word in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1,
                                           previous + (ref != word))
    return row[-1]


def render(script: list[str], folder: Path, name: str) -> list[Path]:
    """One call: its lines one after another, a second apart, as 16 kHz PCM and in each
    format telephone platforms store (sox writes the WAV encodings, libsndfile MP3 and
    Opus)."""
    import soundfile

    parts = []
    for number, line in enumerate(script):
        raw = folder / f"{name}-{number}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(raw), line],
                       check=True)
        parts.append(str(raw))
    silence = folder / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", str(silence), "trim", "0", "1"],
                   check=True)
    joined = [p for part in parts for p in (part, str(silence))]
    wide = folder / f"{name}-16k-pcm.wav"
    subprocess.run(["sox", *joined, "-r", "16000", "-c", "1", "-b", "16", "-e", "signed",
                    str(wide)], check=True)
    made = [wide]
    for kind, options in (("8k-ulaw", ["-r", "8000", "-e", "u-law"]),
                          ("8k-alaw", ["-r", "8000", "-e", "a-law"]),
                          ("16k-32bit-ext", ["-r", "16000", "-b", "32", "-e", "signed"])):
        target = folder / f"{name}-{kind}.wav"
        subprocess.run(["sox", str(wide), *options, str(target)], check=True)
        made.append(target)
    narrow = folder / f"{name}-8k-pcm.wav"
    subprocess.run(["sox", str(wide), "-r", "8000", str(narrow)], check=True)
    samples, rate = soundfile.read(narrow, dtype="int16")
    for kind, suffix, container, subtype in (("8k-mp3", ".mp3", "MP3", "MPEG_LAYER_III"),
                                             ("8k-opus", ".ogg", "OGG", "OPUS")):
        target = folder / f"{name}-{kind}{suffix}"
        soundfile.write(target, samples, rate, format=container, subtype=subtype)
        made.append(target)
    for path in made:
        path.with_suffix(".txt").write_text(" ".join(script) + "\n", encoding="utf-8")
    return made


def readable(path: Path, folder: Path) -> Path:
    """The file, or its sox conversion to 16-bit PCM at the same rate when this callaudit
    does not read its encoding (μ-law)."""
    from engine.audio.wav import AudioError, read_recording

    try:
        read_recording(path)
        return path
    except AudioError:
        target = folder / f"{path.stem}-pcm16.wav"
        subprocess.run(["sox", str(path), "-b", "16", "-e", "signed", str(target)],
                       check=True)
        return target


def measure(paths: list[Path], folder: Path) -> dict[str, list[float]]:
    from engine.audio.transcribe import TranscribeOptions, cached_engine, transcribe_recording

    options = TranscribeOptions()
    engine = cached_engine(options)
    totals: dict[str, list[float]] = {}  # kind -> [errors, words, cpu, audio seconds]
    for path in paths:
        kind = path.stem.split("-", 1)[1] if "-" in path.stem else path.stem
        script = path.with_suffix(".txt").read_text(encoding="utf-8")
        source = readable(path, folder)
        started = time.process_time()
        try:
            record = transcribe_recording(source, engine, options)
            heard = " ".join(t["text"] for t in record["turns"])
            seconds = record["recording"]["seconds"]
        except ValueError:
            heard, seconds = "", 0.0
        cpu = time.process_time() - started
        reference = words(script)
        entry = totals.setdefault(kind, [0, 0, 0.0, 0.0])
        entry[0] += word_errors(reference, words(heard))
        entry[1] += len(reference)
        entry[2] += cpu
        entry[3] += seconds
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recordings", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path,
                        help="renderings to measure, each with FILE.txt holding its script")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-recordings-") as scratch:
        folder = Path(scratch)
        paths = args.files or [p for n, call in enumerate(CALLS)
                               for p in render(call, folder, f"call{n}")]
        totals = measure(paths, folder)
    print(f"{'rendering':<14} {'word match':>10} {'words':>6} {'CPU s / audio s':>16}")
    for kind, (errors, count, cpu, seconds) in sorted(totals.items()):
        match = 1 - errors / count if count else 0.0
        speed = cpu / seconds if seconds else float("nan")
        print(f"{kind:<14} {match:>10.1%} {count:>6} {speed:>16.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
