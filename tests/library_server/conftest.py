from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from library_server.config import LibraryConfig
from tests.library_server.helpers import SECRET, Certificate, LibraryThread, make_certificate
from tests.library_server.postgres import PostgresCluster
from tests.recording.cases import recorded_case


@pytest.fixture
def certificate(tmp_path: Path) -> Certificate:
    return make_certificate(tmp_path)


@pytest.fixture
def library(tmp_path: Path, certificate: Certificate) -> Iterator[LibraryThread]:
    """A library over TLS on 127.0.0.1:0 with an empty data folder."""
    running = LibraryThread(LibraryConfig(
        data_dir=tmp_path / "library", secret=SECRET, port=0, cert_file=certificate.cert,
        key_file=certificate.key, min_free_bytes=0))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL cluster for the run (skipped, saying why, if none can run)."""
    cluster = PostgresCluster()
    if cluster.why_not:
        pytest.skip(cluster.why_not)
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A case folder really recorded by the project's recorder (two sources and audio)."""
    return recorded_case(tmp_path)
