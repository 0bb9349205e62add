"""The stretch of a case a zoomed timeline shows (pure maths, no Qt).

A student looking for the moment the mentor pointed at the cystic artery in a two-hour
case needs more than one pixel per five seconds. :class:`TimeWindow` is the part of the
case the seek bar shows: the whole case at zoom 1, a quarter of it at zoom 4. Zooming
keeps one moment (the playhead) at the same place on the bar, so the student never loses
it; :meth:`TimeWindow.following` pages the window along as the playhead plays out of it.
Every marker (chapter, mark, privacy pause) is placed with :meth:`TimeWindow.fraction_of`,
so it is where its time is at every zoom.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MAX_ZOOM = 64.0
"""The closest zoom: a sixty-fourth of the case across the bar."""
MIN_SPAN = 1.0
"""Seconds the bar shows at least, however short the case and close the zoom."""
ZOOM_STEP = 2.0
"""How much one press of a zoom button (or one notch of Ctrl+wheel, squared) zooms."""


@dataclass(frozen=True)
class TimeWindow:
    """``duration`` seconds of case, of which ``span`` seconds from ``start`` show."""

    duration: float
    zoom: float = 1.0
    start: float = 0.0

    def __post_init__(self) -> None:
        duration = max(0.0, self.duration)
        zoom = min(max(1.0, self.zoom), self.max_zoom_for(duration))
        span = duration / zoom if duration else 0.0
        start = min(max(0.0, self.start), max(0.0, duration - span))
        object.__setattr__(self, "duration", duration)
        object.__setattr__(self, "zoom", zoom)
        object.__setattr__(self, "start", start)

    @staticmethod
    def max_zoom_for(duration: float) -> float:
        """The closest zoom for a case of ``duration`` s (at least :data:`MIN_SPAN` shown)."""
        return max(1.0, min(MAX_ZOOM, duration / MIN_SPAN))

    @property
    def span(self) -> float:
        """Seconds shown across the bar."""
        return self.duration / self.zoom if self.duration else 0.0

    @property
    def end(self) -> float:
        return self.start + self.span

    @property
    def zoomed_in(self) -> bool:
        return self.zoom > 1.0

    @property
    def can_zoom_in(self) -> bool:
        return self.zoom < self.max_zoom_for(self.duration)

    def shows(self, t: float) -> bool:
        """Whether case time ``t`` is within the window."""
        return self.start <= t <= self.end

    def fraction_of(self, t: float) -> float:
        """Where case time ``t`` is across the bar: 0 at its left end, 1 at its right;
        below 0 or above 1 when it is outside the window."""
        return (t - self.start) / self.span if self.span else 0.0

    def time_at(self, fraction: float) -> float:
        """The case time at ``fraction`` across the bar (clamped to the window)."""
        return self.start + min(max(fraction, 0.0), 1.0) * self.span

    def zoomed(self, factor: float, around: float) -> TimeWindow:
        """Zoom by ``factor`` (2: closer, 0.5: further) keeping case time ``around`` at
        the same place on the bar when it is in view, else in the middle."""
        fraction = self.fraction_of(around)
        if not 0.0 <= fraction <= 1.0:
            fraction = 0.5
        zoom = self.zoom * factor
        span = self.duration / min(max(1.0, zoom), self.max_zoom_for(self.duration))
        return replace(self, zoom=zoom, start=around - fraction * span)

    def scrolled(self, fraction: float) -> TimeWindow:
        """Moved by ``fraction`` of its span (negative: towards the start)."""
        return replace(self, start=self.start + fraction * self.span)

    def following(self, t: float) -> TimeWindow:
        """The window that shows ``t``: itself when it does; else the next page when
        ``t`` played just past its end, or a window with ``t`` a tenth in from the
        left (a jump elsewhere)."""
        if self.shows(t):
            return self
        if self.end < t <= self.end + self.span:  # played off the right edge: next page
            return replace(self, start=self.end)
        return replace(self, start=t - 0.1 * self.span)
