"""Media files that survive a crash: already-encoded packets in, no re-encode.

A plain MP4 killed mid-recording cannot be opened: its index (``moov``) is only written
when the file is closed. Both formats here write their index as they go, about once per
``flush_interval``:

- **Matroska** (``.mkv``, the default): a new cluster at least every ``flush_interval``
  seconds; each cluster reaches the file as soon as it closes (``flush_packets``). The
  segment size stays "unknown" until the file is closed, which every demuxer accepts.
- **Fragmented MP4** (``.mp4``): ``frag_keyframe+empty_moov+default_base_moof`` with a
  fragment at least every ``flush_interval`` (keyframes are seconds apart, so
  ``frag_keyframe`` alone would give multi-second fragments). Never add ``faststart``: it
  moves the index to the end, which defeats fragmentation.

Measured with ``python -m bench.record kill`` (SIGKILL 2-6 s into a 640x360 recording, 24
kills each): every file opened; the last playable frame was captured 0.04-1.04 s before
the kill with Matroska (median 0.44 s) and 0.06-1.07 s with fragmented MP4 (median
0.47 s), a tie within the noise. Matroska is the default: slightly ahead, and it carries
Opus audio and our tags natively. A finished recording remuxes losslessly to MP4
(``ffmpeg -c copy``) for players that want one.

Each file holds one video stream (see :mod:`surgery_teach.recording.recorder` for why one
file per source). The file's time 0 is its first keyframe; the capture-clock time of that
keyframe is the file's ``clock_origin`` (also stored as the ``CLOCK_ORIGIN`` tag), so a
frame at media time ``m`` was captured at ``clock_origin + m``.

The writers run on a worker thread, never on the asyncio loop. An ``OSError`` from the
disk (``ENOSPC``) comes out of :meth:`write` unchanged so the caller can tell a full disk;
FFmpeg's own errors become :class:`RecordingError`.

In an encrypted case folder (:mod:`.sealed_folder`) FFmpeg writes through a
:class:`~.sealing.SealedFile` over the same :class:`SyncedFile`: the newest chunk is sealed
on every write the muxer makes (each finished cluster or fragment), so crash safety is
kept; a locked folder raises :class:`~surgery_teach.errors.CaseLockedError` at the first
frame instead of writing plaintext.
"""

from __future__ import annotations

import fractions
import io
import logging
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

import av

from surgery_teach.casefile.sealed_folder import folder_key
from surgery_teach.casefile.sealing import MEDIA_CHUNK_SHIFT, SealedFile
from surgery_teach.errors import RecordingError

logger = logging.getLogger("surgery_teach.recording")

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)
AUDIO_SAMPLE_RATE = 48_000
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_SAMPLE_RATE)
CLOCK_ORIGIN_TAG = "CLOCK_ORIGIN"


class ContainerFormat(StrEnum):
    """Crash-safe container formats; the value is the file suffix without the dot."""

    MATROSKA = "mkv"
    FRAGMENTED_MP4 = "mp4"

    @property
    def audio_suffix(self) -> str:
        return "mka" if self is ContainerFormat.MATROSKA else "m4a"


@dataclass(frozen=True, kw_only=True)
class ContainerOptions:
    """How media files are written.

    ``flush_interval`` (s) bounds how much media a crash can lose: clusters or fragments
    are cut at least this often. ``sync_interval`` (s) bounds the loss on power failure:
    while data arrives, the file is ``fsync``-ed about this often (0 turns it off).
    """

    format: ContainerFormat = ContainerFormat.MATROSKA
    flush_interval: float = 1.0
    sync_interval: float = 1.0

    def __post_init__(self) -> None:
        if not 0.1 <= self.flush_interval <= 10:
            raise ValueError(f"flush_interval must be 0.1 to 10 s, got {self.flush_interval}")
        if self.sync_interval < 0:
            raise ValueError(f"sync_interval must be >= 0, got {self.sync_interval}")

    def muxer_options(self) -> dict[str, str]:
        """The FFmpeg muxer options that make the file playable after a crash."""
        # flush_packets: push each finished cluster/fragment out of AVIO's buffer at once.
        # Its default ("auto") never flushes a seekable output such as ours.
        options = {"flush_packets": "1"}
        if self.format is ContainerFormat.MATROSKA:
            options["cluster_time_limit"] = str(round(self.flush_interval * 1000))
        else:
            # use_metadata_tags: keep our CLOCK_ORIGIN tag, which MP4 drops otherwise.
            options["movflags"] = (
                "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags"
            )
            options["frag_duration"] = str(round(self.flush_interval * 1_000_000))
        return options

    @property
    def ffmpeg_format(self) -> str:
        return "matroska" if self.format is ContainerFormat.MATROSKA else "mp4"


