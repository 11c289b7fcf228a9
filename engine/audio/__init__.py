"""Recordings in: call audio turned into the interchange format, so everything downstream
works the same. Channels are split by speaker, cut into utterances by voice activity
detection, transcribed, and merged by time into turns."""
