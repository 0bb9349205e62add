"""The player's seek bar shows privacy pauses as grey hatched spans over the track."""

from __future__ import annotations

from typing import Any

from PyQt6.QtGui import QColor, QImage

from ui.library.controls import PRIVACY_COLOUR, TimelineBar


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