class SyncedFile(io.RawIOBase):
    """The file FFmpeg writes through: plain writes, an ``fsync`` every ``interval`` s.

    This is also the seam for tests: a subclass can fail :meth:`write` with ``ENOSPC``.
    """

    def __init__(self, path: Path, interval: float) -> None:
        super().__init__()
        # Readable too: a sealed file above re-reads a chunk it rewrites.
        self._file: BinaryIO = open(path, "x+b", buffering=0)  # closed in close()
        self._interval = interval
        self._synced_at = time.monotonic()
        self._dirty = False
        self.bytes_written = 0
        self.error: OSError | None = None  # the last failed write or sync, for the caller

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        try:
            return self._write(memoryview(data))
        except OSError as exc:
            self.error = exc
            raise

    def _write(self, view: memoryview) -> int:
        done = 0
        while done < len(view):  # a raw write may be partial
            done += self._file.write(view[done:]) or 0
        self.bytes_written += done
        self._dirty = True
        if self._interval and time.monotonic() - self._synced_at >= self._interval:
            self.sync()
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def read_at(self, offset: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, offset)

    def sync(self) -> None:
        if self._dirty:
            try:
                os.fsync(self._file.fileno())
            except OSError as exc:
                self.error = exc
                raise
            self._dirty = False
        self._synced_at = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            try:
                self.sync()
            finally:
                self._file.close()
        super().close()


class _MediaFile:
    """One open output container with one stream; the parts both writers share."""

    def __init__(self, path: Path, options: ContainerOptions) -> None:
        self.path = path
        self.options = options
        self._file: SyncedFile | SealedFile | None = None
        self._container: av.container.OutputContainer | None = None
        self.closed = False

    @property
    def bytes_written(self) -> int:
        return self._file.bytes_written if self._file is not None else 0

    def open_file(self) -> SyncedFile | SealedFile:
        """Create the file on disk, sealed in an encrypted case folder (seam: tests
        subclass the writer to fail here or later)."""
        key = folder_key(self.path.parent)
        synced = SyncedFile(self.path, self.options.sync_interval)
        if key is None:
            return synced
        try:
            return SealedFile(synced, key, chunk_shift=MEDIA_CHUNK_SHIFT, name=self.path.name)
        except BaseException:
            synced.close()
            raise

    def _open(self, metadata: dict[str, str]) -> av.container.OutputContainer:
        self._file = self.open_file()
        try:
            container = av.open(
                self._file, "w", format=self.options.ffmpeg_format,
                options=self.options.muxer_options(),
            )
        except av.FFmpegError as exc:
            self._file.close()
            raise self._translate(exc, "create") from exc
        container.metadata.update(metadata)
        self._container = container
        return container

    def _mux(self, packet: av.Packet) -> None:
        assert self._container is not None
        try:
            self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise self._translate(exc, "write") from exc

    def _translate(self, exc: BaseException, doing: str) -> BaseException:
        """The disk's own ``OSError`` if that is what failed, else a :class:`RecordingError`."""
        if self._file is not None and self._file.error is not None:
            return self._file.error
        if isinstance(exc, OSError) and not isinstance(exc, av.FFmpegError):
            return exc
        return RecordingError(f"cannot {doing} {self.path}: {exc}", str(self.path.parent))

    def close(self) -> None:
        """Write the index and close; safe to call twice, and after a failed write."""
        if self.closed:
            return
        self.closed = True
        container, self._container = self._container, None
        error: BaseException | None = None
        if container is not None:
            try:
                container.close()
            except (av.FFmpegError, OSError) as exc:
                # A full disk also fails the trailer; the clusters already written play.
                error = exc
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                error = error or exc
        if error is not None:
            raise self._translate(error, "finish") from error


