"""What a scenario measured, one row per viewer, as a table and as JSON.

Most of a row comes from the clients' ``--stats-json`` files (``python -m surgery_teach
publish|watch``). The uplink rate is the county gateway's WAN byte counter over the
viewers' run. The path comes from the client when its statistics carry one; until then
the lab tells it from the router's counters: ``direct`` when the viewer's UDP came from
the county site, ``relay`` when it came from the data centre (coturn), marked ``*``.
Fields the clients do not report show as ``n/a``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MIN_MEDIA_BYTES = 100_000
"""UDP bytes a viewer must have received on a path for it to count as its media path
(failed ICE checks stay far below; 30 s of video at 2.5 Mbit/s is ~9 MB)."""
NA = "n/a"
SETTLE_S = 10.0
"""Seconds from a viewer's first picture after which freezes count against the targets."""


def late_freeze_s(freezes: list[list[float]], settle: float = SETTLE_S) -> float:
    """The longest stretch of any freeze (``[start, length]``, seconds from the first
    picture) that falls after ``settle`` seconds."""
    return max((min(length, start + length - settle) for start, length in freezes
                if start + length > settle), default=0.0)


@dataclass
class ViewerRow:
    site: str
    role: str
    frames: int = 0
    fps: float = 0.0
    """Frames decoded over the viewer's whole run (its ``duration_s``): a viewer that got
    five smooth seconds and then froze scores low here."""
    fps_while_receiving: float = 0.0
    """The client's own ``fps``: from its first decoded frame to its last."""
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    longest_freeze_ms: float | None = None
    """The longest pause between two decoded pictures (the client's
    ``tracks[].longest_freeze_s``)."""
    late_freeze_ms: float | None = None
    """The longest part of a pause after the first :data:`SETTLE_S` of pictures (the
    targets allow a viewer that long to find its layer)."""
    layer: str | None = None
    """The client's ``tracks[].layer`` when it reports one; else the layer the publisher
    last chose for this viewer (its ``viewers[].layer``, by name); else the height of the
    last decoded picture (``360p``)."""
    size_changes: int = 0
    """How often the decoded picture changed size (layer switches the viewer saw)."""
    path: str = "none"
    path_measured_by: str = "lab"
    """``client`` when ``tracks[].path`` gave the path, else ``lab`` (router counters)."""
    problem: str | None = None


@dataclass
class ScenarioResult:
    name: str
    what: str
    expect_connection: bool
    out_dir: str
    sites: list[dict[str, Any]] = field(default_factory=list)
    """Each site's role, link rates (Mbit/s, None: unshaped), loss and NAT."""
    error: str | None = None
    uplink_mbit_s: float | None = None
    publisher: dict[str, Any] | None = None
    viewers: list[ViewerRow] = field(default_factory=list)
    path_bytes: dict[str, int] = field(default_factory=dict)
    silent_peer: dict[str, Any] | None = None

    @property
    def keyframes(self) -> int | None:
        """Keyframes the publisher made during the run, over all its layers (``layers``;
        a publisher without layers lists its encoders in ``sent``)."""
        publisher = self.publisher or {}
        encoders = publisher.get("layers") or publisher.get("sent") or []
        return sum(int(encoder["keyframes"]) for encoder in encoders) if encoders else None

    @property
    def check(self) -> str:
        """``ok`` when the viewers got video exactly if they were expected to."""
        if self.error is not None or not self.viewers:
            return "error"
        if self.expect_connection:
            good = all(v.frames > 0 and v.problem is None for v in self.viewers)
        else:
            good = all(v.frames == 0 for v in self.viewers)
        return "ok" if good else "UNEXPECTED"

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(keyframes=self.keyframes, check=self.check)
        return data


def lab_path(site: str, path_bytes: dict[str, int]) -> str:
    """``direct``, ``relay`` or ``none`` from the router's per-path UDP byte counters."""
    direct = path_bytes.get(f"direct:{site}", 0)
    relay = path_bytes.get(f"relay:{site}", 0)
    if max(direct, relay) < MIN_MEDIA_BYTES:
        return "none"
    return "relay" if relay > direct else "direct"


