"""Rendering readings to audio, the render queue, recordings and programme assembly."""

import hashlib
import json
import logging
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from audio.engines import EngineUnavailable, SpeechEngine, Voice, get_engine
from audio.ffmpeg import (
    AudioError,
    Loudness,
    append_decoded,
    declared_duration,
    inspect_audio,
    measure,
    normalize_to_mp3,
    pcm_to_wav,
)
from audio.models import AssetOrigin, AudioAsset, JobStatus, Programme, Recording, RenderJob
from audio.store import MediaStore, StoreFullError, reporting_full_disk
from content.languages import check_language
from content.models import ContentItem, ContentStatus, ContentVersion
from core.clock import utcnow
from core.db import session_scope
from core.errors import ConflictError, InvalidError, NotFoundError

log = logging.getLogger(__name__)

ASSEMBLY_RATE = 44_100
MIN_RECORDING_SECONDS = 1.0
# The longest session a station airs is an hour (bulletins run 10-15 minutes): a longer
# file fits no broadcast, and would hold its upload request for minutes of decoding.
MAX_RECORDING_SECONDS = 3600
SILENCE_DB = -50.0
STALE_AFTER = timedelta(minutes=10)
RETRY_BASE = timedelta(seconds=30)
EngineFactory = Callable[[str], SpeechEngine]
Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class RenderSettings:
    """Everything that shapes a rendering besides the words."""

    voice: Voice
    loudness_lufs: float = -16.0
    bitrate_kbps: int = 64

    def key(self, reading_sha256: str) -> str:
        """A hash naming this reading spoken this way: equal keys, equal audio."""
        shape = {
            "reading": reading_sha256,
            **asdict(self.voice),
            "lufs": self.loudness_lufs,
            "kbps": self.bitrate_kbps,
        }
        return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def _ignore(_stage: str, _percent: int) -> None:
    pass


@cache
def shared_engine(name: str) -> SpeechEngine:
    """One engine per process, so gTTS request spacing and offline memory carry across jobs."""
    return get_engine(name)


@dataclass(frozen=True)
class NewAudio:
    """A file just put in the store, not yet recorded in the database."""

    sha256: str
    size: int
    loudness: Loudness
    origin: AssetOrigin
    facts: dict[str, object]


def _put_mp3(
    store: MediaStore, temp: Path, *, origin: AssetOrigin, loudness: Loudness, **facts: object
) -> NewAudio:
    sha256, size = store.put(temp, ext="mp3")
    return NewAudio(sha256, size, loudness, origin, facts)


def record_audio(session: Session, *, audio: NewAudio) -> AudioAsset:
    """Record a stored file as an asset (or return the asset those bytes already are)."""
    known = session.get(AudioAsset, audio.sha256)
    if known is not None:
        return known
    asset = AudioAsset(
        sha256=audio.sha256,
        origin=audio.origin,
        format="mp3",
        size=audio.size,
        duration_s=round(audio.loudness.duration_s, 3),
        loudness_lufs=audio.loudness.integrated_lufs,
        true_peak_dbtp=audio.loudness.true_peak_dbtp,
        **audio.facts,
    )
    session.add(asset)
    session.flush()
    return asset


def _store_mp3(
    session: Session, *, store: MediaStore, temp: Path, origin: AssetOrigin, loudness: Loudness
) -> AudioAsset:
    return record_audio(session, audio=_put_mp3(store, temp, origin=origin, loudness=loudness))


def find_rendering(
    session: Session, *, reading: str, settings: RenderSettings
) -> AudioAsset | None:
    """The asset this reading already has with these settings, if its file is still there."""
    key = settings.key(hashlib.sha256(reading.encode()).hexdigest())
    return session.exec(select(AudioAsset).where(AudioAsset.render_key == key)).first()


def speak_to_store(
    *,
    store: MediaStore,
    reading: str,
    settings: RenderSettings,
    engines: EngineFactory | None = None,
    progress: Progress = _ignore,
) -> NewAudio:
    """Speak a reading, normalise its loudness and put the MP3 in the store (no database)."""
    reading_sha256 = hashlib.sha256(reading.encode()).hexdigest()
    progress("speaking", 10)
    speech = (engines or shared_engine)(settings.voice.engine).synthesize(
        reading, voice=settings.voice
    )
    progress("normalizing", 60)
    wav, mp3 = store.temp_path(".wav"), store.temp_path(".mp3")
    try:
        with reporting_full_disk():
            pcm_to_wav(speech.pcm, dest=wav)
            loudness = normalize_to_mp3(
                wav,
                dest=mp3,
                target_lufs=settings.loudness_lufs,
                bitrate_kbps=settings.bitrate_kbps,
            )
        progress("storing", 90)
        return _put_mp3(
            store,
            mp3,
            origin=AssetOrigin.tts,
            loudness=loudness,
            engine=speech.engine,
            voice=speech.voice,
            rate=speech.rate,
            pitch=speech.pitch,
            reading_sha256=reading_sha256,
            render_key=settings.key(reading_sha256),
        )
    finally:
        wav.unlink(missing_ok=True)
        mp3.unlink(missing_ok=True)


