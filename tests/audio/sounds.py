"""Sound files made on the spot with ffmpeg, for tests of uploads and assembly."""

from pathlib import Path

from audio.ffmpeg import run


def tone(
    path: Path,
    *,
    seconds: float = 3.0,
    volume: float = 0.3,
    codec: str = "mp3",
    rate: int = 44100,
) -> Path:
    """A warbling tone (speech-like loudness changes), encoded as asked."""
    expression = f"{volume}*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*3*t))"
    encoders = {
        "mp3": ["-c:a", "libmp3lame", "-b:a", "96k"],
        # No Xing header: only the bitrate tells the length, which ffmpeg then estimates.
        "bare mp3": ["-c:a", "libmp3lame", "-b:a", "96k", "-write_xing", "0"],
        "wav": ["-c:a", "pcm_s16le"],
        "ogg": ["-c:a", "libvorbis"],
        "flac": ["-c:a", "flac"],
    }
    run(
        [
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc={expression}:s={rate}:d={seconds}",
            "-ac",
            "1",
            *encoders[codec],
            str(path),
        ]
    )
    return path


def silence(path: Path, *, seconds: float = 3.0) -> Path:
    """A WAV file of digital silence."""
    run(
        [
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=mono",
            "-t",
            str(seconds),
            "-c:a",
            "pcm_s16le",
            str(path),
        ]
    )
    return path


def truncated(source: Path, path: Path, *, keep: float = 0.5) -> Path:
    """The first part of a file, as a transfer cut off mid-way leaves it."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path
