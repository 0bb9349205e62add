"""The surgeon sees what each viewer gets; a viewer sees its own layer and why."""

from __future__ import annotations

from surgery_teach.media.health import LinkReport
from surgery_teach.rtc.adaptation import ViewerState
from ui.i18n import set_language
from ui.session.panels import LinkHealthPanel
from ui.session.viewers import ViewersPanel


def viewer(name: str, layer: str, reason: str, loss: float | None = 0.02) -> ViewerState:
    return ViewerState(participant=f"p-{name}", name=name, source="Laparoscope", layer=layer,
                       reason=reason, loss=loss, rtt_ms=12.0, switches=1)


def test_the_surgeon_sees_each_viewers_layer_loss_and_round_trip(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = ViewersPanel()
    qtbot.addWidget(panel)
    assert panel.isHidden()  # nobody watching: nothing to show
    panel.show_viewers([viewer("Prof Li", "720p", "best quality", None),
                        viewer("Trainee Osh", "360p", "limited by your link")], True)
    assert panel.isVisible() and panel.warning.isVisible()
    lines = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert lines[0].startswith("Prof Li — Laparoscope 720p") and "loss – · RTT 12 ms" in lines[0]
    assert lines[1].startswith("Trainee Osh — Laparoscope 360p")
    assert "limited by your link · loss 2.0% · RTT 12 ms" in lines[1]
    panel.show_viewers([viewer("Prof Li", "720p", "best quality")], False)
    assert not panel.warning.isVisible() and panel.list.count() == 1


def test_a_viewer_sees_its_layer_and_why_in_its_language(qtbot) -> None:  # type: ignore[no-untyped-def]
    panel = LinkHealthPanel()
    qtbot.addWidget(panel)
    limited = LinkReport(label="Laparoscope", fps=29.0, kbit_per_s=420.0, loss=0.01,
                         rtt_ms=40.0, delay_ms=60.0, layer="360p", top="720p",
                         reason="limited by your link")
    best = LinkReport(label="Room camera", fps=30.0, kbit_per_s=900.0, loss=0.0,
                      rtt_ms=40.0, delay_ms=55.0, layer="360p", top="360p",
                      reason="best quality")
    try:
        panel.show_reports([limited, best])
        assert panel.list.item(0).text().endswith("360p, limited by your link")
        assert "360p" not in panel.list.item(1).text()  # its best: nothing to say
        set_language("ru")
        panel.show_reports([limited])
        assert panel.list.item(0).text().endswith("360p, ограничено вашим соединением")
    finally:
        set_language("en")
