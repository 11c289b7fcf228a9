"""Reading call recordings in the formats call platforms store them.

libsndfile (through `soundfile`) reads WAV of any sample rate and layout — 8 kHz G.711
μ-law and A-law, 24/32-bit and WAVE_FORMAT_EXTENSIBLE — FLAC, MP3 and Ogg (Opus, Vorbis).
What it cannot read (AAC in M4A, AMR, ...) is read by PyAV (ffmpeg) when the optional
`callaudit[av]` extra is installed; otherwise the file is refused, naming its format.
Every channel becomes 16-bit mono PCM at the rate the speech engine needs, sample i at
i / rate seconds of the original file, so a turn's times are the original's.
(README.md, Recordings → Formats, has the measurements behind this choice.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported when a recording is read: `cli` starts without it
    import numpy

RATE = 16_000  # what the speech engines take: 16 kHz, 16-bit, mono per channel


class AudioError(ValueError):
    """A recording that cannot be read: what is wrong and what to do."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class Recording:
    """A call recording as 16-bit PCM at `rate`, one bytes object per channel."""

    path: str
    channels: tuple[bytes, ...]
    source_rate: int
    rate: int = RATE
    format: str = ""  # as read: "WAV μ-law", "MP3", ...

    @property
    def seconds(self) -> float:
        return max((len(c) for c in self.channels), default=0) / 2 / self.rate


def read_recording(path: Path, rate: int = RATE) -> Recording:
    """A recording's channels at `rate` (AudioError naming the format when unreadable)."""
    samples, source_rate, described = _decode(path)
    if samples.shape[0] == 0:
        raise AudioError("the recording is empty", "check the recorder saved the call")
    if samples.shape[1] not in (1, 2):
        raise AudioError(f"unsupported layout ({samples.shape[1]} channels)",
                         "callaudit reads mono and stereo recordings; export the call as one "
                         "stereo file or one mono file per speaker")
    channels = tuple(resample(samples[:, i], source_rate, rate).tobytes()
                     for i in range(samples.shape[1]))
    return Recording(str(path), channels, source_rate, rate, described)


def resample(samples: numpy.ndarray, source: int, target: int) -> numpy.ndarray:
    """16-bit samples from `source` Hz to `target` Hz: output sample i is the signal at
    i / target seconds (times are kept), low-passed first when the rate goes down."""
    import numpy

    if source == target or samples.size == 0:
        return samples.astype(numpy.int16, copy=False)
    signal = samples.astype(numpy.float64)
    if target < source:  # windowed-sinc low-pass at the new Nyquist frequency
        cutoff = 0.5 * target / source
        taps = numpy.arange(-32, 33)
        kernel = 2 * cutoff * numpy.sinc(2 * cutoff * taps) * numpy.hamming(taps.size)
        signal = numpy.convolve(signal, kernel / kernel.sum(), mode="same")
    count = round(samples.size * target / source)
    at = numpy.arange(count) * (source / target)
    out = numpy.interp(at, numpy.arange(samples.size), signal)
    return numpy.clip(numpy.round(out), -32768, 32767).astype(numpy.int16)


def _decode(path: Path) -> tuple[numpy.ndarray, int, str]:
    """(frames × channels int16, sample rate, format) by libsndfile, else by PyAV."""
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as handle:
            described = _sndfile_format(handle.format, handle.subtype)
            samples = handle.read(dtype="int16", always_2d=True)
            if handle.format in ("MP3", "MPEG"):
                samples = samples[_mp3_gap(path):]
            return samples, handle.samplerate, described
    except soundfile.LibsndfileError as exc:
        failure = str(exc)
    except OSError as exc:
        raise AudioError(f"cannot read the file ({exc.strerror or exc})",
                         "check the path and that this user may read it") from None
    except RuntimeError as exc:  # a stream libsndfile recognised but could not decode
        failure = str(exc)
    if not path.is_file():
        raise AudioError("cannot read the file (no such file)",
                         "check the path and that this user may read it")
    described = sniff(path)
    try:
        import av  # noqa: F401  (the optional callaudit[av] extra)
    except ImportError:
        if described is None:
            raise _unreadable(path, _libsndfile_reason(failure)) from None
        raise AudioError(f"{described}: install callaudit[av] to read it",
                         "pip install 'callaudit[av]' (PyAV), or export the calls as WAV "
                         "or MP3") from None
    return _decode_av(path, described)


def _unreadable(path: Path, why: str) -> AudioError:
    kind = "WAV file" if path.suffix.lower() == ".wav" else "recording"
    return AudioError(f"not a readable {kind} ({why})",
                      "check the file plays and is not empty or truncated; callaudit reads "
                      "WAV, FLAC, MP3 and Ogg/Opus (M4A/AAC with callaudit[av])")


