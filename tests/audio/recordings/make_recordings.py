"""Rebuild the recorded gTTS answers: python -m tests.audio.recordings.make_recordings

There is no network where the tests run, so the "recordings" are made here in the exact wire
format of translate.google.com's batchexecute answer (the one gtts/tts.py parses), around MP3
audio encoded like Google's: 24 kHz mono, no Xing/LAME header, silence at both ends.
"""

import base64
import json
import tempfile
from pathlib import Path

from audio.engines import EspeakEngine, Voice
from audio.ffmpeg import PCM_FORMAT, run

HERE = Path(__file__).parent

# The three chunks gTTS cuts tests.audio.test_engines.SPEECH_TEXT into.
SPEECH_CHUNKS = {
    "Kính thưa bà con nhân dân": "speech_1.batchexecute",
    "đài truyền thanh xã xin thông báo lịch tiếp công dân": "speech_2.batchexecute",
    "Bà con nhớ mang theo căn cước công dân khi đến trụ sở.": "speech_3.batchexecute",
}
MP3 = ["-ar", "24000", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "16k", "-id3v2_version", "0"]


def wire_format(mp3: bytes) -> bytes:
    """An HTTP 200 body of the batchexecute RPC jQ1olc carrying mp3."""
    compact = {"separators": (",", ":")}
    audio = json.dumps([base64.b64encode(mp3).decode()], **compact) + "\n"
    frame = json.dumps(["wrb.fr", "jQ1olc", audio, None, None, None, "generic"], **compact)
    frames = [f"[{frame}\n]", '[["di",37]\n,["af.httprm",36,"-668177807451224424",66]\n]']
    frames.append(f'[["e",4,null,null,{sum(len(f) for f in frames)}]\n]')
    return (")]}'\n\n" + "".join(f"{len(f)}\n{f}\n" for f in frames)).encode()


def speech_mp3(text: str) -> bytes:
    """eSpeak reading text, with Google-like silence before (0.25 s) and after (0.3 s)."""
    pcm = EspeakEngine().synthesize(text, voice=Voice(rate=220)).pcm
    pad = "adelay=250,apad=pad_dur=0.3"
    args = ["-v", "error", *PCM_FORMAT, "-i", "pipe:0", "-af", pad, *MP3, "-write_xing", "0"]
    return run([*args, "-f", "mp3", "pipe:1"], data=pcm).stdout


def tone_mp3(*, padded: bool) -> bytes:
    """A 437 Hz half-scale tone: faded and padded like speech, or cut hard at both ends."""
    tone = "aevalsrc=0.5*cos(2*PI*437*t):s=24000:d=0.25"
    if padded:
        tone += ",afade=t=in:d=0.01,afade=t=out:st=0.24:d=0.01,adelay=200,apad=pad_dur=0.2"
        args = ["-v", "error", "-f", "lavfi", "-i", tone, *MP3, "-write_xing", "0"]
        return run([*args, "-f", "mp3", "pipe:1"]).stdout
    # The LAME header tells ffmpeg to drop the encoder delay, so the hard edges stay hard; it is
    # written by seeking back, hence a real file.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tone.mp3"
        run(["-v", "error", "-f", "lavfi", "-i", tone, *MP3, str(path)])
        return path.read_bytes()


def main() -> None:
    """Write every recording next to this file."""
    for text, name in SPEECH_CHUNKS.items():
        (HERE / name).write_bytes(wire_format(speech_mp3(text)))
    (HERE / "tone_padded.batchexecute").write_bytes(wire_format(tone_mp3(padded=True)))
    (HERE / "tone_abrupt.batchexecute").write_bytes(wire_format(tone_mp3(padded=False)))
    manifest = json.dumps(SPEECH_CHUNKS, ensure_ascii=False, indent=2)
    (HERE / "manifest.json").write_text(manifest + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
