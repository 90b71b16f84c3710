"""Speech engines: eSpeak NG for real, gTTS against recorded answers, auto falling back offline."""

import base64
import io
import itertools
import json
import math
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from array import array
from http import HTTPStatus
from pathlib import Path

import pytest
import requests

from audio import engines
from audio.engines import (
    ESPEAK_VOICES,
    OFFLINE_MESSAGE,
    AutoEngine,
    EngineUnavailable,
    EspeakEngine,
    GttsEngine,
    Speech,
    Voice,
    get_engine,
)
from audio.ffmpeg import PCM_RATE, decode_to_pcm, inspect_audio, measure, pcm_to_wav

RECORDINGS = Path(__file__).parent / "recordings"
MANIFEST = json.loads((RECORDINGS / "manifest.json").read_text(encoding="utf-8"))
GTTS_URL = "https://translate.google.com/_/TranslateWebserverUi/data/batchexecute"

# 20 syllables (Vietnamese words are one syllable each).
SENTENCE = "Ủy ban nhân dân xã thông báo lịch tiêm chủng trẻ em tại trạm y tế xã sáng thứ Hai."
# gTTS cuts this into the three chunks recorded in recordings/manifest.json.
SPEECH_TEXT = (
    "Kính thưa bà con nhân dân, đài truyền thanh xã xin thông báo lịch tiếp công dân. "
    "Bà con nhớ mang theo căn cước công dân khi đến trụ sở."
)
PARAGRAPHS = [
    "Thực hiện kế hoạch cải cách hành chính năm nay, Ủy ban nhân dân xã tiếp tục đẩy mạnh "
    "tuyên truyền đến từng thôn, bản. Bà con có thể nộp hồ sơ tại bộ phận một cửa hoặc "
    "qua cổng dịch vụ công trực tuyến.",
    "Bộ phận tiếp nhận và trả kết quả làm việc từ thứ Hai đến thứ Sáu, buổi sáng từ bảy giờ "
    "ba mươi phút, buổi chiều từ mười ba giờ ba mươi phút. Khi đến làm thủ tục, bà con nhớ "
    "mang theo căn cước công dân.",
    "Mọi ý kiến phản ánh về thái độ phục vụ của cán bộ, công chức xin gửi về hòm thư góp ý "
    "đặt tại trụ sở hoặc gọi đến số điện thoại đường dây nóng của xã. Xin trân trọng cảm ơn!",
]
LONG_TEXT = "\n\n".join(PARAGRAPHS * 6)

QUIET = 328  # about -40 dBFS, the engines' own idea of silence
WINDOW = PCM_RATE // 200  # 5 ms


# --- measuring PCM ----------------------------------------------------------------------------


def samples(pcm: bytes) -> array:
    return array("h", pcm)


def duration_s(pcm: bytes) -> float:
    return len(pcm) / 2 / PCM_RATE


def rms(pcm: bytes) -> float:
    values = samples(pcm)
    return math.sqrt(sum(v * v for v in values) / len(values))


def peak(pcm: bytes) -> int:
    return max(map(abs, samples(pcm)))


def zero_crossing_rate(pcm: bytes) -> float:
    values = samples(pcm)
    crossings = sum(1 for a, b in itertools.pairwise(values) if (a < 0) != (b < 0))
    return crossings / duration_s(pcm)


def quiet_runs_s(pcm: bytes) -> list[float]:
    """Lengths of the near-silent stretches between the first and the last sound, longest first."""
    values = samples(pcm)
    loud = [
        max(map(abs, values[start : start + WINDOW])) > QUIET
        for start in range(0, len(values), WINDOW)
    ]
    first, last = loud.index(True), len(loud) - loud[::-1].index(True)
    runs, current = [], 0
    for is_loud in loud[first:last]:
        if is_loud:
            if current:
                runs.append(current * WINDOW / PCM_RATE)
            current = 0
        else:
            current += 1
    return sorted(runs, reverse=True) or [0.0]


def max_step(pcm: bytes) -> int:
    """The largest jump between two consecutive samples: a click shows up as a big one."""
    values = samples(pcm)
    return max(abs(b - a) for a, b in itertools.pairwise(values))


def recorded_mp3(name: str) -> bytes:
    """The MP3 inside a recorded batchexecute answer."""
    body = (RECORDINGS / name).read_text()
    return base64.b64decode(re.search(r'jQ1olc","\[\\"(.*?)\\"]', body)[1])


# --- the HTTP layer, replaced -----------------------------------------------------------------


