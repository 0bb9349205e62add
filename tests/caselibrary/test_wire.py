"""The library's wire objects, from literal strings."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from surgery_teach.casefile.manifest import Participant
from surgery_teach.caselibrary.wire import (
    CaseSummary,
    FileEntry,
    PublishRequest,
    UploadState,
    case_id,
    case_summary_to_json,
    check_collection,
    check_file_name,
    parse_case_list,
    parse_case_summary,
    parse_error,
    parse_publish_request,
    parse_upload_status,
    publish_request_to_json,
)
from surgery_teach.errors import LibraryError
from surgery_teach.wire.role import Role

SHA = "ab" * 32


def test_a_publish_request_reads_from_its_literal_form() -> None:
    text = ('{"version": 1, "manifest": "{}", "files": [{"name": "endoscope.mkv", '
            f'"size": 10, "sha256": "{SHA}"}}], "collections": ["hospital:zepu", '
            '"hospital:zepu", "course:lap-2026"], "procedure": " Cholecystectomy "}')
    request = parse_publish_request(text)
    assert request == PublishRequest(
        manifest="{}", files=(FileEntry("endoscope.mkv", 10, SHA),),
        collections=("hospital:zepu", "course:lap-2026"), procedure="Cholecystectomy")
    assert parse_publish_request(publish_request_to_json(request)) == request


@pytest.mark.parametrize(("text", "problem"), [
    ('{"version": 1, "manifest": "{}", "files": [], "colour": "red"}', "unknown field"),
    ('{"version": 1, "manifest": 5, "files": []}', "'manifest' must be a str"),
    ('{"version": 1, "manifest": "", "files": [{"name": "a", "size": -1, "sha256": "'
     + SHA + '"}]}', "whole number"),
    ('{"version": 1, "manifest": "", "files": [{"name": "a", "size": 1, "sha256": "XY"}]}',
     "64 lowercase hex"),
    ('{"version": 1, "manifest": "", "files": [], "collections": ["ward 3"]}',
     "is not a collection"),
    ('{"version": 2, "manifest": "", "files": []}', "must be 1"),
    ('[]', "must be a JSON object"),
])
def test_malformed_publish_requests_are_refused_naming_the_field(text: str,
                                                                 problem: str) -> None:
    with pytest.raises(LibraryError, match=problem) as refused:
        parse_publish_request(text)
    assert refused.value.status == 400


def test_an_upload_status_reads_from_its_literal_form() -> None:
    status = parse_upload_status(
        '{"version": 1, "case": "' + "0" * 32 + '", "state": "uploading", "files": '
        '[{"name": "endoscope.mkv", "size": 10, "received": 4}]}')
    assert status.state is UploadState.UPLOADING and status.missing == 6
    with pytest.raises(LibraryError, match="more than the size"):
        parse_upload_status('{"version": 1, "case": "' + "0" * 32 + '", "state": "stored", '
                            '"files": [{"name": "a", "size": 1, "received": 2}]}')


def test_a_case_summary_goes_there_and_back() -> None:
    summary = CaseSummary(
        id="0123456789abcdef" * 2, title="Lap chole", hospital="Zepu", procedure="Chole",
        date=dt.date(2026, 3, 1),
        started_at=dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        duration=3600.5, participants=(Participant(Role.SURGEON, "Dr Li"),),
        chapters=(("Calot's triangle", 312.5),), sources=("Endoscope",), audio=True,
        problems=(), collections=("hospital:zepu", "everyone"),
        files=(FileEntry("endoscope.mkv", 10, SHA),), thumbnail=True,
        published_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), publisher="Dr Wang")
    assert parse_case_summary(case_summary_to_json(summary)) == summary
    cases, total = parse_case_list(
        b'{"version": 1, "total": 7, "cases": []}')
    assert cases == [] and total == 7


def test_names_and_collections() -> None:
    assert case_id(b"{}") == "44136fa355b3678a1146ad16f7e8649e"
    assert check_collection("hospital:\u6cfd\u666e") == "hospital:\u6cfd\u666e"  # 泽普
    assert check_collection("*", in_token=True) == "*"
    for bad in ("*", "hospital:", "ward:3", "course:a b", "everyone "):
        with pytest.raises(LibraryError):
            check_collection(bad)
    assert check_file_name("endoscope.mkv", ["endoscope.mkv"]) == "endoscope.mkv"
    for bad in ("../manifest.json", "manifest.json", ".publication.json", "a\\b.mkv",
                "other.mkv"):
        with pytest.raises(LibraryError, match="not part of a case"):
            check_file_name(bad, ["endoscope.mkv"])
    assert parse_error(b'{"version": 1, "error": {"code": "disk-full", "message": "m"}}') == (
        "disk-full", "m")
    assert parse_error(b"<html>") is None


def test_a_case_may_hold_the_pictures_shared_during_it_and_no_other_file() -> None:
    picture = "shared-" + "0123456789abcdef" * 2
    for name in (f"{picture}.png", f"{picture}.jpg"):
        assert check_file_name(name, ["endoscope.mkv"]) == name
    for bad in (f"{picture}.gif", f"{picture}.PNG", f"{picture[:-1]}.png",
                f"{picture.upper()}.png", f"x{picture}.png", f"../{picture}.png", "scan.png"):
        with pytest.raises(LibraryError, match="pictures shared during it") as refused:
            check_file_name(bad, ["endoscope.mkv"])
        assert refused.value.code == "bad-file", bad

    def request(media: int, pictures: int) -> str:
        files = [{"name": f"v{i}.mkv", "size": 1, "sha256": SHA} for i in range(media)] + [
            {"name": f"shared-{i:032x}.png", "size": 1, "sha256": SHA}
            for i in range(pictures)]
        return json.dumps({"version": 1, "manifest": "{}", "files": files})

    assert len(parse_publish_request(request(64, 1000)).files) == 1064
    with pytest.raises(LibraryError, match="at most 64 besides the shared pictures"):
        parse_publish_request(request(65, 0))
    with pytest.raises(LibraryError, match="at most 1000 shared pictures"):
        parse_publish_request(request(1, 1001))
