"""Counts are said with the plural form that goes with the number: 1 зритель, 2 зрителя,
5 зрителей, 21 зритель, 11 зрителей; one form in Chinese; one/other in English."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from surgery_teach.rtc.adaptation import ViewerState
from ui.i18n import plural_form, set_language, tr_n
from ui.lobby_checks import FormProblem, display_name
from ui.session.viewers import ViewersPanel


@pytest.fixture
def russian() -> Iterator[None]:
    set_language("ru")
    try:
        yield
    finally:
        set_language("en")


@pytest.mark.parametrize(("n", "form"), [
    (0, "many"), (1, "one"), (2, "few"), (4, "few"), (5, "many"), (11, "many"), (12, "many"),
    (14, "many"), (20, "many"), (21, "one"), (22, "few"), (25, "many"), (101, "one"),
    (111, "many"), (112, "many"), (122, "few"), (1001, "one")])
def test_the_russian_plural_rules(n: int, form: str) -> None:
    assert plural_form("ru", n) == form


def test_english_and_chinese_forms() -> None:
    assert [plural_form("en", n) for n in (0, 1, 2, 21)] == ["other", "one", "other", "other"]
    assert {plural_form("zh_CN", n) for n in (0, 1, 2, 5, 21)} == {"other"}


def viewers(count: int) -> list[ViewerState]:
    """``count`` viewers, each watching two sources (two lines, one viewer)."""
    return [ViewerState(f"p-{i}", f"Viewer {i}", source, "720p", "best quality", 0.0, 12.0, 0)
            for i in range(count) for source in ("Laparoscope", "Room")]


def test_the_surgeon_reads_how_many_watch_in_the_right_form(qtbot, russian) -> None:  # type: ignore[no-untyped-def]
    panel = ViewersPanel()
    qtbot.addWidget(panel)
    said = {}
    for n in (1, 2, 5, 11, 21, 23):
        panel.show_viewers(viewers(n), False)
        said[n] = panel.title.text()
    assert said == {1: "1 зритель смотрит ваше видео", 2: "2 зрителя смотрят ваше видео",
                    5: "5 зрителей смотрят ваше видео", 11: "11 зрителей смотрят ваше видео",
                    21: "21 зритель смотрит ваше видео", 23: "23 зрителя смотрят ваше видео"}
    set_language("zh_CN")
    panel.show_viewers(viewers(2), False)
    assert panel.title.text() == "2 位观看者正在观看您的视频"
    set_language("en")
    panel.show_viewers(viewers(1), False)
    assert panel.title.text() == "1 viewer watches your video"
    panel.show_viewers(viewers(3), False)
    assert panel.title.text() == "3 viewers watch your video"


def test_a_name_too_long_counts_its_characters_in_russian(russian: None) -> None:
    for length, word in ((71, "символ,"), (72, "символа,"), (75, "символов,")):
        with pytest.raises(FormProblem) as problem:
            display_name("Д" * length)
        assert f"длиной {length} {word}" in str(problem.value)


def test_pending_marks_one_and_many_in_english_and_russian(russian: None) -> None:
    one, other = ("One of your marks waits for the server (shown faint)",
                  "{n} of your marks wait for the server (shown faint)")
    assert tr_n(one, other, 3) == "3 ваши пометки ждут сервера (показаны бледно)"
    assert tr_n(one, other, 7) == "7 ваших пометок ждут сервера (показаны бледно)"
    set_language("en")
    assert tr_n(one, other, 1) == one and tr_n(one, other, 2).startswith("2 of your marks")


def test_a_count_without_a_translation_falls_back_to_english(russian: None) -> None:
    assert tr_n("{n} widget", "{n} widgets", 1) == "1 widget"
    assert tr_n("{n} widget", "{n} widgets", 5) == "5 widgets"


def test_a_token_that_runs_out_soon_says_its_minutes_in_the_right_form(
        qtbot, russian: None) -> None:  # type: ignore[no-untyped-def]
    from surgery_teach.protocol.messages import Role
    from tests.ui.session.test_room_access import lobby, token

    widget = lobby(qtbot, name="someone", room="demo", role="trainee")
    widget.token.setText(token("chole-0425", "Osh", Role.TRAINEE, ttl=21 * 60 - 30))
    assert "действует ещё 21 минуту, до" in widget.token_status.text()
    widget.token.setText(token("chole-0425", "Osh", Role.TRAINEE, ttl=24 * 60 - 30))
    assert "действует ещё 24 минуты, до" in widget.token_status.text()
    widget.token.setText(token("chole-0425", "Osh", Role.TRAINEE, ttl=45 * 60 - 30))
    assert "действует ещё 45 минут, до" in widget.token_status.text()