def render_reading(
    session: Session,
    *,
    store: MediaStore,
    reading: str,
    settings: RenderSettings,
    engines: EngineFactory | None = None,
) -> AudioAsset:
    """Speak a reading into a stored asset; the same reading with the same voice is spoken once."""
    known = find_rendering(session, reading=reading, settings=settings)
    if known is not None and store.path(known.sha256, known.format).exists():
        return known
    audio = speak_to_store(store=store, reading=reading, settings=settings, engines=engines)
    asset = record_audio(session, audio=audio)
    if asset.render_key is None:
        asset.render_key = audio.facts["render_key"]
        session.add(asset)
        session.flush()
    return asset


# The render queue


def approved_version(session: Session, *, item: ContentItem) -> ContentVersion:
    """The version of an item that may air, or ConflictError if none is approved."""
    if item.approved_version is None or item.status == ContentStatus.archived:
        raise ConflictError(f"Nội dung số {item.id} chưa được duyệt nên chưa thể tạo âm thanh.")
    version = session.exec(
        select(ContentVersion).where(
            ContentVersion.item_id == item.id, ContentVersion.number == item.approved_version
        )
    ).one()
    return version


def enqueue_render(
    session: Session,
    *,
    item: ContentItem,
    station_id: int,
    settings: RenderSettings,
    created_by: str,
) -> RenderJob:
    """Queue the approved version of an item for rendering; asking twice gives the same job."""
    version = approved_version(session, item=item)
    voice = asdict(settings.voice)
    for job in session.exec(
        select(RenderJob).where(
            RenderJob.item_id == item.id,
            RenderJob.version == version.number,
            col(RenderJob.status) != JobStatus.failed,
        )
    ):
        if (job.voice, job.loudness_lufs, job.bitrate_kbps) == (
            voice,
            settings.loudness_lufs,
            settings.bitrate_kbps,
        ):
            return job
    job = RenderJob(
        item_id=item.id,
        version=version.number,
        station_id=station_id,
        voice=voice,
        loudness_lufs=settings.loudness_lufs,
        bitrate_kbps=settings.bitrate_kbps,
        created_by=created_by,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session: Session, *, job_id: int) -> RenderJob:
    """Return a render job, or raise NotFoundError."""
    job = session.get(RenderJob, job_id)
    if job is None:
        raise NotFoundError(f"Không có tác vụ số {job_id}.")
    return job


def recover_stale_jobs(session: Session) -> int:
    """Requeue jobs whose worker stopped answering (a crash or a restart), or fail them."""
    stale = utcnow() - STALE_AFTER
    running = (RenderJob.status == JobStatus.running) & (RenderJob.heartbeat_at < stale)
    # A job that keeps killing its worker must not come back for ever.
    session.execute(
        update(RenderJob)
        .where(running, RenderJob.attempts >= RenderJob.max_attempts)
        .values(
            status=JobStatus.failed,
            stage="failed",
            finished_at=utcnow(),
            error="tiến trình tạo âm thanh dừng giữa chừng quá nhiều lần",
        )
    )
    result = session.execute(
        update(RenderJob)
        .where(running)
        .values(status=JobStatus.queued, stage="queued", worker=None)
    )
    return result.rowcount


def claim_next_job(session: Session, *, worker: str) -> RenderJob | None:
    """Take the oldest due job; of two workers racing for it, exactly one wins."""
    now = utcnow()
    candidates = session.exec(
        select(RenderJob.id)
        .where(RenderJob.status == JobStatus.queued, RenderJob.not_before <= now)
        .order_by(RenderJob.id)
        .limit(5)
    ).all()
    for job_id in candidates:
        won = session.execute(
            update(RenderJob)
            .where(RenderJob.id == job_id, RenderJob.status == JobStatus.queued)
            .values(
                status=JobStatus.running,
                worker=worker,
                stage="starting",
                progress=0,
                attempts=RenderJob.attempts + 1,
                started_at=now,
                heartbeat_at=now,
            )
        ).rowcount
        if won:
            session.commit()
            return session.get(RenderJob, job_id)
    session.commit()
    return None


