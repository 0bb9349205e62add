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
    EncryptedShareError("referral.pdf: wrong password", "/tmp/referral.pdf",
                        password_given=True),
    EncryptedShareError("referral.pdf: a certificate", "/tmp/referral.pdf",
                        password_helps=False),
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


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: f"{type(p).__name__}-{p}")
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


def test_a_password_problem_says_which_one_in_every_language() -> None:
    """Needed, wrong and unusable passwords are three different sentences, translated
    (English too: the dialog's field is what to act on, not the core's wording)."""
    needed, wrong, unusable = PROBLEMS[1:4]
    try:
        for language in ("en", "ru", "zh_CN"):
            set_language(language)
            texts = {share_problem(p) for p in (needed, wrong, unusable)}
            assert len(texts) == 3 and all("referral.pdf" in t for t in texts)
        set_language("en")
        assert share_problem(wrong).startswith("This password does not open referral.pdf")
        assert "press Open" in share_problem(needed)
        assert "unprotected copy" in share_problem(unusable)
    finally:
        set_language("en")
