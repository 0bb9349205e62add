"""The player's seek bar shows privacy pauses as grey hatched spans over the track."""

from __future__ import annotations

from typing import Any

from PyQt6.QtGui import QColor, QImage

from ui.library.controls import CHAPTER_COLOUR, PRIVACY_COLOUR, TimelineBar


def test_privacy_pauses_are_painted_where_they_were(qapp: Any) -> None:
    bar = TimelineBar()
    bar.resize(616, 56)
    bar.set_case(60.0, [], [], [(4.0, 11.0), (9.0, 50.0), (55.0, None)])
    assert bar.paused_at(5.0) and bar.paused_at(58.0) and not bar.paused_at(52.0)
    image = QImage(bar.size(), QImage.Format.Format_RGB32)
    image.fill(QColor("#000000"))
    bar.render(image)
    top = int(bar._track().top()) - 4  # the grey edge over a paused span
    grey = QColor(PRIVACY_COLOUR).rgb()
    assert image.pixel(int(bar.x_of(7.0)), top) == grey
    assert image.pixel(int(bar.x_of(57.0)), top) == grey
    assert image.pixel(int(bar.x_of(53.0)), top) != grey


def _columns(image: QImage, y: int, colour: str) -> list[int]:
    """The x of each run of ``colour`` pixels along row ``y`` (its middle)."""
    want = QColor(colour).rgb()
    xs = [x for x in range(image.width()) if image.pixel(x, y) == want]
    runs: list[list[int]] = []
    for x in xs:
        if runs and x == runs[-1][-1] + 1:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [round(sum(run) / len(run)) for run in runs]


def _rendered(bar: TimelineBar) -> QImage:
    image = QImage(bar.size(), QImage.Format.Format_RGB32)
    image.fill(QColor("#000000"))
    bar.render(image)
    return image


def test_chapters_and_privacy_stay_on_their_moment_at_two_zoom_levels(qapp: Any) -> None:
    """A 600 s case on a 600 px track: chapter ticks at 290 s and 310 s are 10 px apart;
    zoomed in 4× around the playhead at 300 s they are 40 px apart, either side of the
    playhead, which has not moved; the chapter at 100 s and the privacy pause at 500 s
    are out of view, and the pause at 320-340 s covers its 40 px there."""
    from surgery_teach.casebook.chapters import Chapter

    bar = TimelineBar()
    bar.resize(616, 56)  # a 600 px track from x = 8
    chapters = [Chapter("c1", "Port placement", 100.0),
                Chapter("c2", "Calot's triangle", 290.0), Chapter("c3", "Clipping", 310.0)]
    bar.set_case(600.0, chapters, [], [(320.0, 340.0), (500.0, 520.0)])
    bar.set_position(300.0)
    tick_row, edge_row = 20, int(bar._track().top()) - 4
    playhead = bar.x_of(300.0)
    assert playhead == 308.0

    whole = _rendered(bar)
    assert _columns(whole, tick_row, CHAPTER_COLOUR) == [108, 298, 318]  # 8 + t px
    grey = _columns(whole, edge_row, PRIVACY_COLOUR)
    assert grey == [338, 518]  # the middles of 328..348 and 508..528

    bar.zoom_by(4.0)
    assert bar.zoom == 4.0 and bar.x_of(300.0) == playhead  # the playhead stayed put
    zoomed = _rendered(bar)
    ticks = _columns(zoomed, tick_row, CHAPTER_COLOUR)
    assert ticks == [268, 348]  # 300 s - 10 s * 4 px/s, + 10 s * 4 px/s; 100 s not shown
    grey = _columns(zoomed, edge_row, PRIVACY_COLOUR)
    assert grey == [428]  # 320..340 s at 388..468 px; the pause at 500 s is off the bar
    assert abs(bar.time_at(348) - 310.0) < 0.3  # a click on the tick lands on the chapter
    chapter = bar.chapter_near(348.0)
    assert chapter is not None and chapter.title == "Clipping"


def test_ctrl_wheel_zooms_the_wheel_moves_along_and_playing_pages_the_view(
        qapp: Any) -> None:
    from PyQt6.QtCore import QPoint, QPointF, Qt
    from PyQt6.QtGui import QWheelEvent

    bar = TimelineBar()
    bar.resize(616, 56)
    bar.set_case(600.0, [], [])
    bar.set_position(100.0)
    zooms: list[float] = []
    bar.zoom_changed.connect(zooms.append)

    def wheel(notches: int, modifiers: Qt.KeyboardModifier) -> None:
        event = QWheelEvent(QPointF(50, 30), QPointF(50, 30), QPoint(0, 0),
                            QPoint(0, 120 * notches), Qt.MouseButton.NoButton, modifiers,
                            Qt.ScrollPhase.NoScrollPhase, False)
        bar.wheelEvent(event)

    wheel(4, Qt.KeyboardModifier.ControlModifier)  # four notches: two button presses
    assert zooms == [4.0] and bar.x_of(100.0) == 108.0
    wheel(-2, Qt.KeyboardModifier.NoModifier)  # the wheel alone moves along the case
    assert bar.window.start > 0.0 and not bar.window.shows(100.0)
    bar.set_position(100.04)  # playing: the view the student moved to stays
    assert not bar.window.shows(100.04)
    bar.reveal_playhead()  # a seek brings it back
    bar.set_position(101.0)
    assert bar.window.shows(101.0)
    bar.set_position(bar.window.end + 0.1)  # played off the right edge: the next page
    assert bar.window.shows(bar.position) and bar.window.fraction_of(bar.position) < 0.01
    wheel(-4, Qt.KeyboardModifier.ControlModifier)
    assert zooms[-1] == 1.0 and bar.window.span == 600.0
