"""Share problems are said in the user's language, naming the file and the fix."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from surgery_teach.errors import (
    CorruptShareError,
    EncryptedShareError,
    ShareError,
    ShareTooLargeError,
    ShareTransferError,
    UnsupportedShareError,
)
from ui.common.share_words import share_problem
from ui.i18n import set_language

PROBLEMS = [
    ShareTooLargeError("/home/li/scans/ct.dcm", 52_900_000, 50_000_000),
    EncryptedShareError("referral.pdf is protected", "/tmp/referral.pdf"),
    CorruptShareError("ct.dcm is truncated", "/tmp/ct.dcm"),
    UnsupportedShareError("report.docx is a Word document", "/tmp/report.docx"),
    ShareTransferError("share chunk 3 failed its check"),
    ShareError("the shared picture cannot be decoded"),
]


@pytest.fixture
def russian() -> Iterator[None]:
    set_language("ru")
    yield
    set_language("en")


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: type(p).__name__)
def test_every_share_problem_is_russian_with_the_file_named(russian: None,
                                                              problem: ShareError) -> None:
    text = share_problem(problem)
    assert re.search(r"[А-Яа-яЁё]{4}", text), text
    english = re.sub(r"\S+\.(dcm|pdf|docx)|\d[\d.]*|MB|DICOM|PNG|JPEG|TIFF|PDF", "", text)
    assert not re.search(r"[A-Za-z]{3}", english), text  # no English left but names
    if problem.path:
        assert problem.path.rsplit("/", 1)[-1] in text
    if isinstance(problem, ShareTooLargeError):
        assert "52.9" in text and "50" in text
