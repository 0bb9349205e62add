"""Marks that stay on the tissue: classical, CPU-cheap tracking of anchored marks.

A :class:`Tracker` follows each anchored mark with pyramidal Lucas-Kanade on the
features of its stored patch, on a reduced grey copy of the frames, with a
forward-backward check and a robust similarity fit; it reports each mark's
:class:`MarkPose` (a 2x3 transform, tracking or lost, a confidence) and re-attaches a
lost mark when its tissue comes back. No Qt, no network: the session moves poses.
"""

from __future__ import annotations

from surgery_teach.tracking.flow import FlowSettings
from surgery_teach.tracking.pose import MarkPose, TrackState
from surgery_teach.tracking.tracker import Tracker, TrackerSettings

__all__ = ["FlowSettings", "MarkPose", "TrackState", "Tracker", "TrackerSettings"]
