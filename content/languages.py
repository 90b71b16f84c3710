"""Languages broadcast in Vietnam, as ISO 639-3 codes with their Vietnamese names."""

from core.errors import InvalidError

LANGUAGES: dict[str, str] = {
    "vie": "Tiếng Việt",
    "blt": "Tiếng Thái Đen",
    "twh": "Tiếng Thái Trắng",
    "hnj": "Tiếng H'Mông (Hmong Njua)",
    "mww": "Tiếng H'Mông (Hmong Daw)",
    "ium": "Tiếng Dao",
    "khm": "Tiếng Khmer",
    "jra": "Tiếng Jrai",
    "bdq": "Tiếng Ba Na",
    "rad": "Tiếng Ê Đê",
    "tyz": "Tiếng Tày",
    "nut": "Tiếng Nùng",
    "sed": "Tiếng Xơ Đăng",
    "cjm": "Tiếng Chăm",
    "mtq": "Tiếng Mường",
    "kpm": "Tiếng Cơ Ho",
    "hre": "Tiếng Hrê",
}


def check_language(code: str, *, field: str = "language") -> str:
    """Return the code if it is a known language, else raise InvalidError."""
    if code not in LANGUAGES:
        raise InvalidError(
            f"Mã ngôn ngữ {code!r} không có trong danh mục (ISO 639-3, ví dụ vie, blt, hnj).",
            errors=[{"field": field, "msg": "mã ngôn ngữ không hợp lệ", "value": code}],
        )
    return code
