"""A case in the hospital library plays through the same casebook as a local one."""

from __future__ import annotations

from pathlib import Path

from surgery_teach.casebook import RecordedAudio, SourcePlayer, build_timeline, open_case
from surgery_teach.casebook.media import stop_streaming
from surgery_teach.caselibrary.passes import LibraryRole
from surgery_teach.caselibrary.publish import publish_case
from surgery_teach.caselibrary.remote import RemoteLibrary
from tests.library_server.helpers import Certificate, LibraryThread, token


def _frames(case_folder: Path, label: str) -> list[tuple[float, bytes]]:
    playable = open_case(case_folder)
    with SourcePlayer(playable.case, label, start=playable.start) as player:
        shown = player.seek(1.2)
        assert shown is not None
        frames = [(round(shown.time, 3), shown.to_rgb().tobytes()[:4096])]
        for _ in range(5):
            following = player.next()
            assert following is not None
            frames.append((round(following.time, 3), following.to_rgb().tobytes()[:4096]))
    return frames


def test_a_student_plays_a_library_case_with_its_marks_chapters_and_sound(
    library: LibraryThread, certificate: Certificate, case: Path, tmp_path: Path
) -> None:
    with library.connect(token(LibraryRole.MENTOR, ["hospital:zepu"]),
                         ca=certificate) as connection:
        publish_case(case, connection)
    remote = RemoteLibrary(library.url, token(LibraryRole.STUDENT, ["hospital:zepu"]),
                           cache=tmp_path / "cache", ca_file=certificate.cert)
    [found] = remote.entries("dissection")
    assert found.entry.title == "Laparoscopic cholecystectomy"
    assert found.entry.thumbnail is not None and found.entry.thumbnail.exists()
    folder = remote.prepare(found.summary)
    try:
        assert not (folder / "endoscope.mkv").exists()  # streamed, never copied
        playable = open_case(folder)
        local = open_case(case)
        assert playable.playable == local.playable and playable.audio
        assert playable.duration == local.duration and not playable.problems
        timeline = build_timeline(playable.case, duration=playable.duration)
        assert [c.title for c in timeline.chapters] == ["Exposure", "Dissection"]
        assert len(timeline.mark_ticks) == len(build_timeline(local.case).mark_ticks) > 0
        assert _frames(folder, "Endoscope") == _frames(case, "Endoscope")
        with RecordedAudio(playable.case, start=playable.start) as audio:
            assert next(audio.chunks(1.0)).samples.size > 0
    finally:
        stop_streaming(folder)
