"""Regenerate the test recordings in tests/fixtures/audio (needs espeak-ng and sox).

    python tools/make_test_recordings.py

Each line of a scripted call is spoken by espeak-ng, converted by sox to 16 kHz 16-bit
mono, and placed at its start time on the agent's (left) or the customer's (right)
channel; the mono version mixes both. The WAV files are committed and tests/test_audio.py
reads them; tests/test_audio_formats.py calls `tracks` and `write` to make short calls it
converts to the formats call platforms store (so it needs espeak-ng and sox).
"""

from __future__ import annotations

import array
import json
import subprocess
import tempfile
import wave
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "audio"
RATE = 16_000

# (speaker, start second, words): an English sale call that ends in an opt-out.
SCRIPT = [
    ("agent", 0.5, "Hello, am I speaking with the account holder?"),
    ("customer", 3.5, "Yes, speaking."),
    ("agent", 5.5, "Do you have a minute to hear about our streaming offer?"),
    ("customer", 9.5, "Please stop calling me."),
    ("agent", 12.5, "I understand. Goodbye."),
]
METADATA = {"call_id": "REC-0001", "call_type": "sale", "agent_id": "A042",
            "customer_phone": "+1 555-0100-0042", "started_at": "2026-11-23T10:00:00-05:00",
            "language": "en"}


def spoken(words: str, scratch: Path) -> array.array:
    raw, clean = scratch / "raw.wav", scratch / "clean.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "130", "-w", str(raw), words], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(clean)],
                   check=True)
    with wave.open(str(clean)) as handle:
        samples = array.array("h")
        samples.frombytes(handle.readframes(handle.getnframes()))
    return samples


def tracks(script: list[tuple[str, float, str]], seconds: float, scratch: Path
           ) -> tuple[array.array, array.array]:
    """The agent's and the customer's channel of a scripted call, each line at its time."""
    length = int(seconds * RATE)
    agent, customer = array.array("h", bytes(2 * length)), array.array("h", bytes(2 * length))
    for speaker, start, words in script:
        samples = spoken(words, scratch)
        track = agent if speaker == "agent" else customer
        at = int(start * RATE)
        track[at : at + len(samples)] = samples[: length - at]
    return agent, customer


def write(path: Path, channels: list[array.array]) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(len(channels))
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        if len(channels) == 1:
            handle.writeframes(channels[0].tobytes())
            return
        mixed = array.array("h", bytes(2 * len(channels[0]) * 2))
        mixed[0::2], mixed[1::2] = channels[0], channels[1]
        handle.writeframes(mixed.tobytes())


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        agent, customer = tracks(SCRIPT, 16.0, Path(scratch))
    write(OUT / "stereo_optout.wav", [agent, customer])
    pairs = zip(agent, customer, strict=True)
    mono = array.array("h", (max(-32768, min(32767, a + c)) for a, c in pairs))
    write(OUT / "mono_optout.wav", [mono])
    for name in ("stereo_optout", "mono_optout"):
        (OUT / f"{name}.json").write_text(
            json.dumps({**METADATA, "call_id": f"REC-{name}"}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
