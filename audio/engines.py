"""Vietnamese speech engines behind one interface: offline eSpeak NG, online gTTS, and auto.

Every engine returns mono 16-bit PCM at audio.ffmpeg.PCM_RATE and says which engine and
voice really spoke, so an audio asset can record it.
"""

import ctypes
import functools
import itertools
import logging
import re
import shutil
import subprocess
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from audio.ffmpeg import PCM_FORMAT, PCM_RATE, AudioError, decode_to_pcm, run

log = logging.getLogger(__name__)

ENGINES = ("espeak", "gtts", "auto")
ESPEAK_VOICES = ("vi", "vi-vn-x-central", "vi-vn-x-south")

RATE_MIN, RATE_MAX = 80, 450  # eSpeak NG's own limits, in words per minute
GTTS_SLOW_BELOW = 110  # gTTS has only two speeds; below this rate we ask for the slow one
# With the offline voice at hand, auto retries gTTS once: four attempts would keep a bulletin
# waiting about 15 s on a 429, and hammering a rate limit only prolongs it.
AUTO_GTTS_ATTEMPTS = 2

OFFLINE_MESSAGE = (
    "không kết nối được dịch vụ giọng đọc trực tuyến (gTTS); "
    "hãy kiểm tra kết nối Internet hoặc dùng giọng đọc ngoại tuyến eSpeak."
)


@dataclass(frozen=True)
class Voice:
    """How to speak: engine, voice name, rate (words per minute) and pitch."""

    engine: str = "espeak"
    name: str = "vi"
    rate: int = 150
    pitch: int = 50

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"bộ đọc không hợp lệ: {self.engine!r} (chọn một trong {ENGINES})")
        if not RATE_MIN <= self.rate <= RATE_MAX:
            raise ValueError(f"tốc độ đọc phải trong khoảng {RATE_MIN}-{RATE_MAX} từ/phút")
        if not 0 <= self.pitch <= 100:
            raise ValueError("cao độ giọng phải trong khoảng 0-100")


@dataclass(frozen=True)
class Speech:
    """Synthesized speech: mono s16le PCM at PCM_RATE, and what produced it."""

    pcm: bytes
    engine: str
    voice: str
    rate: int
    pitch: int

    @property
    def duration_s(self) -> float:
        """Length of the speech in seconds."""
        return len(self.pcm) / 2 / PCM_RATE


class EngineUnavailable(Exception):
    """The engine cannot speak right now; the message says why in one Vietnamese sentence."""


class SpeechEngine(Protocol):
    """Anything that turns Vietnamese text into Speech."""

    name: str

    def synthesize(self, text: str, *, voice: Voice) -> Speech: ...


def get_engine(name: str, **options: Any) -> SpeechEngine:
    """Build the engine called name ("espeak", "gtts" or "auto") with its options."""
    if name == "espeak":
        return EspeakEngine(**options)
    if name == "gtts":
        return GttsEngine(**options)
    if name == "auto":
        retry_online_after_s = options.pop("retry_online_after_s", 300.0)
        options.setdefault("attempts", AUTO_GTTS_ATTEMPTS)
        return AutoEngine(
            GttsEngine(**options), EspeakEngine(), retry_online_after_s=retry_online_after_s
        )
    raise ValueError(f"không có bộ đọc tên {name!r} (chọn một trong {ENGINES})")


def _require_words(text: str) -> None:
    """Refuse text with nothing to read (engines would return silence or fail obscurely)."""
    if not any(char.isalnum() for char in text):
        raise ValueError("văn bản không có chữ nào để đọc")


def _silence(seconds: float, rate: int) -> bytes:
    """Digital silence of the given length as s16le PCM."""
    return bytes(2 * round(seconds * rate))


def _resample(pcm: bytes, rate: int) -> bytes:
    """Convert mono s16le PCM from rate to PCM_RATE."""
    if rate == PCM_RATE or not pcm:
        return pcm
    source = ["-f", "s16le", "-ar", str(rate), "-ac", "1"]
    return run(["-v", "error", *source, "-i", "pipe:0", *PCM_FORMAT, "pipe:1"], data=pcm).stdout


