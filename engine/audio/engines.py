"""Speech-recognition engines, each loaded once per process.

* ``sphinx`` (default) — CMU Sphinx, offline, with the English model the pocketsphinx
  package ships (the engine SpeechRecognition's recognize_sphinx runs; used directly so
  the model loads once, not once per utterance). Its keyword-spotting mode found none of
  the pack's phrases on the test recordings, so it takes no hints.
* ``whisper`` — faster-whisper, offline, with a CTranslate2 model directory you supply
  (`--model DIR`; any language, Mandarin included); takes the rule pack's phrases as
  hotwords with `--hints-from-rules`.
* ``vosk`` — Vosk, offline, with a model directory you supply (`--model DIR`).
* ``google`` — Google's web speech API through SpeechRecognition: **sends audio off this
  machine**, so it runs only when chosen explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from engine.audio.wav import RATE, AudioError


@dataclass(frozen=True)
class Heard:
    """What an engine made of one utterance."""

    text: str
    confidence: float | None = None


class SpeechEngine(Protocol):
    name: str

    def transcribe(self, pcm: bytes) -> Heard: ...


class SphinxEngine:
    name = "sphinx"

    def __init__(self, model: Path | None = None, language: str = "en") -> None:
        if language != "en" and model is None:
            raise AudioError("the Sphinx model shipped with pocketsphinx is English only",
                             "give --model DIR with a Sphinx model for this language, or use "
                             "--engine whisper/vosk with a Mandarin model")
        from pocketsphinx import Decoder

        options: dict[str, object] = {"samprate": RATE, "loglevel": "FATAL"}
        if model is not None:  # the folder layout SpeechRecognition's Sphinx models use
            options.update(hmm=str(model / "acoustic-model"),
                           lm=str(model / "language-model.lm.bin"),
                           dict=str(model / "pronounciation-dictionary.dict"))
        try:
            self.decoder = Decoder(**options)
        except (RuntimeError, ValueError) as exc:
            raise AudioError(f"cannot load the Sphinx model ({exc})",
                             "check --model points at a Sphinx model directory") from None

    def transcribe(self, pcm: bytes) -> Heard:
        decoder = self.decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        hypothesis = decoder.hyp()
        if hypothesis is None:
            return Heard("")
        return Heard(hypothesis.hypstr.strip(), round(float(hypothesis.prob), 4))


class WhisperEngine:
    name = "whisper"

    def __init__(self, model: Path | None = None, language: str = "zh") -> None:
        if model is None or not model.is_dir():
            raise AudioError("the whisper engine needs a local model directory",
                             "give --model DIR with a faster-whisper (CTranslate2) model")
        try:
            from faster_whisper import WhisperModel
        except ImportError:
            raise AudioError("faster-whisper is not installed",
                             "pip install faster-whisper") from None
        self.model = WhisperModel(str(model), device="cpu", compute_type="int8")
        self.language = language
        self.hints: tuple[str, ...] = ()  # the pack's phrases, passed as hotwords

    def transcribe(self, pcm: bytes) -> Heard:
        import numpy

        audio = numpy.frombuffer(pcm, dtype=numpy.int16).astype(numpy.float32) / 32768.0
        extra = {"hotwords": " ".join(self.hints)} if self.hints else {}
        segments, _ = self.model.transcribe(audio, language=self.language, **extra)
        parts = list(segments)
        text = "".join(s.text for s in parts).strip()
        confidence = None
        if parts:
            confidence = round(sum(getattr(s, "avg_logprob", 0.0) for s in parts) / len(parts), 4)
        return Heard(text, confidence)


class VoskEngine:
    name = "vosk"

    def __init__(self, model: Path | None = None, language: str = "zh") -> None:
        if model is None or not model.is_dir():
            raise AudioError("the vosk engine needs a local model directory",
                             "give --model DIR with an unpacked Vosk model")
        try:
            from vosk import KaldiRecognizer, Model, SetLogLevel
        except ImportError:
            raise AudioError("vosk is not installed", "pip install vosk") from None
        SetLogLevel(-1)
        self.model = Model(str(model))
        self._recognizer = KaldiRecognizer

    def transcribe(self, pcm: bytes) -> Heard:
        import json

        recognizer = self._recognizer(self.model, RATE)
        recognizer.AcceptWaveform(pcm)
        return Heard(json.loads(recognizer.FinalResult()).get("text", "").strip())


class GoogleEngine:
    """Online: audio leaves the machine. Only ever used when the user names it."""

    name = "google"

    def __init__(self, model: Path | None = None, language: str = "zh") -> None:
        import speech_recognition

        self.recognizer = speech_recognition.Recognizer()
        self.language = {"zh": "zh-CN", "en": "en-US"}.get(language, language)

    def transcribe(self, pcm: bytes) -> Heard:
        import speech_recognition

        audio = speech_recognition.AudioData(pcm, RATE, 2)
        try:
            return Heard(self.recognizer.recognize_google(audio, language=self.language))
        except speech_recognition.UnknownValueError:
            return Heard("")
        except speech_recognition.RequestError as exc:
            raise AudioError(f"the online engine did not answer ({exc})",
                             "check the network, or use an offline engine") from None


ENGINES: dict[str, type] = {
    "sphinx": SphinxEngine,
    "whisper": WhisperEngine,
    "vosk": VoskEngine,
    "google": GoogleEngine,
}
