"""Layers point one way: the core never imports Qt or the UI; the server only the wire format."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_core_imports_neither_qt_nor_ui_nor_server() -> None:
    banned = ("PyQt6", "PySide6", "qasync", "ui", "signaling_server")
    offenders = {
        path: sorted(n for n in names if n.split(".")[0] in banned)
        for path, names in imported_modules("surgery_teach").items()
    }
    assert {p: n for p, n in offenders.items() if n} == {}


def test_server_uses_only_the_protocol_from_the_core() -> None:
    offenders = {
        path: sorted(
            n for n in names
            if (n.startswith("surgery_teach") and not n.startswith(
                ("surgery_teach.protocol", "surgery_teach.wire", "surgery_teach.errors")) and n != "surgery_teach")
            or n.split(".")[0] in ("PyQt6", "aiortc", "av", "cv2", "ui")
        )
        for path, names in imported_modules("signaling_server").items()
    }
    assert {p: n for p, n in offenders.items() if n} == {}
