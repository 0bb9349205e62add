"""A class across a border in the lab: a second Janus gets the room once (remote publishers).

``sudo .venv/bin/python -m bench.janus_cascade`` (root, the network lab) runs
docs/media-server.md §1: Janus A in the data centre with the surgeon's client publishing
its layers and voice; Janus B at a site "abroad"; the surgeon's feed added on B with
``add_remote_publisher`` and forwarded from A with ``publish_remotely`` (SRTP, a key made
for the forward); a viewer at a third site watches through Janus B only. Prints the
viewer's frame rate and stamp->decoded delay through the two Janus hops, as JSON.

The steps are subcommands too (each prints one JSON line), so they can be run by hand:

* ``room --config-dir DIR --names a,b``: where that Janus runs (its admin API is on
  loopback), make a class room and a token for each name; prints room id, secret, tokens;
* ``streams --config-dir DIR --room-id N --token T``: the publishers in the room and
  their streams (type, mindex, mid, codec, description), as a participant sees them;
* ``add-remote --config-dir B --room-id N --secret S --streams JSON --iface IP --key K``;
* ``publish-remotely --config-dir A --room-id N --secret S --feed F --host IP --port P
  --rtcp-port R --key K``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from signaling_server.media_server.config_dir import read_access
from surgery_teach.janus.messages import VIDEOROOM, Credentials, plugin_data
from surgery_teach.janus.session import JanusSession
from surgery_teach.janus.videoroom import join_as_publisher

API_PORT = 8188
SRTP_SUITE = 80


def _api(config_dir: Path) -> tuple[str, str, str]:
    access = read_access(config_dir)
    return access.api_url, access.secrets.api_secret, access.secrets.room_admin_key


async def make_room(config_dir: Path, names: list[str]) -> dict[str, Any]:
    from signaling_server.media_server.room_control import MediaServerControl
    from signaling_server.media_server.rooms import ClassRooms

    secret = secrets.token_hex(24)
    rooms = ClassRooms(bitrate=3_000_000, publishers=3, new_secret=lambda: secret)
    tokens, room_id = {}, 0
    async with await MediaServerControl.connect(read_access(config_dir)) as control:
        for name in names:
            grant, commands = rooms.admit("cascade", name)
            await control.carry_out(commands)
            tokens[name], room_id = grant.token, grant.room_id
    return {"room_id": room_id, "secret": secret, "tokens": tokens}


async def streams(config_dir: Path, room_id: int, token: str) -> dict[str, Any]:
    url, _, _ = _api(config_dir)
    async with await JanusSession.connect(url, Credentials(token=token)) as janus:
        handle = await janus.attach(VIDEOROOM)
        reply = await handle.request(join_as_publisher(room_id, "cascade", token))
        publishers = plugin_data(reply).get("publishers") or []
    return {"publishers": [{"id": p["id"], "display": p.get("display", ""),
                            "streams": p.get("streams", [])} for p in publishers]}


async def _videoroom(config_dir: Path, body: dict[str, Any]) -> dict[str, Any]:
    url, api_secret, _ = _api(config_dir)
    async with await JanusSession.connect(url, Credentials(api_secret=api_secret)) as janus:
        handle = await janus.attach(VIDEOROOM)
        return plugin_data(await handle.request(body))


async def add_remote(config_dir: Path, room_id: int, secret: str, publisher: dict[str, Any],
                     iface: str, key: str) -> dict[str, Any]:
    remote_streams = [{key_: s[key_] for key_ in ("type", "mindex", "mid", "codec",
                                                  "description") if key_ in s}
                      for s in publisher["streams"] if not s.get("disabled")]
    return await _videoroom(config_dir, {
        "request": "add_remote_publisher", "room": room_id, "secret": secret,
        "display": publisher["display"], "iface": iface, "port": 0,
        "srtp_suite": SRTP_SUITE, "srtp_crypto": key, "streams": remote_streams})


async def publish_remotely(config_dir: Path, room_id: int, secret: str, feed: int,
                           host: str, port: int, rtcp_port: int, key: str) -> dict[str, Any]:
    _, _, admin_key = _api(config_dir)
    return await _videoroom(config_dir, {
        "request": "publish_remotely", "room": room_id, "secret": secret,
        "admin_key": admin_key, "publisher_id": feed, "remote_id": "abroad",
        "host": host, "port": port, "rtcp_port": rtcp_port,
        "srtp_suite": SRTP_SUITE, "srtp_crypto": key})


def new_key() -> str:
    """An SRTP master key and salt (30 bytes), base64 as SDES carries it."""
    return base64.b64encode(os.urandom(30)).decode("ascii")


# -- the lab demo ---------------------------------------------------------------------------

def _step(lab: Any, ns: str, run_dir: Path, name: str, *args: str) -> dict[str, Any]:
    from bench.netlab.commands import in_namespace
    from bench.netlab.processes import PYTHON, LabProcess, lab_env

    process = LabProcess.start(lab, name, in_namespace(ns, [
        PYTHON, "-m", "bench.janus_cascade", *args]), run_dir, env=lab_env(run_dir))
    if process.wait(120) != 0:
        raise RuntimeError(f"{name} failed: {process.tail(10)}")
    result: dict[str, Any] = json.loads(process.tail(1))
    return result


def demo(run_dir: Path, seconds: float) -> dict[str, Any]:
    from bench.janus_class import peers_command, peers_env, start_janus
    from bench.netlab.commands import in_namespace
    from bench.netlab.processes import PYTHON, LabProcess, lab_env
    from bench.netlab.topology import DC_IP, Lab, Nat

    with Lab([("or", Nat.NONE), ("abroad", Nat.NONE), ("hall", Nat.NONE)]) as lab:
        janus_a, config_a = start_janus(lab, run_dir)
        abroad = lab.sites["abroad"]
        config_b = run_dir / "janus-b"
        janus_b = LabProcess.start(lab, "media-server-b", in_namespace(abroad.lan_ns, [
            PYTHON, "-m", "signaling_server", "media-server", "--config-dir",
            str(config_b), "--listen", abroad.lan_ip, "--port", str(API_PORT), "--start"]),
            run_dir, env=lab_env(run_dir))
        if not janus_b.wait_for("media server ready", 60):
            raise RuntimeError(f"Janus B did not start: {janus_b.tail(10)}")
        room_a = _step(lab, lab.dc_ns, run_dir, "room-a", "room", "--config-dir",
                       str(config_a), "--names", "surgeon,cascade")
        room_b = _step(lab, abroad.lan_ns, run_dir, "room-b", "room", "--config-dir",
                       str(config_b), "--names", "viewer")
        surgeon = LabProcess.start(lab, "surgeon", in_namespace(lab.sites["or"].lan_ns,
            peers_command("surgeon", room_a["room_id"], "--size", "640x360",
                          "--bitrate", "1500000")),
            run_dir, env=peers_env(run_dir, [room_a["tokens"]["surgeon"]]))
        if not surgeon.wait_for('{"published"', 60):
            raise RuntimeError(f"the surgeon did not publish: {surgeon.tail(10)}")
        found = _step(lab, lab.dc_ns, run_dir, "streams", "streams", "--config-dir",
                      str(config_a), "--room-id", str(room_a["room_id"]),
                      "--token", room_a["tokens"]["cascade"])
        [publisher] = found["publishers"]
        key = new_key()
        added = _step(lab, lab.dc_ns, run_dir, "add-remote", "add-remote", "--config-dir",
                      str(config_b), "--room-id", str(room_b["room_id"]), "--secret",
                      room_b["secret"], "--publisher", json.dumps(publisher),
                      "--iface", abroad.lan_ip, "--key", key)
        forwarded = _step(lab, lab.dc_ns, run_dir, "publish-remotely", "publish-remotely",
                          "--config-dir", str(config_a), "--room-id",
                          str(room_a["room_id"]), "--secret", room_a["secret"],
                          "--feed", str(publisher["id"]), "--host", abroad.lan_ip,
                          "--port", str(added["port"]), "--rtcp-port",
                          str(added.get("rtcp_port", 0)), "--key", key)
        # the viewer talks to Janus B only
        viewer = LabProcess.start(lab, "viewer-b", in_namespace(lab.sites["hall"].lan_ns, [
            PYTHON, "-m", "bench.janus_class_peers", "viewer", "--api-url",
            f"ws://{abroad.lan_ip}:{API_PORT}", "--room-id", str(room_b["room_id"]),
            "--start-layer", "0", "--seconds", str(seconds)]), run_dir,
            env=peers_env(run_dir, [room_b["tokens"]["viewer"]]))
        status = viewer.wait(seconds + 120)
        result: dict[str, Any] = {"janus_a": DC_IP, "janus_b": abroad.lan_ip,
                                  "remote_publisher": {k: added.get(k) for k in
                                                       ("id", "port", "rtcp_port")},
                                  "forward": forwarded}
        if status == 0:
            result["viewer_through_b"] = json.loads(viewer.tail(1))["decoders"]
        else:
            result["viewer_problem"] = viewer.tail(10)
        surgeon.stop(30)
        janus_b.stop(30)
        janus_a.stop(30)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", nargs="?", default="demo",
                        choices=("demo", "room", "streams", "add-remote", "publish-remotely"))
    parser.add_argument("--config-dir", type=Path)
    parser.add_argument("--names", default="")
    parser.add_argument("--room-id", type=int, default=0)
    parser.add_argument("--token", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--publisher", default="{}")
    parser.add_argument("--iface", default="")
    parser.add_argument("--key", default="")
    parser.add_argument("--feed", type=int, default=0)
    parser.add_argument("--host", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rtcp-port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    if args.step == "room":
        result = asyncio.run(make_room(args.config_dir, args.names.split(",")))
    elif args.step == "streams":
        result = asyncio.run(streams(args.config_dir, args.room_id, args.token))
    elif args.step == "add-remote":
        result = asyncio.run(add_remote(args.config_dir, args.room_id, args.secret,
                                        json.loads(args.publisher), args.iface, args.key))
    elif args.step == "publish-remotely":
        result = asyncio.run(publish_remotely(args.config_dir, args.room_id, args.secret,
                                              args.feed, args.host, args.port,
                                              args.rtcp_port, args.key))
    else:
        with tempfile.TemporaryDirectory(prefix="janus-cascade-") as folder:
            result = demo(Path(folder), args.seconds)
    print(json.dumps(result), flush=True)
    if args.step == "demo" and "viewer_problem" in result:
        sys.exit(1)


if __name__ == "__main__":
    main()