def _report(engine: Engine, job_id: int, also: Progress) -> Progress:
    def progress(stage: str, percent: int) -> None:
        with session_scope(engine, write=True) as session:
            session.execute(
                update(RenderJob)
                .where(RenderJob.id == job_id)
                .values(stage=stage, progress=percent, heartbeat_at=utcnow())
            )
        also(stage, percent)

    return progress


def run_job(
    engine: Engine,
    *,
    store: MediaStore,
    job: RenderJob,
    engines: EngineFactory | None = None,
    progress: Progress = _ignore,
) -> JobStatus:
    """Render one claimed job; transient failures go back to the queue with a delay.

    No transaction stays open while the voice speaks: on SQLite that would either block
    progress reports or make the final write fail against them.
    """
    settings = RenderSettings(
        voice=Voice(**job.voice), loudness_lufs=job.loudness_lufs, bitrate_kbps=job.bitrate_kbps
    )
    try:
        with session_scope(engine) as session:
            reading = session.exec(
                select(ContentVersion.reading).where(
                    ContentVersion.item_id == job.item_id, ContentVersion.number == job.version
                )
            ).one()
            known = find_rendering(session, reading=reading, settings=settings)
            sha256 = known.sha256 if known and store.path(known.sha256, "mp3").exists() else None
        audio = None
        if sha256 is None:
            audio = speak_to_store(
                store=store,
                reading=reading,
                settings=settings,
                engines=engines,
                progress=_report(engine, job.id, progress),
            )
        with session_scope(engine, write=True) as session:
            if audio is not None:
                sha256 = record_audio(session, audio=audio).sha256
            done = session.get(RenderJob, job.id)
            done.status, done.stage, done.progress = JobStatus.done, "done", 100
            done.asset_sha256, done.error, done.finished_at = sha256, None, utcnow()
        progress("done", 100)
        return JobStatus.done
    except StoreFullError as exc:  # room may be made before the next attempt
        return _retry_or_fail(engine, job, exc.detail, transient=True)
    except (EngineUnavailable, OSError) as exc:
        return _retry_or_fail(engine, job, str(exc), transient=True)
    except (AudioError, InvalidError, ValueError) as exc:
        return _retry_or_fail(engine, job, str(exc), transient=False)
    except Exception as exc:  # one bad job must not stop the queue
        log.exception("render job %s crashed", job.id)
        return _retry_or_fail(engine, job, f"{type(exc).__name__}: {exc}", transient=True)


def _retry_or_fail(engine: Engine, job: RenderJob, error: str, *, transient: bool) -> JobStatus:
    log.warning("render job %s failed (attempt %s): %s", job.id, job.attempts, error)
    with session_scope(engine, write=True) as session:
        failed = session.get(RenderJob, job.id)
        failed.error = error[:1000]
        if transient and failed.attempts < failed.max_attempts:
            failed.status, failed.stage = JobStatus.queued, "waiting"
            failed.not_before = utcnow() + RETRY_BASE * 2 ** (failed.attempts - 1)
        else:
            failed.status, failed.stage, failed.finished_at = JobStatus.failed, "failed", utcnow()
        return failed.status


def process_queue(
    engine: Engine,
    *,
    store: MediaStore,
    worker: str,
    engines: EngineFactory | None = None,
    limit: int | None = None,
    on_job: Callable[[RenderJob], Progress] | None = None,
) -> int:
    """Render due jobs one after another until none is left (or `limit` were run)."""
    with session_scope(engine) as session:
        recover_stale_jobs(session)
    count = 0
    while limit is None or count < limit:
        with Session(engine, expire_on_commit=False) as session:
            job = claim_next_job(session, worker=worker)
        if job is None:
            break
        progress = on_job(job) if on_job else _ignore
        run_job(engine, store=store, job=job, engines=engines, progress=progress)
        count += 1
    return count


def rendered_asset(session: Session, *, item: ContentItem) -> AudioAsset | None:
    """The audio of an item's approved version, if it has been rendered."""
    job = session.exec(
        select(RenderJob)
        .where(
            RenderJob.item_id == item.id,
            RenderJob.version == item.approved_version,
            RenderJob.status == JobStatus.done,
        )
        .order_by(col(RenderJob.id).desc())
    ).first()
    return session.get(AudioAsset, job.asset_sha256) if job else None


# Recordings and jingles


