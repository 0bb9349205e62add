from __future__ import annotations

from pathlib import Path

from surgery_teach.settings import MAX_RECENT_ROOMS, Settings, config_dir


def test_tests_never_use_the_real_config_folder(tmp_path: Path) -> None:
    assert "pytest" in str(config_dir()) or str(tmp_path.parent) in str(config_dir())


def test_round_trip_and_recent_rooms(tmp_path: Path) -> None:
    settings = Settings(language="zh_CN", name="王医生")
    for i in range(MAX_RECENT_ROOMS + 3):
        settings.remember_room(f"case-{i}")
    settings.remember_room("case-5")
    path = tmp_path / "s.json"
    settings.save(path)
    loaded = Settings.load(path)
    assert loaded == settings
    assert loaded.recent_rooms[0] == "case-5"
    assert len(loaded.recent_rooms) == MAX_RECENT_ROOMS
    assert len(set(loaded.recent_rooms)) == MAX_RECENT_ROOMS


def test_damaged_or_foreign_file_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("{not json", encoding="utf-8")
    assert Settings.load(path) == Settings()
    path.write_text('{"language": 5, "name": "Dr Li", "unknown": 1}', encoding="utf-8")
    assert Settings.load(path) == Settings(name="Dr Li")
    assert Settings.load(tmp_path / "missing.json") == Settings()