def _publisher_layer(publisher: dict[str, Any] | None, name: str) -> str | None:
    for viewer in (publisher or {}).get("viewers") or []:
        if viewer.get("name") == name and viewer.get("layer"):
            return str(viewer["layer"])
    return None


def viewer_row(site: str, role: str, name: str, stats: dict[str, Any] | None, *,
               publisher: dict[str, Any] | None, path_bytes: dict[str, int],
               problem: str | None) -> ViewerRow:
    """One viewer's row from its ``--stats-json`` (None if it wrote none) and the
    publisher's."""
    row = ViewerRow(site, role, path=lab_path(site, path_bytes), problem=problem)
    if stats is None:
        row.problem = problem or "wrote no statistics"
        return row
    tracks = stats.get("tracks") or []
    if not tracks:
        return row
    track = tracks[0]  # the surgeon sends one source in the lab
    row.frames = int(track.get("frames_decoded", 0))
    duration = float(stats.get("duration_s") or 0.0)
    row.fps = round(row.frames / duration, 2) if duration > 0 else 0.0
    row.fps_while_receiving = float(track.get("fps", 0.0))
    latency = track.get("latency_ms") or {}
    row.latency_p50_ms, row.latency_p95_ms = latency.get("p50"), latency.get("p95")
    if row.frames and track.get("longest_freeze_s") is not None:
        row.longest_freeze_ms = round(1000 * float(track["longest_freeze_s"]), 1)
    if row.frames and track.get("freezes") is not None:
        row.late_freeze_ms = round(1000 * late_freeze_s(track["freezes"]), 1)
    height = (track.get("resolution") or [0, 0])[1]
    row.layer = (track.get("layer") or _publisher_layer(publisher, name)
                 or (f"{height}p" if height else None))
    row.size_changes = max(0, len(track.get("sizes") or []) - 1)
    if track.get("path"):
        row.path, row.path_measured_by = str(track["path"]), "client"
    return row


COLUMNS = (("scenario", 24), ("viewer", 9), ("frames", 6), ("fps", 5), ("p50 ms", 7),
           ("p95 ms", 7), ("freeze ms", 9), ("after 10s", 9), ("layer", 6), ("keyfr", 5),
           ("up Mbit/s", 9),
           ("path", 8), ("check", 10))


def _cell(value: object) -> str:
    if value is None:
        return NA
    if isinstance(value, float):
        return f"{value:.1f}" if value < 1000 else f"{value:.0f}"
    return str(value)


def table(results: list[ScenarioResult]) -> str:
    """The results as a fixed-width text table, one line per viewer."""
    lines = ["  ".join(name.ljust(width) for name, width in COLUMNS).rstrip()]
    lines.append("  ".join("-" * width for _, width in COLUMNS))
    for result in results:
        if result.error is not None:
            lines.append(f"{result.name.ljust(24)}  error: {result.error}")
            continue
        for viewer in result.viewers:
            path = viewer.path + ("*" if viewer.path_measured_by == "lab" else "")
            cells = (result.name, viewer.site, viewer.frames, viewer.fps,
                     viewer.latency_p50_ms, viewer.latency_p95_ms, viewer.longest_freeze_ms,
                     viewer.late_freeze_ms, viewer.layer, result.keyframes,
                     result.uplink_mbit_s, path, result.check)
            lines.append("  ".join(_cell(c).ljust(w) for c, (_, w)
                                   in zip(cells, COLUMNS, strict=True)).rstrip())
            if viewer.problem:
                lines.append(f"{'':24}  ^ {viewer.site}: {viewer.problem}")
        if result.silent_peer is not None:
            offers = result.silent_peer.get("signal-offer", 0)
            lines.append(f"{'':24}  silent peer ignored {offers} offer(s)")
    lines.append("fps: frames decoded / the viewer's whole run; freeze: longest, and longest "
                 "after the first 10 s of pictures; keyfr: keyframes of all the publisher's "
                 "layers; up: county's uplink while the viewers ran")
    lines.append("* path told by the lab's router counters (the clients do not report it yet)")
    return "\n".join(lines)
