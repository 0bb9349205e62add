"""A room that leaves class mode while its surgeon is still handing over (the first
:data:`~surgery_teach.rtc.class_route.HANDOVER_SECONDS`): the trainee closed its
peer-to-peer connection already, the surgeon not yet, and the surgeon's side of it is
closed by then. Going back to peer to peer, the surgeon offers again rather than keep the
closed connection, so the trainee's picture arrives peer to peer. Real server and peers;
the media server is the stand-in of tests/rtc/class_stand_in.py."""

from __future__ import annotations

import pytest

from signaling_server.server import ServerConfig, start_server
from surgery_teach.capture import SyntheticSource
from surgery_teach.media.encoder import EncoderSettings, SharedEncoder
from surgery_teach.protocol.messages import Role
from surgery_teach.rtc.class_route import PEER
from surgery_teach.rtc.session import LiveSession, SessionConfig
from tests.rtc.class_stand_in import BACK_TO_PEERS, INTO_CLASS, route, use_stand_in
from tests.rtc.live import until
from tests.timing import seconds

pytestmark = pytest.mark.slow
LAP = "Laparoscope"


async def test_back_to_peers_during_the_surgeons_handover_brings_the_picture_back() -> None:
    server = await start_server(ServerConfig(port=0))
    camera = SyntheticSource(320, 180, 15, label=LAP)
    layer = SyntheticSource(160, 90, 15, label=LAP)  # what the media server brings
    encoder = SharedEncoder(camera, EncoderSettings(bitrate=300_000))
    sessions: list[LiveSession] = []
    try:
        camera.start()
        layer.start()

        async def join(name: str, role: Role, encoders: list[SharedEncoder]) -> LiveSession:
            session = await LiveSession.start(SessionConfig(
                server=server.url, room="back", name=name, role=role), encoders)
            sessions.append(session)
            return session

        surgeon = await join("Dr Wang", Role.SURGEON, [encoder])
        trainee = await join("Trainee Osh", Role.TRAINEE, [])

        def peer_frames() -> int:  # pictures the trainee received peer to peer
            return sum(r.stats.frames for r in trainee.receivers
                       if r not in trainee._class_receivers)

        await until(lambda: peer_frames() > 0, seconds(20), "the picture peer to peer")
        use_stand_in(surgeon)
        use_stand_in(trainee, surgeon.me.id, [layer])
        await route([trainee, surgeon], INTO_CLASS)
        await until(lambda: not trainee.peers, seconds(5), "the trainee's handover done")
        kept = surgeon.peers.get(trainee.me.id)
        assert kept is not None, "the surgeon's handover is over already: nothing to test"
        await until(lambda: kept.pc.connectionState == "closed", seconds(5),
                    "the surgeon's side closed by the trainee's")

        await route([trainee, surgeon], BACK_TO_PEERS)
        assert surgeon.route == PEER and trainee.route == PEER
        await until(lambda: trainee.me.id in surgeon.peers
                    and surgeon.peers[trainee.me.id] is not kept, seconds(5),
                    "a new offer from the surgeon")
        await until(lambda: peer_frames() > 0 and not trainee._class_receivers,
                    seconds(20), "the picture peer to peer again, the media server left")
        assert [r.label for r in trainee.receivers] == [LAP]
    finally:
        for session in reversed(sessions):
            await session.close()
        encoder.stop()
        camera.stop()
        layer.stop()
        await server.close()
