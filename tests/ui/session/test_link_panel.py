"""The link-health panel: an explanation while nothing is received, then one line per
received source coloured by its health, and a plain warning when the delay is unsafe."""

from __future__ import annotations

from surgery_teach.media.health import LinkReport
from ui.session.panels import LinkHealthPanel


def lines(panel: LinkHealthPanel) -> list[str]:
    return [panel.list.item(i).text() for i in range(panel.list.count())]


def test_nothing_received_says_what_will_show_then_each_source_gets_its_line(qtbot) -> None:
    panel = LinkHealthPanel()
    qtbot.addWidget(panel)
    (hint,) = lines(panel)
    assert hint.startswith("Nothing received yet") and not panel.warning.isVisibleTo(panel)

    panel.show_reports([LinkReport("Laparoscope", 30.0, 6000.0, 0.0, 3.0, 22.0),
                        LinkReport("Room camera", 30.0, 2000.0, 0.0, 3.0, 420.0)])
    shown = lines(panel)
    assert [line.split(" — ")[0] for line in shown] == ["● Laparoscope", "● Room camera"]
    assert "delay 22 ms" in shown[0] and "6.0 Mbit/s" in shown[0]
    assert "Room camera" in panel.warning.text() and panel.warning.isVisibleTo(panel)

    panel.show_reports([])
    assert lines(panel)[0].startswith("Nothing received yet")
    assert not panel.warning.isVisibleTo(panel)
