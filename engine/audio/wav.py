"""Kept for the modules that import from here: recordings are read by engine/audio/formats.py
(libsndfile, and PyAV for what it cannot read)."""

from engine.audio.formats import RATE, AudioError, Recording, read_recording, resample

__all__ = ["RATE", "AudioError", "Recording", "read_recording", "resample"]