class FakeClock:
    """A clock that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeGoogle:
    """Stands in for translate.google.com at the requests.Session.send level.

    Queued answers are used first: a status code (empty body), a recording's file name, a raw
    200 body, or an exception to raise. With none queued, each request gets the recording of
    the chunk it asks for.
    """

    def __init__(self) -> None:
        self.answers: list[int | str | bytes | Exception] = []
        self.sent: list[tuple[requests.PreparedRequest, dict]] = []
        self.sent_at: list[float] = []
        self.clock: FakeClock | None = None

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        self.sent.append((request, kwargs))
        self.sent_at.append(self.clock() if self.clock else time.monotonic())
        answer = self.answers.pop(0) if self.answers else MANIFEST[spoken(request)[0]]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return response(request, answer, b"")
        if isinstance(answer, bytes):
            return response(request, 200, answer)
        return response(request, 200, (RECORDINGS / answer).read_bytes())


def spoken(request: requests.PreparedRequest) -> list:
    """What a gTTS request asks for: [text, lang, speed, "null"]."""
    form = urllib.parse.parse_qs(request.body)
    rpc = json.loads(form["f.req"][0])
    assert rpc[0][0][0] == "jQ1olc"
    return json.loads(rpc[0][0][1])


def response(request: requests.PreparedRequest, status: int, body: bytes) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer.reason = HTTPStatus(status).phrase
    answer.raw = io.BytesIO(body)
    answer.url = request.url
    answer.request = request
    return answer


@pytest.fixture(autouse=True)
def no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a test (other than a net one) tries to open a connection."""
    if request.node.get_closest_marker("net"):
        return

    def refuse(*args: object) -> None:
        raise AssertionError("tests must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> FakeGoogle:
    fake = FakeGoogle()
    monkeypatch.setattr(
        requests.Session, "send", lambda session, request, **kw: fake.send(request, **kw)
    )
    return fake


@pytest.fixture
def clock(google: FakeGoogle) -> FakeClock:
    google.clock = FakeClock()
    return google.clock


def gtts_engine(clock: FakeClock, **options: object) -> GttsEngine:
    return GttsEngine(clock=clock, sleep=clock.sleep, **options)


# --- the interface ----------------------------------------------------------------------------


def test_get_engine_builds_each_engine_and_refuses_unknown_names() -> None:
    assert isinstance(get_engine("espeak"), EspeakEngine)
    assert isinstance(get_engine("gtts", timeout_s=3), GttsEngine)
    auto = get_engine("auto", min_interval_s=0.5, retry_online_after_s=60)
    assert isinstance(auto, AutoEngine)
    assert auto.retry_online_after_s == 60
    with pytest.raises(ValueError):
        get_engine("festival")


def test_voice_refuses_values_outside_the_engine_ranges() -> None:
    for bad in ({"engine": "festival"}, {"rate": 79}, {"rate": 451}, {"pitch": 101}):
        with pytest.raises(ValueError):
            Voice(**bad)


def test_text_without_words_is_refused() -> None:
    with pytest.raises(ValueError):
        EspeakEngine().synthesize(" … \n", voice=Voice())


# --- eSpeak NG, for real ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ESPEAK_VOICES)
def test_espeak_voice_reads_a_sentence_audibly(name: str) -> None:
    speech = EspeakEngine().synthesize(SENTENCE, voice=Voice(name=name))

    assert (speech.engine, speech.voice, speech.rate, speech.pitch) == ("espeak", name, 150, 50)
    # 20 syllables at a nominal 150 words per minute would be 8 s; eSpeak reads Vietnamese
    # faster than nominal (measured 5.0-5.3 s). Under 2 s would mean words were lost, over 10 s
    # that something was repeated or the sample rate is wrong.
    assert 2.0 < speech.duration_s < 10.0
    assert rms(speech.pcm) > 1000  # measured about 2,600-2,900 (-21 dBFS)
    assert 8000 < peak(speech.pcm) < 32767  # loud, but with headroom: never clipped


def test_espeak_speech_is_mono_pcm_at_the_pipeline_rate(tmp_path: Path) -> None:
    speech = EspeakEngine().synthesize(SENTENCE, voice=Voice())
    wav = tmp_path / "speech.wav"
    pcm_to_wav(speech.pcm, dest=wav)

    info = inspect_audio(wav)
    assert (info.sample_rate, info.channels) == (PCM_RATE, 1)
    assert info.duration_s == pytest.approx(speech.duration_s, abs=0.01)
    assert measure(wav).integrated_lufs > -30  # measured about -21 LUFS


def test_espeak_is_resampled_without_changing_pitch_or_length() -> None:
    native = 22050
    tone = array(
        "h", (round(8000 * math.sin(2 * math.pi * 500 * i / native)) for i in range(native))
    )

    resampled = engines._resample(tone.tobytes(), native)

    assert duration_s(resampled) == pytest.approx(1.0, abs=0.002)
    assert zero_crossing_rate(resampled) == pytest.approx(1000, rel=0.01)


def test_faster_rate_gives_shorter_speech() -> None:
    engine = EspeakEngine()
    slow = engine.synthesize(SENTENCE, voice=Voice(rate=120))
    fast = engine.synthesize(SENTENCE, voice=Voice(rate=250))

    assert fast.duration_s < 0.7 * slow.duration_s  # measured 0.45


def voice_features(speech: Speech) -> tuple[float, float, float]:
    return speech.duration_s, zero_crossing_rate(speech.pcm), rms(speech.pcm)


def differs(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """The summed relative differences between two feature tuples."""
    # Summed, not the largest: the voices differ a little in every feature at once
    # (measured 0.11-0.21), while one voice twice stays under 0.02.
    return sum(abs(x - y) / max(x, y) for x, y in zip(a, b, strict=True))


def test_the_three_voices_sound_different() -> None:
    engine = EspeakEngine()
    features = {
        name: voice_features(engine.synthesize(SENTENCE, voice=Voice(name=name)))
        for name in ESPEAK_VOICES
    }
    again = voice_features(engine.synthesize(SENTENCE, voice=Voice(name="vi")))

    # eSpeak adds a little randomness, so the same voice twice is close but not identical.
    assert differs(features["vi"], again) < 0.04
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        assert differs(features[ESPEAK_VOICES[a]], features[ESPEAK_VOICES[b]]) > 0.07


def test_espeak_reads_a_long_multi_paragraph_script() -> None:
    assert len(LONG_TEXT) > 3000
    started = time.monotonic()
    speech = EspeakEngine().synthesize(LONG_TEXT, voice=Voice(name="vi-vn-x-south"))
    elapsed = time.monotonic() - started

    assert 120 < speech.duration_s < 600  # measured about 240 s
    assert elapsed < 10
    assert rms(speech.pcm) > 1000
    # Paragraphs are separated by the paragraph pause, sentences by the shorter one.
    assert quiet_runs_s(speech.pcm)[0] == pytest.approx(0.7, abs=0.1)


def test_two_threads_speaking_at_once_get_their_own_audio() -> None:
    engine = EspeakEngine()
    jobs = {
        "short": (SENTENCE, Voice(name="vi", rate=200)),
        "long": ("\n".join(PARAGRAPHS), Voice(name="vi-vn-x-central", rate=120)),
    }
    alone = {key: engine.synthesize(text, voice=v).duration_s for key, (text, v) in jobs.items()}
    together: dict[str, list[float]] = {key: [] for key in jobs}

    def speak(key: str) -> None:
        text, voice = jobs[key]
        for _ in range(3):
            together[key].append(engine.synthesize(text, voice=voice).duration_s)

    threads = [threading.Thread(target=speak, args=(key,)) for key in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for key in jobs:
        assert len(together[key]) == 3
        assert together[key] == pytest.approx([alone[key]] * 3, rel=0.02)


FAKE_ESPEAK = """#!{python}
import json, math, struct, sys, wave
with open({log!r}, "w") as log:
    json.dump({{"args": sys.argv[1:], "stdin": sys.stdin.buffer.read().decode()}}, log)
frames = b"".join(
    struct.pack("<h", round(9000 * math.sin(2 * math.pi * 300 * i / 22050))) for i in range(22050)
)
with wave.open(sys.stdout.buffer, "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(22050)
    out.writeframes(frames)
"""


def test_espeak_uses_the_espeak_ng_program_when_the_library_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "call.json"
    program = tmp_path / "espeak-ng"
    program.write_text(FAKE_ESPEAK.format(python=sys.executable, log=str(log)))
    program.chmod(0o755)
    monkeypatch.setattr(engines, "_espeak_library", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))

    speech = EspeakEngine().synthesize(SENTENCE, voice=Voice(name="vi-vn-x-south", rate=180))

    call = json.loads(log.read_text())
    assert call["stdin"] == SENTENCE
    assert call["args"][:6] == ["-v", "vi-vn-x-south", "-s", "180", "-p", "50"]
    assert "--stdout" in call["args"]
    assert (speech.engine, speech.voice) == ("espeak", "vi-vn-x-south")
    assert speech.duration_s == pytest.approx(1.0, abs=0.01)


def test_espeak_without_library_or_program_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engines, "_espeak_library", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(EngineUnavailable, match="eSpeak NG"):
        EspeakEngine().synthesize(SENTENCE, voice=Voice())


def test_espeak_refuses_an_unknown_voice() -> None:
    with pytest.raises(ValueError, match="không có giọng"):
        EspeakEngine().synthesize(SENTENCE, voice=Voice(name="vi-vn-x-nowhere"))


# --- gTTS, against recorded answers -----------------------------------------------------------


def test_gtts_sends_one_request_per_chunk(google: FakeGoogle, clock: FakeClock) -> None:
    speech = gtts_engine(clock).synthesize(SPEECH_TEXT, voice=Voice(engine="gtts"))

    assert (speech.engine, speech.voice) == ("gtts", "gtts:vi")
    assert [spoken(request) for request, _ in google.sent] == [
        [chunk, "vi", None, "null"] for chunk in MANIFEST
    ]
    for request, options in google.sent:
        assert (request.method, request.url) == ("POST", GTTS_URL)
        assert options["timeout"] == 10.0


def test_gtts_slow_rate_and_timeout_reach_the_request(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = ["speech_1.batchexecute"]
    engine = gtts_engine(clock, timeout_s=2.5)

    engine.synthesize("Kính thưa bà con nhân dân", voice=Voice(engine="gtts", rate=100))

    request, options = google.sent[0]
    assert spoken(request) == ["Kính thưa bà con nhân dân", "vi", True, "null"]
    assert options["timeout"] == 2.5


def test_gtts_chunks_are_joined_without_gaps(google: FakeGoogle, clock: FakeClock) -> None:
    engine = gtts_engine(clock, clause_pause_s=0, sentence_pause_s=0)
    speech = engine.synthesize(SPEECH_TEXT, voice=Voice(engine="gtts"))

    chunks = [decode_to_pcm(recorded_mp3(name)) for name in MANIFEST.values()]
    longest_inside_a_chunk = max(quiet_runs_s(pcm)[0] for pcm in chunks)
    # Each recording carries about 0.6 s of padding; only the outer ends keep theirs.
    padding = sum(duration_s(pcm) for pcm in chunks) - speech.duration_s
    assert padding > 2 * 0.45
    assert quiet_runs_s(speech.pcm)[0] <= max(0.06, longest_inside_a_chunk)


def test_gtts_pauses_follow_the_punctuation_gtts_dropped(
    google: FakeGoogle, clock: FakeClock
) -> None:
    engine = gtts_engine(clock, clause_pause_s=0.15, sentence_pause_s=0.4)
    speech = engine.synthesize(SPEECH_TEXT, voice=Voice(engine="gtts"))

    # After the comma and after the full stop; each also keeps 2 × 20 ms of margin.
    sentence, clause = quiet_runs_s(speech.pcm)[:2]
    assert sentence == pytest.approx(0.4 + 0.04, abs=0.02)
    assert clause == pytest.approx(0.15 + 0.04, abs=0.02)


def tone_speech(google: FakeGoogle, clock: FakeClock, recording: str) -> tuple[bytes, bytes, bytes]:
    """Three chunks answered with one tone recording: (joined, plain concatenation, one chunk)."""
    google.answers = [recording] * 3
    text = "một hai ba bốn năm sáu bảy tám chín mười " * 6  # no punctuation: cut at spaces
    engine = gtts_engine(clock, clause_pause_s=0, sentence_pause_s=0)
    joined = engine.synthesize(text.strip(), voice=Voice(engine="gtts")).pcm
    assert len(google.sent) == 3
    chunk = decode_to_pcm(recorded_mp3(recording))
    return joined, chunk * 3, chunk


def test_gtts_joints_have_no_gap_and_no_click(google: FakeGoogle, clock: FakeClock) -> None:
    joined, plain, chunk = tone_speech(google, clock, "tone_padded.batchexecute")

    assert quiet_runs_s(plain)[0] > 0.3  # the padding the recordings carry
    assert quiet_runs_s(joined)[0] < 0.06
    # A click is a jump larger than any the tone itself makes (about 1,800 per sample).
    assert max_step(joined) <= 1.05 * max_step(chunk)


def test_gtts_crossfade_smooths_chunks_cut_mid_wave(google: FakeGoogle, clock: FakeClock) -> None:
    joined, plain, chunk = tone_speech(google, clock, "tone_abrupt.batchexecute")

    assert max_step(plain) > 3 * max_step(chunk)  # the clicks a plain concatenation makes
    assert quiet_runs_s(joined)[0] < 0.06
    assert max_step(joined) <= 1.05 * max_step(chunk)


def test_gtts_retries_after_429(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = [429, "speech_1.batchexecute"]

    speech = gtts_engine(clock, backoff_s=0.5).synthesize(
        "Kính thưa bà con nhân dân", voice=Voice(engine="gtts")
    )

    assert speech.engine == "gtts"
    assert len(google.sent) == 2
    assert 0.5 in clock.sleeps


def test_gtts_gives_up_after_repeated_429(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = [429] * 10

    with pytest.raises(EngineUnavailable, match="429"):
        gtts_engine(clock, attempts=3, backoff_s=0.5, min_interval_s=0).synthesize(
            SENTENCE, voice=Voice(engine="gtts")
        )

    assert len(google.sent) == 3
    assert clock.sleeps == [0.5, 1.0]  # exponential backoff


@pytest.mark.parametrize("status", [500, 502, 503])
def test_gtts_retries_server_errors(google: FakeGoogle, clock: FakeClock, status: int) -> None:
    google.answers = [status, status, "speech_1.batchexecute"]

    speech = gtts_engine(clock).synthesize("Kính thưa bà con nhân dân", voice=Voice())

    assert speech.engine == "gtts"
    assert len(google.sent) == 3


def test_gtts_does_not_retry_a_refusal(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = [403]

    with pytest.raises(EngineUnavailable, match="403"):
        gtts_engine(clock).synthesize(SENTENCE, voice=Voice())
    assert len(google.sent) == 1


def test_gtts_answer_without_audio_is_unavailable(google: FakeGoogle, clock: FakeClock) -> None:
    # What the service answers when it refuses the RPC itself.
    google.answers = [b')]}\'\n\n58\n[["wrb.fr","jQ1olc",null,null,null,[3],"generic"]]\n']

    with pytest.raises(EngineUnavailable, match="không có âm thanh"):
        gtts_engine(clock).synthesize(SENTENCE, voice=Voice())


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("Name or service not known"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ReadTimeout("read timed out"),
    ],
)
def test_gtts_offline_is_unavailable_at_once(
    google: FakeGoogle, clock: FakeClock, failure: Exception
) -> None:
    google.answers = [failure]

    with pytest.raises(EngineUnavailable) as raised:
        gtts_engine(clock).synthesize(SENTENCE, voice=Voice())

    assert str(raised.value) == OFFLINE_MESSAGE
    assert len(google.sent) == 1
    assert clock.sleeps == []


def test_gtts_spaces_its_requests(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = [
        "speech_1.batchexecute",
        429,
        "speech_2.batchexecute",
        "speech_3.batchexecute",
    ]

    gtts_engine(clock, min_interval_s=1.0, backoff_s=0.25).synthesize(SPEECH_TEXT, voice=Voice())

    gaps = [b - a for a, b in zip(google.sent_at, google.sent_at[1:], strict=False)]
    assert len(gaps) == 3
    assert min(gaps) >= 1.0
    assert google.sent_at[-1] == pytest.approx(3.0)  # backoff overlapped the throttle wait


@pytest.mark.net
@pytest.mark.skipif(
    os.environ.get("TRUYENTHANH_NET_TESTS") != "1", reason="set TRUYENTHANH_NET_TESTS=1"
)
def test_gtts_really_speaks_vietnamese() -> None:
    speech = GttsEngine().synthesize(SPEECH_TEXT, voice=Voice(engine="gtts"))

    assert speech.engine == "gtts"
    assert 3 < speech.duration_s < 20
    assert rms(speech.pcm) > 500


# --- auto -------------------------------------------------------------------------------------


def test_auto_falls_back_to_espeak_when_offline(google: FakeGoogle, clock: FakeClock) -> None:
    google.answers = [requests.exceptions.ConnectionError("offline")] * 2
    auto = AutoEngine(gtts_engine(clock), EspeakEngine(), retry_online_after_s=300, clock=clock)
    voice = Voice(engine="auto", name="vi-vn-x-south")

    first = auto.synthesize(SENTENCE, voice=voice)
    second = auto.synthesize(SENTENCE, voice=voice)

    assert (first.engine, first.voice) == ("espeak", "vi-vn-x-south")
    assert second.engine == "espeak"
    assert len(google.sent) == 1  # the second one did not wait for the network again
    clock.now += 301
    assert auto.synthesize(SENTENCE, voice=voice).engine == "espeak"
    assert len(google.sent) == 2


def test_auto_uses_gtts_when_it_answers(google: FakeGoogle, clock: FakeClock) -> None:
    auto = AutoEngine(gtts_engine(clock), EspeakEngine(), clock=clock)

    speech = auto.synthesize(SPEECH_TEXT, voice=Voice(engine="auto"))

    assert (speech.engine, speech.voice) == ("gtts", "gtts:vi")
    assert len(google.sent) == 3
