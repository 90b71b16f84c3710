"""ffmpeg, installed with the project (imageio-ffmpeg), for decoding, measuring and encoding.

Audio is streamed through ffmpeg processes rather than held in Python memory, so a
long programme costs about as much memory as a short one.
"""

import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import imageio_ffmpeg

PCM_RATE = 24_000  # what the speech engines produce and the pipeline works in
PCM_FORMAT = ["-f", "s16le", "-ar", str(PCM_RATE), "-ac", "1"]
ENCODER_HEADROOM_DB = 0.6
# Speech-friendly compression before the gain: 3:1 above -20 dBFS, quick to react.
COMPRESSOR = "acompressor=threshold=0.1:ratio=3:attack=5:release=80:makeup=1"
NORMALIZE_PASSES = 4
# LAME's quality 7 encodes twice as fast as its default; speech on horn loudspeakers
# does not carry the detail the slower search would keep.
LAME_QUALITY = 7
NORMALIZE_TOLERANCE_LU = 0.3


class AudioError(Exception):
    """ffmpeg could not read or write some audio; the message says why, in one line."""


@dataclass(frozen=True)
class Loudness:
    """What an independent meter (ffmpeg's ebur128) says about a file."""

    integrated_lufs: float
    true_peak_dbtp: float
    duration_s: float


@dataclass(frozen=True)
class AudioInfo:
    """What a full decode of a file found."""

    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    header_duration_s: float | None  # what the container claims, to catch cut-off files
    max_volume_db: float
    errors: list[str]


@cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped with imageio-ffmpeg (or the system's, if that one is missing)."""
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError:
        system = shutil.which("ffmpeg")
        if system is None:
            raise AudioError("Không tìm thấy ffmpeg; hãy cài lại gói imageio-ffmpeg.") from None
        return system


def run(
    args: list[str], *, data: bytes | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ffmpeg with the given arguments; raise AudioError with its last complaint on failure."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        input=data,
        capture_output=True,
        check=False,
    )
    if check and result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise AudioError(lines[-1] if lines else f"ffmpeg exited with {result.returncode}")
    return result


def decode_to_pcm(source: Path | bytes) -> bytes:
    """Decode any audio ffmpeg knows into mono 16-bit PCM at PCM_RATE."""
    if isinstance(source, Path):
        result = run(["-v", "error", "-i", str(source), *PCM_FORMAT, "pipe:1"])
    else:
        result = run(["-v", "error", "-i", "pipe:0", *PCM_FORMAT, "pipe:1"], data=source)
    return result.stdout


_EBUR128 = re.compile(
    r"Integrated loudness:\s+I:\s+(?P<i>-?[\d.]+|-inf) LUFS"
    r".*?(?:True|Sample) peak:\s+Peak:\s+(?P<tp>-?[\d.]+|-inf) dBFS",
    re.S,
)
_TIME = re.compile(r"out_time_us=(\d+)")


def _meter(source: Path, chain: str, *, true_peak: bool = True) -> Loudness:
    # True peak needs 4x oversampling, which doubles the cost; tuning passes skip it.
    meter = "ebur128=peak=true" if true_peak else "ebur128=peak=sample"
    args = ["-nostats", "-progress", "pipe:1", "-i", str(source)]
    result = run([*args, "-af", f"{chain},{meter}", "-f", "null", "-"])
    summary = _EBUR128.search(result.stderr.decode(errors="replace"))
    times = _TIME.findall(result.stdout.decode())
    if summary is None or not times:
        raise AudioError("không đo được độ to của tệp âm thanh")
    return Loudness(
        integrated_lufs=float(summary["i"]),
        true_peak_dbtp=float(summary["tp"]),
        duration_s=int(times[-1]) / 1_000_000,
    )


def measure(path: Path) -> Loudness:
    """Measure integrated loudness, true peak and duration of a file (ffmpeg's ebur128)."""
    return _meter(path, "anull")


_STREAM = re.compile(r"Audio: (?P<codec>[\w-]+).*?, (?P<rate>\d+) Hz, (?P<layout>[\w.()]+)")
_MAX_VOLUME = re.compile(r"max_volume: (-?[\d.]+|-inf) dB")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


def _claimed(log: str) -> float | None:
    claimed = _DURATION.search(log)
    if claimed is None:
        return None
    return int(claimed[1]) * 3600 + int(claimed[2]) * 60 + float(claimed[3])


def declared_duration(path: Path) -> float | None:
    """The length a file's header declares, read without decoding (milliseconds, whatever
    the file's size); None if it declares none and ffmpeg would only guess from the bitrate."""
    log = run(["-i", str(path)], check=False).stderr.decode(errors="replace")
    if "Estimating duration from bitrate" in log:
        return None  # an MP3 without a Xing header, raw AAC, AMR: a guess, maybe far off
    return _claimed(log)


def inspect_audio(path: Path, *, limit_s: float | None = None) -> AudioInfo:
    """Decode a whole file (or its first `limit_s` seconds), reporting its format, length,
    loudest sample and decode errors."""
    # A few MB of compressed silence can hold many hours: the limit bounds the work.
    limit = ["-t", f"{limit_s:g}"] if limit_s is not None else []
    result = run(
        [
            "-v",
            "info",
            "-nostats",
            "-progress",
            "pipe:1",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "volumedetect",
            *limit,
            "-f",
            "null",
            "-",
        ],
        check=False,
    )
    log = result.stderr.decode(errors="replace")
    stream = _STREAM.search(log)
    if result.returncode != 0 or stream is None:
        last = log.strip().splitlines()[-1] if log.strip() else "không đọc được"
        raise AudioError(f"không phải tệp âm thanh đọc được ({last})")
    times = _TIME.findall(result.stdout.decode())
    volume = _MAX_VOLUME.search(log)
    errors = [
        line
        for line in log.splitlines()
        if re.search(r"error|invalid|corrupt|truncat|incomplete|overread", line, re.I)
    ]
    layout = stream["layout"]
    return AudioInfo(
        codec=stream["codec"],
        sample_rate=int(stream["rate"]),
        channels=1 if layout.startswith("mono") else 2 if layout.startswith("stereo") else 0,
        duration_s=int(times[-1]) / 1_000_000 if times else 0.0,
        header_duration_s=_claimed(log),
        max_volume_db=float(volume[1]) if volume else float("-inf"),
        errors=errors,
    )


def normalize_to_mp3(
    source: Path,
    *,
    dest: Path,
    target_lufs: float,
    true_peak: float = -1.0,
    bitrate_kbps: int = 64,
    channels: int = 1,
    sample_rate: int = 44_100,
    compress: bool = True,
) -> Loudness:
    """Bring a file to an integrated loudness under a true-peak ceiling, as an MP3.

    Speech has peaks far above its average level, so plain gain cannot reach -16 LUFS
    under -1 dBTP: a gentle compressor narrows the gap and a limiter catches what is
    left. Gain and ceiling are tuned on the filtered stream (cheap: no encoding), the
    file is encoded once, and corrected once more only if the encoder overshot.
    """
    shape = COMPRESSOR if compress else "anull"
    start = _meter(source, shape, true_peak=False)
    if start.integrated_lufs == float("-inf"):
        raise AudioError("tệp âm thanh hoàn toàn im lặng")
    gain, limit_db = target_lufs - start.integrated_lufs, true_peak - ENCODER_HEADROOM_DB

    def chain() -> str:
        return (
            f"{shape},volume={gain:.2f}dB,alimiter=limit={10 ** (limit_db / 20):.4f}"
            ":level=false:attack=2:release=50"
        )

    for _ in range(NORMALIZE_PASSES):
        miss = target_lufs - _meter(source, chain(), true_peak=False).integrated_lufs
        if abs(miss) <= NORMALIZE_TOLERANCE_LU:
            break
        gain += miss
    for _ in range(2):
        run(
            [
                "-v",
                "error",
                "-y",
                "-i",
                str(source),
                "-af",
                chain(),
                "-ar",
                str(sample_rate),
                "-ac",
                str(channels),
                "-c:a",
                "libmp3lame",
                "-compression_level",
                str(LAME_QUALITY),
                "-b:a",
                f"{bitrate_kbps}k",
                "-f",
                "mp3",
                str(dest),
            ]
        )
        result = measure(dest)
        # Inter-sample peaks and the encoder can still overshoot the sample limiter.
        overshoot = result.true_peak_dbtp - true_peak
        miss = target_lufs - result.integrated_lufs
        if overshoot <= 0 and abs(miss) <= 2 * NORMALIZE_TOLERANCE_LU:
            break
        gain += miss
        limit_db -= max(0.0, overshoot + 0.2)
    return result


def append_decoded(source: Path, *, writer: "wave.Wave_write", sample_rate: int = 44_100) -> None:
    """Decode a file as mono 16-bit PCM straight into an open WAV writer, chunk by chunk."""
    process = subprocess.Popen(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(source),
            "-f",
            "s16le",
            "-ar",
            str(sample_rate),
            "-ac",
            "1",
            "pipe:1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    while chunk := process.stdout.read(1 << 16):
        writer.writeframesraw(chunk)
    complaint = process.stderr.read().decode(errors="replace").strip()
    if process.wait() != 0:
        raise AudioError(complaint.splitlines()[-1] if complaint else "không giải mã được")


def pcm_to_wav(pcm: bytes, *, dest: Path) -> None:
    """Wrap raw engine PCM in a WAV file ffmpeg can read twice (two-pass normalisation)."""
    run(
        ["-v", "error", "-y", *PCM_FORMAT, "-i", "pipe:0", "-c:a", "pcm_s16le", str(dest)], data=pcm
    )
