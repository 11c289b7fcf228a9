"""Reading call recordings: WAV with the standard library, other formats through sox or
ffmpeg when one is installed. Everything becomes 16 kHz, 16-bit PCM per channel."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
import wave
from dataclasses import dataclass
from pathlib import Path

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # audioop: fine on 3.10-3.12
    import audioop

RATE = 16_000


class AudioError(ValueError):
    """A recording that cannot be read: what is wrong and what to do."""

    def __init__(self, reason: str, hint: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint


@dataclass(frozen=True)
class Recording:
    """A call recording as 16 kHz 16-bit PCM, one bytes object per channel."""

    path: str
    channels: tuple[bytes, ...]
    source_rate: int

    @property
    def seconds(self) -> float:
        return len(self.channels[0]) / 2 / RATE if self.channels else 0.0


def converter() -> str | None:
    """The first audio converter on this machine: sox, then ffmpeg."""
    return shutil.which("sox") or shutil.which("ffmpeg")


def read_recording(path: Path) -> Recording:
    """A recording from a WAV file, or from another format through a converter."""
    if path.suffix.lower() == ".wav":
        return _read_wav(path)
    tool = converter()
    if tool is None:
        raise AudioError(f"cannot read {path.suffix} audio without a converter",
                         "install sox or ffmpeg, or convert the recordings to WAV")
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "converted.wav"
        command = ([tool, str(path), "-b", "16", str(target)] if tool.endswith("sox")
                   else [tool, "-loglevel", "error", "-i", str(path), "-c:a", "pcm_s16le",
                         str(target)])
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0 or not target.exists():
            raise AudioError(f"{Path(tool).name} could not convert it: "
                             f"{(done.stderr or 'no output').strip().splitlines()[-1][:200]}",
                             "check the file plays; re-export it as WAV")
        recording = _read_wav(target)
    return Recording(str(path), recording.channels, recording.source_rate)


def _read_wav(path: Path) -> Recording:
    try:
        with wave.open(str(path), "rb") as handle:
            channels = handle.getnchannels()
            width = handle.getsampwidth()
            rate = handle.getframerate()
            frames = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError) as exc:
        raise AudioError(f"not a readable WAV file ({exc})",
                         "check the file is a PCM WAV recording, not empty or truncated") from None
    except OSError as exc:
        raise AudioError(f"cannot read the file ({exc.strerror or exc})",
                         "check the path and that this user may read it") from None
    if not frames:
        raise AudioError("the recording is empty", "check the recorder saved the call")
    if width not in (1, 2, 3, 4) or channels not in (1, 2):
        raise AudioError(f"unsupported WAV layout ({channels} channels, {width * 8}-bit)",
                         "convert to 16-bit mono or stereo PCM WAV")
    if width == 1:
        frames = audioop.bias(frames, 1, -128)  # 8-bit WAV is unsigned
    if width != 2:
        frames = audioop.lin2lin(frames, width, 2)
    split = [frames] if channels == 1 else [audioop.tomono(frames, 2, 1, 0),
                                            audioop.tomono(frames, 2, 0, 1)]
    if rate != RATE:
        split = [audioop.ratecv(pcm, 2, 1, rate, RATE, None)[0] for pcm in split]
    return Recording(str(path), tuple(split), rate)