# --- eSpeak NG ------------------------------------------------------------------------------

_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_PARAM_VOLUME = 2
_PARAM_PITCH = 3
# eSpeak's default volume (100) peaks at full scale, and resampling then clips; 60 leaves about
# 2 dB of headroom. Loudness is normalised later anyway.
_VOLUME = 60
_EE_OK = 0
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)

# libespeak-ng keeps one voice, one parameter set and one callback for the whole process.
_ESPEAK_LOCK = threading.Lock()


class _EspeakLibrary:
    """libespeak-ng, initialised for synchronous synthesis; use only while holding _ESPEAK_LOCK."""

    def __init__(self, lib: ctypes.CDLL, data_path: str) -> None:
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0
        )
        if self.sample_rate <= 0:
            raise OSError("espeak_Initialize failed")
        self._lib = lib
        self._sink: list[bytes] = []
        # ctypes frees a callback nobody references, and eSpeak would then call freed memory.
        self._callback = _CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: Any, count: int, events: Any) -> int:
        """eSpeak's synth callback: keep each buffer of samples it hands over."""
        if count > 0:
            self._sink.append(ctypes.string_at(wav, count * 2))
        return 0  # 0 = keep going

    def speak(self, text: str, *, voice: str, rate: int, pitch: int) -> bytes:
        """Synthesize text, returning PCM at self.sample_rate."""
        if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
            raise ValueError(f"eSpeak NG không có giọng {voice!r}")
        self._lib.espeak_SetParameter(_PARAM_RATE, rate, 0)
        self._lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
        self._lib.espeak_SetParameter(_PARAM_VOLUME, _VOLUME, 0)
        self._sink = []
        data = text.encode()
        status = self._lib.espeak_Synth(
            data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        self._lib.espeak_Synchronize()
        if status != _EE_OK:
            raise EngineUnavailable(f"eSpeak NG báo lỗi {status} khi đọc văn bản.")
        return b"".join(self._sink)


@functools.cache
def _espeak_library() -> _EspeakLibrary | None:
    """Load libespeak-ng from espeakng-loader once; None when it cannot be loaded."""
    try:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        return _EspeakLibrary(lib, espeakng_loader.get_data_path())
    except (ImportError, OSError, RuntimeError):
        return None


def _speak_with_binary(binary: str, text: str, *, voice: str, rate: int, pitch: int) -> bytes:
    """Synthesize text with an espeak-ng program, returning PCM at PCM_RATE."""
    options = ["-v", voice, "-s", str(rate), "-p", str(pitch), "-a", str(_VOLUME), "-b", "1"]
    result = subprocess.run(
        [binary, *options, "--stdout", "--stdin"],
        input=text.encode(),
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or not result.stdout:
        complaint = result.stderr.decode(errors="replace").strip() or f"mã lỗi {result.returncode}"
        raise EngineUnavailable(f"chương trình espeak-ng không đọc được văn bản ({complaint}).")
    try:
        return decode_to_pcm(result.stdout)
    except AudioError as error:
        raise EngineUnavailable(f"espeak-ng trả về âm thanh hỏng ({error}).") from error


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def _sentences(
    text: str, *, sentence_pause_s: float, paragraph_pause_s: float
) -> list[tuple[str, float]]:
    """Split text into sentences, each paired with the pause that should follow it."""
    segments: list[tuple[str, float]] = []
    for paragraph in text.splitlines():
        parts = [part.strip() for part in _SENTENCE_END.split(paragraph)]
        segments += [(part, sentence_pause_s) for part in parts if part]
        if segments:
            segments[-1] = (segments[-1][0], paragraph_pause_s)
    return segments


class EspeakEngine:
    """Offline eSpeak NG, through libespeak-ng (espeakng-loader) or else an espeak-ng program."""

    name = "espeak"

    def __init__(self, *, sentence_pause_s: float = 0.35, paragraph_pause_s: float = 0.7) -> None:
        self.sentence_pause_s = sentence_pause_s
        self.paragraph_pause_s = paragraph_pause_s

    def synthesize(self, text: str, *, voice: Voice) -> Speech:
        """Speak text sentence by sentence, joined with pauses, so long scripts stay bounded."""
        _require_words(text)
        segments = _sentences(
            text, sentence_pause_s=self.sentence_pause_s, paragraph_pause_s=self.paragraph_pause_s
        )
        pieces: list[bytes] = []
        rate = PCM_RATE
        for index, (sentence, pause_s) in enumerate(segments):
            pcm, rate = self._speak(sentence, voice)
            pieces.append(pcm)
            if index < len(segments) - 1:
                pieces.append(_silence(pause_s, rate))
        pcm = _resample(b"".join(pieces), rate)
        return Speech(
            pcm=pcm, engine="espeak", voice=voice.name, rate=voice.rate, pitch=voice.pitch
        )

    def _speak(self, sentence: str, voice: Voice) -> tuple[bytes, int]:
        """One sentence as (PCM, its sample rate)."""
        # The lock is taken per sentence so a short urgent bulletin is not stuck behind a long
        # script being rendered in another thread.
        with _ESPEAK_LOCK:
            library = _espeak_library()
            if library is not None:
                options = {"voice": voice.name, "rate": voice.rate, "pitch": voice.pitch}
                return library.speak(sentence, **options), library.sample_rate
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise EngineUnavailable(
                "không tìm thấy eSpeak NG: hãy cài gói espeakng-loader hoặc chương trình espeak-ng."
            )
        pcm = _speak_with_binary(
            binary, sentence, voice=voice.name, rate=voice.rate, pitch=voice.pitch
        )
        return pcm, PCM_RATE


# --- gTTS -----------------------------------------------------------------------------------

_SOUND_THRESHOLD = 328  # about -40 dBFS: quieter than any speech, louder than MP3 padding
_WINDOW_S = 0.005
_EDGE_MARGIN_S = 0.02  # keep soft onsets and tails that sit just under the threshold
_CROSSFADE_S = 0.01
_SENTENCE_MARKS = set(".!?…\n。？！")
_PUNCTUATION = set("?!？！.,¡()[]¿…‥،;:—。，、：\n")


class _Retryable(Exception):
    """The service answered with a status worth retrying (429 or 5xx)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class _Throttle:
    """Keeps at least interval_s seconds between the starts of consecutive HTTP requests."""

    def __init__(
        self, interval_s: float, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def wait(self) -> None:
        """Sleep until the next request may start."""
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self._interval_s


def _gtts_module() -> Any:
    """The gtts package, imported when first needed."""
    try:
        import gtts
    except ImportError:
        raise EngineUnavailable("chưa cài thư viện gTTS cho giọng đọc trực tuyến.") from None
    return gtts


def _chunks_with_separators(gtts: Any, text: str) -> list[tuple[str, str]]:
    """gTTS's own ~100-character chunks of text, each with the text gTTS dropped after it."""
    tts = gtts.gTTS(text, lang="vi", lang_check=False)
    processed = text.strip()
    for pre_processor in tts.pre_processor_funcs:
        processed = pre_processor(processed)
    chunks = tts._tokenize(text)
    found: list[tuple[str, str]] = []
    position = 0
    for chunk in chunks:
        start = processed.find(chunk, position)
        if start < 0:
            found.append((chunk, ","))  # unknown separator: a short pause is the safe guess
            continue
        if found:
            found[-1] = (found[-1][0], processed[position:start])
        position = start + len(chunk)
        found.append((chunk, ""))
    return found


def _pause_after(chunk: str, separator: str, *, clause_s: float, sentence_s: float) -> float:
    """The pause a reader makes where gTTS cut the text (gTTS drops the punctuation)."""
    if chunk[-1:] in _SENTENCE_MARKS or _SENTENCE_MARKS & set(separator):
        return sentence_s
    if _PUNCTUATION & set(separator):
        return clause_s
    return 0.0  # cut mid-clause at a space: the words must run on


def _sound_bounds(samples: array) -> tuple[int, int] | None:
    """Where sound starts and ends (sample indexes, with a margin), or None if silent."""
    window = round(_WINDOW_S * PCM_RATE)
    starts = range(0, len(samples), window)

    def loud(start: int) -> bool:
        return max(map(abs, samples[start : start + window])) > _SOUND_THRESHOLD

    first = next((start for start in starts if loud(start)), None)
    if first is None:
        return None
    last = next(start for start in reversed(starts) if loud(start)) + window
    margin = round(_EDGE_MARGIN_S * PCM_RATE)
    return max(0, first - margin), min(len(samples), last + margin)


def _fade(samples: array, length: int, *, fade_in: bool) -> None:
    """Linear fade over the first (fade_in) or last length samples, in place."""
    offset = 0 if fade_in else len(samples) - length
    for i in range(length):
        gain = (i + 1) / (length + 1) if fade_in else (length - i) / (length + 1)
        samples[offset + i] = round(samples[offset + i] * gain)


def _join(chunks: list[bytes], pauses_s: list[float]) -> bytes:
    """Join decoded chunks: trim padding at every joint, then crossfade or pause."""
    pieces = [array("h", pcm) for pcm in chunks]
    trimmed = []
    for index, samples in enumerate(pieces):
        bounds = _sound_bounds(samples)
        if bounds is None:
            continue
        start = bounds[0] if index > 0 else 0
        end = bounds[1] if index < len(pieces) - 1 else len(samples)
        trimmed.append((samples[start:end], pauses_s[index]))
    if not trimmed:
        return b"".join(chunks)
    result = trimmed[0][0]
    for (_, pause_s), (samples, _) in itertools.pairwise(trimmed):
        fade = min(round(_CROSSFADE_S * PCM_RATE), len(result), len(samples))
        _fade(result, fade, fade_in=False)
        _fade(samples, fade, fade_in=True)
        if pause_s > 0:
            result.extend(array("h", _silence(pause_s, PCM_RATE)))
            result.extend(samples)
            continue
        overlap = len(result) - fade
        for i in range(fade):
            result[overlap + i] = max(-32768, min(32767, result[overlap + i] + samples[i]))
        result.extend(samples[fade:])
    return result.tobytes()


class GttsEngine:
    """Google Translate's voice via gTTS: throttled, retried on 429/5xx, chunks joined smoothly."""

    name = "gtts"

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        min_interval_s: float = 1.0,
        attempts: int = 4,
        backoff_s: float = 2.0,
        clause_pause_s: float = 0.15,
        sentence_pause_s: float = 0.4,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.clause_pause_s = clause_pause_s
        self.sentence_pause_s = sentence_pause_s
        self._sleep = sleep
        self._throttle = _Throttle(min_interval_s, clock, sleep)

    def synthesize(self, text: str, *, voice: Voice) -> Speech:
        """Speak text with gTTS in Vietnamese, one request per gTTS chunk."""
        _require_words(text)
        gtts = _gtts_module()
        slow = voice.rate < GTTS_SLOW_BELOW
        chunks = _chunks_with_separators(gtts, text)
        decoded = [self._decode(self._fetch(gtts, chunk, slow=slow)) for chunk, _ in chunks]
        pauses = [
            _pause_after(
                chunk, separator, clause_s=self.clause_pause_s, sentence_s=self.sentence_pause_s
            )
            for chunk, separator in chunks
        ]
        pcm = _join(decoded, pauses)
        return Speech(pcm=pcm, engine="gtts", voice="gtts:vi", rate=voice.rate, pitch=voice.pitch)

    def _fetch(self, gtts: Any, chunk: str, *, slow: bool) -> bytes:
        """One chunk's MP3, retrying with exponential backoff while the service is busy."""
        status = 0
        for attempt in range(self.attempts):
            if attempt > 0:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            self._throttle.wait()
            try:
                return self._request(gtts, chunk, slow=slow)
            except _Retryable as busy:
                status = busy.status
        if status == 429:
            reason = "từ chối vì có quá nhiều yêu cầu (HTTP 429)"
        else:
            reason = f"đang gặp lỗi (HTTP {status})"
        raise EngineUnavailable(
            f"dịch vụ giọng đọc trực tuyến (gTTS) {reason} sau {self.attempts} lần thử; "
            "hãy thử lại sau."
        )

    def _request(self, gtts: Any, chunk: str, *, slow: bool) -> bytes:
        """Send one HTTP request for a chunk (at most 100 characters) and return its MP3."""
        # No pre-processors: the chunk was already pre-processed when the whole text was cut.
        tts = gtts.gTTS(
            chunk,
            lang="vi",
            slow=slow,
            lang_check=False,
            pre_processor_funcs=[],
            timeout=self.timeout_s,
        )
        try:
            mp3 = b"".join(tts.stream())
        except gtts.gTTSError as error:
            raise self._unavailable_or_retryable(error) from error
        except requests.RequestException as error:  # the body broke off after the status line
            raise EngineUnavailable(OFFLINE_MESSAGE) from error
        if not mp3:
            raise EngineUnavailable("dịch vụ giọng đọc trực tuyến (gTTS) không trả về âm thanh.")
        return mp3

    @staticmethod
    def _unavailable_or_retryable(error: Exception) -> Exception:
        """Map a gTTSError (which carries the HTTP response as .rsp, if any) to our errors."""
        response = getattr(error, "rsp", None)
        if response is None:
            return EngineUnavailable(OFFLINE_MESSAGE)
        status = response.status_code
        if status == 429 or status >= 500:
            return _Retryable(status)
        if status == 200:
            return EngineUnavailable(
                "dịch vụ giọng đọc trực tuyến (gTTS) trả lời nhưng không có âm thanh; "
                "có thể dịch vụ đã thay đổi."
            )
        return EngineUnavailable(
            f"dịch vụ giọng đọc trực tuyến (gTTS) từ chối yêu cầu (HTTP {status}); "
            "có thể dịch vụ đã thay đổi."
        )

    @staticmethod
    def _decode(mp3: bytes) -> bytes:
        """One chunk's MP3 as PCM at PCM_RATE."""
        try:
            return decode_to_pcm(mp3)
        except AudioError as error:
            raise EngineUnavailable(
                f"âm thanh từ dịch vụ giọng đọc trực tuyến (gTTS) bị hỏng ({error})."
            ) from error


# --- auto -----------------------------------------------------------------------------------


class AutoEngine:
    """gTTS when it answers, eSpeak NG otherwise; after a failure, stays offline for a while."""

    name = "auto"

    def __init__(
        self,
        online: SpeechEngine,
        offline: SpeechEngine,
        *,
        retry_online_after_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.online = online
        self.offline = offline
        self.retry_online_after_s = retry_online_after_s
        self._clock = clock
        self._online_again_at = float("-inf")

    def synthesize(self, text: str, *, voice: Voice) -> Speech:
        """Speak with the online engine, falling back to the offline one when it is unavailable."""
        # Without this pause a batch of renders on an offline commune machine would wait for
        # a connection timeout on every item.
        if self._clock() >= self._online_again_at:
            try:
                return self.online.synthesize(text, voice=voice)
            except EngineUnavailable as exc:
                self._online_again_at = self._clock() + self.retry_online_after_s
                log.warning(
                    "online voice unavailable, speaking offline for %.0f s: %s",
                    self.retry_online_after_s,
                    exc,
                )
        return self.offline.synthesize(text, voice=voice)
