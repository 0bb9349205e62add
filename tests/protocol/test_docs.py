"""docs/protocol.md is what third parties code against: its JSON examples must be valid."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from pathlib import Path

import pytest

from surgery_teach.annotations import (
    Add,
    Anchor,
    Arrow,
    Clear,
    ClearScope,
    Freeze,
    Remove,
    Undo,
    Unfreeze,
    Update,
    may,
    op_to_json,
    parse_op,
)
from surgery_teach.protocol import (
    ErrorCode,
    Role,
    parse_client,
    parse_server,
    serialize,
)
from surgery_teach.protocol.limits import Limits
from surgery_teach.rtc.layer_note import parse_note
from surgery_teach.sharing.transfer import parse_text as parse_share_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLES = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
CLIENT_TYPES = {
    "join", "leave", "signal", "ping", "publish", "chat", "annotate", "grant-draw", "remove",
    "record", "chapter", "privacy", "class-mode", "share", "share-resume", "share-stop",
}
OP_NAMES = {"add", "update", "remove", "clear", "undo", "redo", "freeze", "unfreeze", "anchor",
            "poses"}
SHAPE_KINDS = {"pen", "arrow", "line", "ellipse", "rect", "text", "pointer"}


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_json_example_is_a_valid_v1_object(example: str) -> None:
    obj = json.loads(example)
    if "op" in obj and "type" not in obj:  # an annotation op, shown on its own
        op = parse_op(example)
        text = json.dumps(op_to_json(op), ensure_ascii=False, separators=(",", ":"))
        assert text == example  # and it is in canonical form
        return
    if "v" not in obj:
        if obj.get("kind") == "layer":  # a layer note on the stills channel (8.y)
            note = parse_note(example)
            assert note is not None and json.loads(note.to_json()) == obj
        elif "kind" in obj:  # signal data, shown on its own
            wrapped = json.dumps({"v": 1, "type": "signal", "to": "p-1", "data": obj})
            parse_client(wrapped)
        else:  # the /healthz body
            assert set(obj) == {"status", "rooms", "participants", "version"}
        return
    if str(obj.get("kind", "")).startswith("share"):  # the shares channel (8.s)
        control = parse_share_text(example)
        assert control.text() == example  # and it is in canonical form
        return
    # signal and chat go both ways; the server's carry "from"
    is_client = obj["type"] in CLIENT_TYPES and "from" not in obj
    message = parse_client(example) if is_client else parse_server(example)
    assert json.loads(serialize(message)) == obj  # and it is in canonical form
    assert serialize(message) == example


def test_every_message_type_has_an_example() -> None:
    types = {json.loads(example).get("type") for example in EXAMPLES}
    server_types = {"welcome", "joined", "left", "pong", "error", "updated", "chat-history"}
    server_types |= {"annotation", "annotations", "recording"}
    assert CLIENT_TYPES | server_types <= types


def test_every_annotation_op_and_shape_kind_has_an_example() -> None:
    ops = [json.loads(example) for example in EXAMPLES if '"op":"' in example]
    ops += [json.loads(example)["op"] for example in EXAMPLES if '"type":"annotate"' in example]
    assert {op["op"] for op in ops if "type" not in op} >= OP_NAMES
    assert {op["shape"]["kind"] for op in ops if "shape" in op} >= SHAPE_KINDS


def test_the_permissions_table_matches_the_rules() -> None:
    """Section 8.3 against :func:`surgery_teach.annotations.may`, row by row."""
    me, other = "p-me", "p-other"
    mark = Arrow(
        id="a",
        author=me,
        source="L",
        colour="#ff0000",
        width=0.004,
        start=(0.1, 0.1),
        end=(0.5, 0.5),
    )
    rows = {
        "draw and point (`add`), change your own marks (`update`)": [
            (Add(mark), None),
            (Update(mark), me),
        ],
        "remove your own mark, `clear` `mine`, `undo`, `redo`": [
            (Remove("a", author=me), me),
            (Clear(ClearScope.MINE, "L", author=me), None),
            (Undo(me), None),
        ],
        "remove someone else's mark": [(Remove("a", author=me), other)],
        "`clear` `all` (everyone's marks)": [(Clear(ClearScope.ALL, "L", author=me), None)],
        "change (`update`) someone else's mark": [(Update(mark), other)],
        "`freeze`, `unfreeze`": [
            (Freeze("L", 1.0, author=me), None),
            (Unfreeze("L", author=me), None),
        ],
        "`anchor` your own mark to the tissue": [(Anchor("a", True, author=me), me)],
        "`anchor` someone else's mark": [(Anchor("a", True, author=me), other)],
    }
    table = DOC.read_text(encoding="utf-8").split("### 8.3 Who may do what")[1]
    for action, cases in rows.items():
        line = next(row for row in table.splitlines() if row.startswith(f"| {action} |"))
        cells = [cell.strip() for cell in line.strip("|").split("|")[1:]]
        for role, cell in zip(Role, cells, strict=True):
            for op, author in cases:
                granted = may(role, op, trainee_granted=True, shape_author=author)
                refused = not may(role, op, trainee_granted=False, shape_author=author)
                expected = {"yes": (True, False), "no": (False, True)}.get(cell, (True, True))
                assert (granted, refused) == expected, (action, role, cell)


def test_every_error_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"| `{code.value}` |" in text


def test_the_per_client_limits_table_gives_the_defaults() -> None:
    limits = Limits()
    table = DOC.read_text(encoding="utf-8").split("Per client, each with its default")[1]
    rows = {
        "messages per connection": (
            f"{limits.message_burst} at once, then {limits.messages_per_second:g} a second"
        ),
        "connections per IP address": f"{limits.connections_per_address} open",
        "opening handshake (TLS and websocket)": f"{limits.open_timeout:g} s",
        "idle connection (no message or websocket ping received)": f"{limits.idle_timeout:g} s",
        "messages queued for a client that does not read": (
            f"{limits.send_buffer_bytes // 2**20} MiB"
        ),
    }
    for what, default in rows.items():
        assert f"| {what} | {default} |" in table


def test_every_handshake_status_is_documented() -> None:
    section = DOC.read_text(encoding="utf-8").split("### 1.1 Authentication")[1]
    for status in HTTPStatus(400), HTTPStatus(401), HTTPStatus(403), HTTPStatus(429):
        assert f"| `{status.value} {status.phrase}` |" in section
