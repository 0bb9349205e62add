"""docs/protocol.md is what third parties code against: its JSON examples must be valid."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from surgery_teach.protocol import (
    ErrorCode,
    parse_client,
    parse_server,
    serialize,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
EXAMPLES = re.findall(r"```json\n(.*?)\n```", DOC.read_text(encoding="utf-8"), re.DOTALL)
CLIENT_TYPES = {"join", "leave", "signal", "ping", "publish", "chat"}


def test_the_document_has_examples() -> None:
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_json_example_is_a_valid_v1_object(example: str) -> None:
    obj = json.loads(example)
    if "v" not in obj:
        if "kind" in obj:  # signal data, shown on its own
            wrapped = json.dumps({"v": 1, "type": "signal", "to": "p-1", "data": obj})
            parse_client(wrapped)
        else:  # the /healthz body
            assert set(obj) == {"status", "rooms", "participants", "version"}
        return
    # signal and chat go both ways; the server's carry "from"
    is_client = obj["type"] in CLIENT_TYPES and "from" not in obj
    message = parse_client(example) if is_client else parse_server(example)
    assert json.loads(serialize(message)) == obj  # and it is in canonical form
    assert serialize(message) == example


def test_every_message_type_has_an_example() -> None:
    types = {json.loads(example).get("type") for example in EXAMPLES}
    server_types = {"welcome", "joined", "left", "pong", "error", "updated", "chat-history"}
    assert CLIENT_TYPES | server_types <= types


def test_every_error_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in ErrorCode:
        assert f"| `{code.value}` |" in text
