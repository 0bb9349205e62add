"""Each viewer's own pan and zoom over a shared picture, and where a point of it lands.

Marks on a shared picture are kept in fractions of the picture (docs/protocol.md 8.1),
never in window pixels. A :class:`Viewport` says where the picture is drawn in one
viewer's window at that viewer's zoom and pan, and turns a window position into a
picture position and back, so a mark drawn at any zoom lands on the same pixel of the
picture for everyone. No Qt here: the desktop view holds one and paints through it.

Zoom 1 fits the whole picture in the window (letterboxed, aspect kept); the picture
can be zoomed to :data:`MAX_ZOOM` and never panned so far that it leaves the window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

MIN_ZOOM: Final = 1.0
MAX_ZOOM: Final = 32.0


@dataclass(frozen=True)
class Viewport:
    """A picture of ``image_w`` x ``image_h`` pixels shown in a window of ``view_w`` x
    ``view_h``, at ``zoom`` (1 = fit), with the picture point ``center`` (fractions) in
    the middle of the window."""

    image_w: int
    image_h: int
    view_w: float
    view_h: float
    zoom: float = 1.0
    center: tuple[float, float] = (0.5, 0.5)

    def __post_init__(self) -> None:
        if self.image_w <= 0 or self.image_h <= 0:
            raise ValueError("a picture has at least one pixel on each side")
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom))
        object.__setattr__(self, "zoom", zoom)
        object.__setattr__(self, "center", self._clamped(self.center, zoom))

    @property
    def fit_scale(self) -> float:
        """Window pixels per picture pixel at zoom 1."""
        return min(max(self.view_w, 1.0) / self.image_w, max(self.view_h, 1.0) / self.image_h)

    @property
    def scale(self) -> float:
        """Window pixels per picture pixel now."""
        return self.fit_scale * self.zoom

    def image_rect(self) -> tuple[float, float, float, float]:
        """Where the whole picture lies in window coordinates: ``x, y, width, height``
        (it may reach past the window's edges when zoomed)."""
        width, height = self.image_w * self.scale, self.image_h * self.scale
        x = self.view_w / 2 - self.center[0] * width
        y = self.view_h / 2 - self.center[1] * height
        return x, y, width, height

    def to_picture(self, x: float, y: float) -> tuple[float, float]:
        """A window position as a picture position (fractions; outside 0..1 when the
        position is beside the picture)."""
        left, top, width, height = self.image_rect()
        return (x - left) / width, (y - top) / height

    def to_window(self, fx: float, fy: float) -> tuple[float, float]:
        """A picture position (fractions) as a window position."""
        left, top, width, height = self.image_rect()
        return left + fx * width, top + fy * height

    def pixel(self, x: float, y: float) -> tuple[int, int]:
        """The picture pixel (column, row) under window position ``x, y``."""
        fx, fy = self.to_picture(x, y)
        return (min(self.image_w - 1, max(0, int(fx * self.image_w))),
                min(self.image_h - 1, max(0, int(fy * self.image_h))))

    def resized(self, view_w: float, view_h: float) -> Viewport:
        return replace(self, view_w=view_w, view_h=view_h)

    def zoomed_at(self, x: float, y: float, factor: float) -> Viewport:
        """Zoom by ``factor`` keeping the picture point under window position ``x, y``
        where it is (the mouse wheel's behaviour)."""
        fx, fy = self.to_picture(x, y)
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom * factor))
        width = self.image_w * self.fit_scale * zoom
        height = self.image_h * self.fit_scale * zoom
        # keep (fx, fy) at (x, y): x = view_w/2 - cx*width + fx*width
        center = (fx - (x - self.view_w / 2) / width, fy - (y - self.view_h / 2) / height)
        return replace(self, zoom=zoom, center=center)

    def panned(self, dx: float, dy: float) -> Viewport:
        """Move the picture by ``dx, dy`` window pixels (a drag)."""
        _, _, width, height = self.image_rect()
        return replace(self, center=(self.center[0] - dx / width, self.center[1] - dy / height))

    def fitted(self) -> Viewport:
        return replace(self, zoom=1.0, center=(0.5, 0.5))

    def _clamped(self, center: tuple[float, float], zoom: float) -> tuple[float, float]:
        """Keep the picture covering the window's middle: a picture point stays there."""
        scale = self.fit_scale * zoom
        out = []
        for value, image, view in ((center[0], self.image_w, self.view_w),
                                   (center[1], self.image_h, self.view_h)):
            size = image * scale
            if size <= view:
                out.append(0.5)  # smaller than the window on this axis: centred
            else:
                half = view / 2 / size
                out.append(min(1 - half, max(half, value)))
        return out[0], out[1]