_EXTENSIONS = {
    "mp3": "mp3",
    "pcm_s16le": "wav",
    "pcm_s24le": "wav",
    "vorbis": "ogg",
    "opus": "opus",
    "aac": "m4a",
    "flac": "flac",
    "amr_nb": "amr",
}


def spoken_length(seconds: float) -> str:
    """A length as people say it: 45 giây, 12 phút, 2 giờ 50 phút."""
    if round(seconds) < 60:
        return f"{round(seconds)} giây"
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{minutes} phút"
    return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"


def check_upload(path: Path, *, max_seconds: float = MAX_RECORDING_SECONDS) -> str:
    """Check an upload's declared length, then decode it whole; return the extension to
    keep it under, or InvalidError why not."""
    if path.stat().st_size == 0:
        raise InvalidError("Tệp tải lên rỗng.", errors=[{"field": "file", "msg": "rỗng"}])
    # First what the header says, in milliseconds: compressed audio (FLAC) fits hours
    # under the size cap, which took minutes to decode and normalise before a refusal.
    declared = declared_duration(path)
    if declared is not None and declared > max_seconds:
        reason = (
            f"tệp khai báo dài {spoken_length(declared)}, quá giới hạn {spoken_length(max_seconds)}"
        )
        raise InvalidError(
            f"Không nhận tệp: {reason}; hãy cắt ngắn hoặc chia thành nhiều phần.",
            errors=[{"field": "file", "msg": reason}],
        )
    try:
        info = inspect_audio(path, limit_s=max_seconds + 1)
    except AudioError:
        raise InvalidError(
            "Tệp tải lên không phải âm thanh đọc được (MP3, WAV, OGG, M4A, FLAC…).",
            errors=[{"field": "file", "msg": "không phải âm thanh"}],
        ) from None
    claimed = info.header_duration_s
    cut_off = claimed is not None and info.duration_s < claimed - max(0.5, 0.02 * claimed)
    problems = [
        # First: decoding stopped at the limit, so the file is shorter than its header says.
        (info.duration_s > max_seconds, f"bản ghi dài quá giới hạn {spoken_length(max_seconds)}"),
        (
            bool(info.errors) or cut_off or _short_wav(path),
            "tệp bị cắt cụt hoặc hỏng, không giải mã trọn vẹn được",
        ),
        (info.duration_s < MIN_RECORDING_SECONDS, "bản ghi quá ngắn (dưới 1 giây)"),
        (info.max_volume_db < SILENCE_DB, "bản ghi im lặng, không nghe thấy tiếng"),
    ]
    for failed, reason in problems:
        if failed:
            raise InvalidError(
                f"Không nhận tệp: {reason}.", errors=[{"field": "file", "msg": reason}]
            )
    return _EXTENSIONS.get(info.codec, "bin")


def _short_wav(path: Path) -> bool:
    # ffmpeg trusts a WAV file's length over its header; the header knows what was sent.
    with path.open("rb") as handle:
        head = handle.read(12)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return False
    return int.from_bytes(head[4:8], "little") + 8 > path.stat().st_size


def store_upload(
    session: Session,
    *,
    store: MediaStore,
    upload: Path,
    origin: AssetOrigin,
    settings: RenderSettings,
    max_seconds: float = MAX_RECORDING_SECONDS,
) -> tuple[AudioAsset, AudioAsset]:
    """Validate an upload, keep the original and a loudness-normalised broadcast copy."""
    ext = check_upload(upload, max_seconds=max_seconds)
    broadcast = store.temp_path(".mp3")
    try:
        with reporting_full_disk():
            loudness = normalize_to_mp3(
                upload,
                dest=broadcast,
                target_lufs=settings.loudness_lufs,
                bitrate_kbps=settings.bitrate_kbps,
            )
        original_info = measure(upload)
        copy = _store_mp3(session, store=store, temp=broadcast, origin=origin, loudness=loudness)
    finally:
        broadcast.unlink(missing_ok=True)
    sha256, size = store.put(upload, ext=ext)
    original = session.get(AudioAsset, sha256) or AudioAsset(
        sha256=sha256,
        origin=AssetOrigin.original,
        format=ext,
        size=size,
        duration_s=round(original_info.duration_s, 3),
        loudness_lufs=original_info.integrated_lufs,
        true_peak_dbtp=original_info.true_peak_dbtp,
    )
    session.add(original)
    session.flush()
    return original, copy


