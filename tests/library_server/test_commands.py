"""The documented commands: start the library, print a token, publish a case from the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from surgery_teach.caselibrary.connection import LibraryConnection
from surgery_teach.caselibrary.wire import parse_case_list
from tests.library_server.helpers import REPO, SECRET, Certificate, LibraryProcess
from tests.timing import seconds


def _run(*command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=REPO, capture_output=True,
                          text=True, timeout=seconds(120), env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_a_mentor_publishes_from_the_command_line_and_a_student_finds_it(
    tmp_path: Path, certificate: Certificate, case: Path
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET + b"\n")
    made = _run("library_server", "token", "--role", "mentor", "--name", "Dr Wang",
                "--collection", "hospital:zepu", "--secret-file", str(secret_file))
    assert made.returncode == 0, made.stderr
    (tmp_path / "mentor.token").write_text(made.stdout)
    student = _run("library_server", "token", "--role", "student", "--name", "Aynur",
                   "--collection", "hospital:zepu", "--ttl", "7d",
                   env={"SURGERY_TEACH_LIBRARY_SECRET": SECRET.decode()}).stdout.strip()
    server = LibraryProcess(tmp_path / "library", secret_file, certificate)
    try:
        publish = ["surgery_teach", "publish-case", str(case), "--library", server.url,
                   "--token-file", str(tmp_path / "mentor.token"), "--ca-file",
                   str(certificate.cert)]
        first = _run(*publish)
        assert first.returncode == 0, first.stderr
        assert first.stdout.startswith('published "Laparoscopic cholecystectomy" as case ')
        assert "sending:" in first.stderr and "done: 100.0%" in first.stderr
        again = _run(*publish)
        assert again.returncode == 0 and "already in the library" in again.stdout
        with LibraryConnection(server.url, student, tls=certificate.client_context(),
                               timeout=seconds(30)) as connection:
            found, _ = parse_case_list(connection.request("GET", "/cases?chapter=dissection")[2])
        assert [c.title for c in found] == ["Laparoscopic cholecystectomy"]
    finally:
        assert server.stop() == 0


@pytest.mark.slow
def test_commands_explain_bad_input_in_one_line(tmp_path: Path, certificate: Certificate,
                                                ) -> None:
    no_case = _run("surgery_teach", "publish-case", str(tmp_path), "--library",
                   "https://127.0.0.1:9", "--token", "x")
    assert no_case.returncode == 2
    assert no_case.stderr.startswith("error: ") and "holds no manifest.json" in no_case.stderr
    bad_address = _run("surgery_teach", "publish-case", str(tmp_path), "--library",
                       "ftp://library", "--token", "x")
    assert bad_address.returncode == 2 and "not a library address" in bad_address.stderr
    secret_file = tmp_path / "secret"
    secret_file.write_bytes(SECRET)
    for args, reason in [
        ((), "no token secret"),
        (("--secret-file", str(secret_file), "--host", "0.0.0.0"), "without TLS"),
        (("--secret-file", str(secret_file), "--cert", str(tmp_path / "missing.pem")),
         "cannot load the TLS certificate"),
    ]:
        started = _run("library_server", "--data-dir", str(tmp_path / "lib"), "--port", "0",
                       *args, env={"SURGERY_TEACH_LIBRARY_SECRET": ""})
        assert started.returncode == 2, started.stderr
        assert reason in started.stderr and "Traceback" not in started.stderr
    token = _run("library_server", "token", "--role", "student", "--name", "x",
                 "--collection", "ward 3", "--secret-file", str(secret_file))
    assert token.returncode == 2 and "is not a collection" in token.stderr
