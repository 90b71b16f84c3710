"""Vietnamese names of the codes people see: channels, cadences, statuses."""

CHANNEL_NAMES = {
    "provincial_station": "đài tỉnh",
    "district_station": "đài huyện / trung tâm truyền thông",
    "commune_loudspeaker": "loa truyền thanh xã",
    "relay": "tiếp sóng",
    "newspaper": "báo in",
    "web_portal": "cổng, trang thông tin điện tử",
    "meeting": "hội nghị, họp",
    "training": "tập huấn",
    "print": "pa nô, tờ rơi, ấn phẩm",
    "other": "hình thức khác",
}

CADENCE_NAMES = {
    "daily": "hằng ngày",
    "weekly": "hằng tuần",
    "monthly": "hằng tháng",
    "quarterly": "hằng quý",
    "yearly": "hằng năm",
    "continuous": "thường xuyên",
    "once": "một lần",
}

STATUS_NAMES = {
    "draft": "bản nháp",
    "submitted": "chờ duyệt",
    "approved": "đã duyệt",
    "archived": "đã lưu trữ",
}

STAGE_NAMES = {
    "queued": "đang chờ",
    "starting": "bắt đầu",
    "speaking": "đang đọc",
    "normalizing": "chuẩn hóa độ to",
    "storing": "lưu tệp",
    "waiting": "chờ thử lại",
    "done": "xong",
    "failed": "lỗi",
}