def add_recording(
    session: Session,
    *,
    store: MediaStore,
    item: ContentItem,
    language: str,
    speaker: str,
    upload: Path,
    filename: str,
    station_id: int,
    uploaded_by: str,
    settings: RenderSettings,
) -> Recording:
    """Accept an ethnic-language recording of a Vietnamese item after decoding it whole."""
    check_language(language)
    errors = []
    if language == "vie":
        errors.append({"field": "language", "msg": "bản ghi tiếng dân tộc, không phải tiếng Việt"})
    if item.language != "vie":
        errors.append({"field": "item", "msg": "phải là nội dung tiếng Việt được dịch"})
    if not speaker.strip():
        errors.append({"field": "speaker", "msg": "thiếu tên người đọc"})
    if errors:
        raise InvalidError("Thông tin bản ghi không hợp lệ.", errors=errors)
    original, copy = store_upload(
        session, store=store, upload=upload, origin=AssetOrigin.recording, settings=settings
    )
    recording = Recording(
        item_id=item.id,
        language=language,
        speaker=speaker.strip(),
        station_id=station_id,
        original_sha256=original.sha256,
        broadcast_sha256=copy.sha256,
        filename=Path(filename).name[:255] or "recording",
        uploaded_by=uploaded_by,
    )
    session.add(recording)
    session.flush()
    return recording


# Programmes


def _part_path(session: Session, *, store: MediaStore, part: dict, title_asset: AudioAsset) -> Path:
    kind = part.get("kind")
    if kind == "title":
        asset = title_asset
    elif kind in ("jingle", "announcement"):  # an announcement: a recording kept as is
        asset = session.get(AudioAsset, part.get("sha256", ""))
    elif kind == "recording":
        recording = session.get(Recording, part.get("recording_id", 0))
        asset = session.get(AudioAsset, recording.broadcast_sha256) if recording else None
    elif kind == "item":
        item = session.get(ContentItem, part.get("item_id", 0))
        if item is None:
            raise InvalidError(f"Không có nội dung số {part.get('item_id')}.")
        asset = rendered_asset(session, item=item)
        if asset is None:
            raise ConflictError(f"Nội dung số {item.id} chưa có âm thanh của bản đã duyệt.")
    else:
        raise InvalidError(f"Phần chương trình không hợp lệ: {kind!r}.")
    if asset is None:
        raise InvalidError(f"Không tìm thấy âm thanh cho phần {part}.")
    return store.path(asset.sha256, asset.format)


def assemble_programme(
    session: Session,
    *,
    store: MediaStore,
    programme: Programme,
    settings: RenderSettings,
    engines: EngineFactory | None = None,
) -> AudioAsset:
    """Join jingles, the announced title and items with gaps, normalise, and store the MP3."""
    title = render_reading(
        session, store=store, reading=f"{programme.title}.", settings=settings, engines=engines
    )
    paths = [_part_path(session, store=store, part=p, title_asset=title) for p in programme.parts]
    if not paths:
        raise InvalidError("Chương trình chưa có phần nào.", errors=[{"field": "parts"}])
    joined, output = store.temp_path(".wav"), store.temp_path(".mp3")
    gap = b"\0\0" * (ASSEMBLY_RATE * programme.gap_ms // 1000)
    try:
        # One part after another straight into one WAV file: memory stays flat however
        # long the programme is, and every part is decoded the same way.
        with reporting_full_disk(), wave.open(str(joined), "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(ASSEMBLY_RATE)
            for index, path in enumerate(paths):
                if index:
                    writer.writeframesraw(gap)
                append_decoded(path, writer=writer, sample_rate=ASSEMBLY_RATE)
        # The parts are normalised already: the whole needs gain and limiting, not more
        # compression.
        with reporting_full_disk():
            loudness = normalize_to_mp3(
                joined,
                dest=output,
                target_lufs=settings.loudness_lufs,
                bitrate_kbps=settings.bitrate_kbps,
                compress=False,
            )
        asset = _store_mp3(
            session, store=store, temp=output, origin=AssetOrigin.programme, loudness=loudness
        )
    finally:
        joined.unlink(missing_ok=True)
        output.unlink(missing_ok=True)
    programme.asset_sha256 = asset.sha256
    programme.assembled_at = utcnow()
    programme.warnings = _length_warnings(asset.duration_s, programme)
    session.add(programme)
    session.flush()
    return asset


def _length_warnings(seconds: float, programme: Programme) -> list[str]:
    low, high = programme.target_min_seconds, programme.target_max_seconds
    if low and seconds < low:
        return [f"Chương trình dài {seconds / 60:.1f} phút, ngắn hơn mục tiêu {low / 60:g} phút."]
    if high and seconds > high:
        return [f"Chương trình dài {seconds / 60:.1f} phút, dài hơn mục tiêu {high / 60:g} phút."]
    return []