class VideoFileWriter(_MediaFile):
    """Muxes one source's H.264 packets (Annex-B, ``pts`` in 1/90000) into one file.

    Nothing is decoded or encoded: each packet's bytes go into the file as they are
    (FFmpeg only rewrites the start codes as lengths, as both formats require). The file
    starts at the first keyframe; earlier packets are dropped. The header is written then,
    so an unplugged source that never sends a frame leaves no file behind.
    """

    def __init__(
        self, path: Path, *, label: str, width: int, height: int,
        options: ContainerOptions | None = None,
    ) -> None:
        super().__init__(path, options or ContainerOptions())
        self.label = label
        self.width = width
        self.height = height
        self.frames = 0
        self.dropped_before_keyframe = 0
        self.first_pts: int | None = None
        self.clock_origin: float | None = None
        self._last_pts = -1
        self._stream: av.stream.Stream | None = None

    def write(self, packet: av.Packet, *, captured_at: float) -> bool:
        """Add one encoded picture; ``False`` if it was dropped (before the first keyframe).

        ``packet`` is never muxed itself, since viewers share it: muxing rescales its
        timestamps in place. Its bytes are copied into a new packet instead.
        """
        if self.closed:
            raise RecordingError(f"{self.path} is already closed", str(self.path.parent))
        if packet.pts is None:
            raise RecordingError(f"a packet for {self.label} has no pts", str(self.path.parent))
        pts = int(packet.pts)
        if self.first_pts is None:
            if not packet.is_keyframe:
                self.dropped_before_keyframe += 1
                return False
            self._start(packet, pts, captured_at)
        assert self.first_pts is not None and self._stream is not None
        relative = pts - self.first_pts
        if relative <= self._last_pts:
            logger.warning("%s: dropped a packet whose pts went back (%d)", self.label, pts)
            return False
        self._last_pts = relative
        copy = av.Packet(bytes(packet))
        copy.pts = copy.dts = relative
        copy.time_base = VIDEO_TIME_BASE
        copy.is_keyframe = bool(packet.is_keyframe)
        copy.stream = self._stream
        self._mux(copy)
        self.frames += 1
        return True

    def _start(self, packet: av.Packet, pts: int, captured_at: float) -> None:
        self.first_pts = pts
        self.clock_origin = captured_at
        container = self._open({"title": self.label, CLOCK_ORIGIN_TAG: f"{captured_at:.6f}"})
        # SPS/PPS come from the first keyframe: FFmpeg reads them from the packet
        # (extract_extradata) before writing the header. The size must be given.
        stream = container.add_mux_stream(
            "h264", width=self.width, height=self.height, time_base=VIDEO_TIME_BASE
        )
        stream.metadata["title"] = self.label
        self._stream = stream


class AudioFileWriter(_MediaFile):
    """Encodes 48 kHz mono audio frames to Opus (Matroska) or AAC (fragmented MP4).

    Audio is small and cheap to encode (a few tenths of a percent of one core), so unlike
    video it is encoded here, on the writer's thread. ``clock_origin`` is the capture time
    given with the first frame; later frames are placed by their sample count.
    """

    def __init__(self, path: Path, *, options: ContainerOptions | None = None,
                 bitrate: int = 48_000) -> None:
        super().__init__(path, options or ContainerOptions())
        self.bitrate = bitrate
        self.clock_origin: float | None = None
        self.samples = 0
        self._stream: av.audio.stream.AudioStream | None = None
        self._resampler: av.AudioResampler | None = None

    def write(self, frame: av.AudioFrame, *, captured_at: float) -> None:
        """Encode and add one frame of audio (any sample format and layout)."""
        if self.closed:
            raise RecordingError(f"{self.path} is already closed", str(self.path.parent))
        if self._stream is None:
            self._start(captured_at)
        assert self._stream is not None and self._resampler is not None
        try:
            for chunk in self._resampler.resample(frame):
                chunk.pts = self.samples
                chunk.time_base = AUDIO_TIME_BASE
                self.samples += chunk.samples
                for packet in self._stream.encode(chunk):
                    self._mux(packet)
        except (av.FFmpegError, ValueError) as exc:
            raise self._translate(exc, "encode audio into") from exc

    def _start(self, captured_at: float) -> None:
        self.clock_origin = captured_at
        container = self._open({"title": "audio", CLOCK_ORIGIN_TAG: f"{captured_at:.6f}"})
        codec = "libopus" if self.options.format is ContainerFormat.MATROSKA else "aac"
        stream = container.add_stream(codec, rate=AUDIO_SAMPLE_RATE)
        assert isinstance(stream, av.audio.stream.AudioStream)
        stream.layout = "mono"
        stream.bit_rate = self.bitrate
        stream.time_base = AUDIO_TIME_BASE
        sample_format = "s16" if codec == "libopus" else "fltp"
        frame_size = 960 if codec == "libopus" else 1024  # 20 ms Opus; AAC's fixed 1024
        self._resampler = av.AudioResampler(
            format=sample_format, layout="mono", rate=AUDIO_SAMPLE_RATE, frame_size=frame_size
        )
        self._stream = stream

    def close(self) -> None:
        if not self.closed and self._stream is not None and self._container is not None:
            try:
                for packet in self._stream.encode(None):
                    self._mux(packet)
            except (RecordingError, OSError) as exc:
                logger.warning("could not flush the audio encoder for %s: %s", self.path, exc)
        super().close()
