"""Station airtime settings: windows, caps, fallback, voice; all checked before anything changes."""

import pytest

from core.db import session_scope
from core.identity import create_user, issue_access_token
from core.models import Role
from scheduler.models import StationKind
from scheduler.service import create_station

MORNING_EVENING = [
    {"days": [0, 1, 2, 3, 4, 5, 6], "start": "05:30", "end": "06:30"},
    {"days": [0, 1, 2, 3, 4], "start": "17:00", "end": "17:45"},
]


@pytest.fixture
def planner(engine, settings) -> dict[str, str]:
    with session_scope(engine) as session:
        province = create_station(session, code="TINH-P", name="Tỉnh P", kind=StationKind.province)
        create_station(
            session, code="XA-A", name="Xã A", kind=StationKind.commune, parent_code="TINH-P"
        )
        user = create_user(
            session,
            username="kehoach",
            password="mật-khẩu-đủ-dài",
            role=Role.planner,
            station_id=province.id,
        )
        return {"Authorization": f"Bearer {issue_access_token(settings=settings, user=user).token}"}


def test_windows_caps_and_fallback_are_stored_and_shown(client, planner) -> None:
    response = client.patch(
        "/api/v1/stations/XA-A",
        headers=planner,
        json={
            "windows": MORNING_EVENING,
            "max_sessions_per_day": 2,
            "max_minutes_per_session": 60,
            "weekdays_only": False,
            "fallback": {"kind": "relay", "url": "http://vov.example/vov1", "title": "VOV1"},
            "freeze_lead_minutes": 90,
            "voice_name": "vi-vn-x-south",
            "speech_rate": 140,
        },
    )
    assert response.status_code == 200, response.text
    settings = response.json()["settings"]
    assert settings["windows"][0] == {
        "days": [0, 1, 2, 3, 4, 5, 6],
        "start": "05:30",
        "end": "06:30",
    }
    assert (settings["max_sessions_per_day"], settings["freeze_lead_minutes"]) == (2, 90)
    assert settings["voice_name"] == "vi-vn-x-south"
    shown = client.get("/api/v1/stations/XA-A", headers=planner).json()["settings"]
    assert shown == settings


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"windows": [{"days": [0], "start": "25:00", "end": "26:00"}]}, "windows[0].start"),
        ({"windows": [{"days": [0], "start": "06:30", "end": "05:30"}]}, "windows[0].end"),
        ({"windows": [{"days": [7], "start": "05:30", "end": "06:30"}]}, "windows[0].days"),
        (
            {
                "windows": [
                    {"days": [2], "start": "05:30", "end": "06:30"},
                    {"days": [2], "start": "06:00", "end": "07:00"},
                ]
            },
            "windows",
        ),
        ({"windows": MORNING_EVENING, "max_sessions_per_day": 1}, "max_sessions_per_day"),
        ({"windows": MORNING_EVENING, "max_minutes_per_session": 15}, "max_minutes_per_session"),
        ({"fallback": {"kind": "relay", "url": "file:///etc/passwd"}}, "fallback.url"),
        ({"fallback": {"kind": "filler", "sha256": "0" * 64}}, "fallback.kind"),
        ({"windows": None}, "windows"),
        ({"languages": None}, "languages"),
        ({"speech_rate": None}, "speech_rate"),
        ({"windows": [{"days": 5, "start": "05:30", "end": "06:30"}]}, "windows[0].days"),
        ({"windows": [{"days": [[1]], "start": "05:30", "end": "06:30"}]}, "windows[0].days"),
        ({"windows": ["05:30-06:30"]}, "windows"),
        ({"voice_engine": "siri"}, "voice_engine"),
        ({"speech_rate": 20}, "speech_rate"),
        ({"languages": ["vie", "xyz"]}, "languages"),
        ({"mp3_bitrate_kbps": 65}, "mp3_bitrate_kbps"),
    ],
)
def test_bad_settings_are_refused_and_nothing_changes(client, planner, changes, field) -> None:
    before = client.get("/api/v1/stations/XA-A", headers=planner).json()
    response = client.patch(
        "/api/v1/stations/XA-A", headers=planner, json={"name": "Tên mới", **changes}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in str(response.json()["errors"])
    assert client.get("/api/v1/stations/XA-A", headers=planner).json() == before