def _decode_av(path: Path, described: str | None) -> tuple[numpy.ndarray, int, str]:
    import av
    import numpy

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise AudioError("the file holds no audio stream",
                                 "check this is a call recording")
            stream = container.streams.audio[0]
            channels = min(stream.codec_context.channels or 1, 2)
            rate = stream.codec_context.sample_rate
            layout = "mono" if channels == 1 else "stereo"
            resampler = av.AudioResampler(format="s16", layout=layout, rate=rate)
            parts = [frame.to_ndarray().reshape(-1, channels)
                     for decoded in container.decode(stream)
                     for frame in resampler.resample(decoded)]
            parts += [f.to_ndarray().reshape(-1, channels) for f in resampler.resample(None)]
            codec = stream.codec_context.name.upper()
    except av.error.FFmpegError as exc:
        if described is None:
            raise _unreadable(path, str(exc)) from None
        raise AudioError(f"{described} ({exc})",
                         "check the file plays; re-export it as WAV or MP3") from None
    samples = numpy.concatenate(parts) if parts else numpy.zeros((0, channels), numpy.int16)
    if described and described.startswith("audio in"):  # the moov atom was past the sniff
        described = codec + described[len("audio"):]
    return samples, rate, described or f"{codec} ({container.format.name})"


MP3_DECODER_DELAY = 529  # samples every MP3 decoder adds in front (ffmpeg removes 528 + 1)
LAME_DELAY = 576  # LAME's encoder delay, for MP3s written without a LAME tag (sox's)


def _mp3_gap(path: Path) -> int:
    """Samples libsndfile's MP3 decoder puts before the recording's first one: the
    encoder's delay from the LAME tag (LAME's usual delay when there is none) plus the
    decoder's own, so that second 0 of the turns is second 0 of the call (0.14 s late at
    8 kHz otherwise)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return 0
    for tag in (b"Xing", b"Info"):
        at = head.find(tag)
        if 0 <= at < 4096:
            lame = head.find(b"LAME", at, at + 200)
            if lame >= 0 and len(head) >= lame + 24:
                delay = (head[lame + 21] << 4) | (head[lame + 22] >> 4)
                return delay + MP3_DECODER_DELAY
    return LAME_DELAY + MP3_DECODER_DELAY


_SUBTYPES = {"ULAW": "μ-law", "ALAW": "A-law", "PCM_16": "16-bit PCM", "PCM_24": "24-bit PCM",
             "PCM_32": "32-bit PCM", "FLOAT": "32-bit float", "MPEG_LAYER_III": "",
             "OPUS": "Opus", "VORBIS": "Vorbis", "GSM610": "GSM 6.10", "IMA_ADPCM": "IMA ADPCM"}


def _sndfile_format(container: str, subtype: str) -> str:
    kind = {"WAVEX": "WAV (extensible)", "MPEG": "MP3", "OGG": "Ogg"}.get(container, container)
    detail = _SUBTYPES.get(subtype, subtype.replace("_", " ").lower())
    return f"{kind} {detail}".strip()


def _libsndfile_reason(failure: str) -> str:
    return failure.split(": ", 1)[-1].rstrip(".") if ": " in failure else failure


# WAV format codes libsndfile does not decode, as platforms name them.
_WAV_CODECS = {0x0055: "MP3", 0x0161: "WMA", 0x0162: "WMA Pro", 0x0022: "TrueSpeech",
               0x0042: "G.723.1", 0x0064: "G.726 ADPCM", 0x0065: "G.722", 0x0067: "G.722.1",
               0x0014: "G.723 ADPCM", 0x0040: "G.721 ADPCM", 0x00FF: "AAC", 0x1610: "AAC"}


def sniff(path: Path) -> str | None:
    """The format of a file libsndfile refused, from its first bytes ("AAC in an M4A
    container", "AMR", "WMA in a WAV file"); None when unrecognised."""
    try:
        with path.open("rb") as handle:
            head = handle.read(65536)
    except OSError:
        return None
    if head[4:8] == b"ftyp":
        codec = ("AAC" if b"mp4a" in head else "ALAC" if b"alac" in head
                 else "audio" if head else "")
        return f"{codec} in an M4A container"
    if head.startswith(b"#!AMR-WB"):
        return "AMR-WB"
    if head.startswith(b"#!AMR"):
        return "AMR"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        at = head.find(b"fmt ")
        if at >= 0 and len(head) >= at + 10:
            code = int.from_bytes(head[at + 8 : at + 10], "little")
            if code == 0xFFFE and len(head) >= at + 34:  # extensible: the GUID's first bytes
                code = int.from_bytes(head[at + 32 : at + 34], "little")
            name = _WAV_CODECS.get(code, f"format code {code}")
            return f"{name} in a WAV file"
    if head.startswith(b"0&\xb2u\x8ef\xcf\x11"):
        return "WMA (ASF)"
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "WebM/Matroska"
    return None
