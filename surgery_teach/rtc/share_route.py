"""Shared pictures in a live session, peer to peer or through the signaling server.

Peer to peer (:mod:`.shares`), a picture goes on each connection's ``shares`` channel.
In class mode those connections are closed, so a picture shared then is uploaded once to
the signaling server and fetched from there by each viewer (:mod:`.server_shares`);
one already shared when the room moves into class mode is uploaded at the move. A
picture on the server stays there until its sharer stops it, shares another one peer to
peer, leaves, or loses the right to share, whatever the route does meanwhile: viewers
who hold it keep it, late joiners get it. Pictures from either path land in the same
``shares.viewing``, so a window shows them alike.
:class:`~surgery_teach.rtc.session.LiveSession` mixes this in; the attributes it reads
are the session's, declared below.
"""

from __future__ import annotations

from collections.abc import Callable

from surgery_teach.protocol.messages import ParticipantInfo
from surgery_teach.protocol.messages.classes import CLASS
from surgery_teach.protocol.roles import may_share
from surgery_teach.rtc.server_shares import ServerShares
from surgery_teach.rtc.shares import NO_RIGHT, SessionShares
from surgery_teach.rtc.signaling_link import SignalingLink
from surgery_teach.sharing.outgoing import OutgoingShare
from surgery_teach.sharing.transfer import ReceivedShare


class ShareRoute:
    """A session's shared pictures: ``shares`` (peer to peer, and every picture held)
    and ``server_shares`` (through the signaling server, in class mode)."""

    participants: dict[str, ParticipantInfo]
    _me: ParticipantInfo
    _link: SignalingLink
    _emit: Callable[..., None]
    _spawn: Callable[[object], None]
    on: Callable[..., None]
    shares: SessionShares
    server_shares: ServerShares
    in_class: bool  # ClassRoute's

    def _make_shares(self) -> None:
        """Make ``shares`` and ``server_shares`` (once the signaling link exists)."""
        self.shares = SessionShares(
            lambda who: self._emit("share", who),
            on_progress=self._share_progress, may_share=self._may_share)
        self.server_shares = ServerShares(
            self._link.send, self._link.send_binary, on_picture=self._server_picture,
            on_progress=self._share_progress, may_share=self._may_share)
        self.on("route", self._shares_follow_route)

    def share_picture(self, share: OutgoingShare) -> None:
        """Share ``share`` with everyone, replacing what we shared (on the session's loop);
        nothing without the right to share (``share-stopped`` says so)."""
        if not may_share(self._me):
            self._emit("share-stopped", NO_RIGHT)
            return
        self.shares.share(share)  # on every open shares channel (none in class mode)
        if self.in_class:
            self._spawn(self.server_shares.share(share))
        elif self.server_shares.mine is not None:  # the server's copy would be stale
            self._spawn(self.server_shares.stop())
        self._emit("share", self._me.id)

    def stop_sharing(self) -> None:
        """Stop sharing: everyone drops our picture (on the session's loop)."""
        if self.server_shares.mine is not None:
            self._spawn(self.server_shares.stop())
        if self.shares.mine is not None:
            self.shares.stop()
            self._emit("share", self._me.id)

    def _may_share(self, participant_id: str) -> bool:
        info = self.participants.get(participant_id)
        return info is not None and may_share(info)

    def _shares_follow_rights(self) -> None:
        """A share lasts only while its sharer may share (a mentor stopped a trainee's
        drawing: section 8.s); ours stops for everyone, others' we drop ourselves."""
        self.server_shares.follow_rights()
        if not may_share(self._me):
            self.server_shares.drop_mine()  # the server ended it already
        if self.shares.follow_rights(may_share(self._me)):
            self._emit("share", self._me.id)
            self._emit("share-stopped", NO_RIGHT)

    def _shares_follow_route(self, mode: str, reason: str) -> None:
        """Into class mode: ours goes to the server, the peer-to-peer channels close."""
        mine = self.shares.mine
        if mode == CLASS and mine is not None and (
                self.server_shares.mine is None
                or self.server_shares.mine.share.share_id != mine.share.share_id):
            self._spawn(self.server_shares.share(mine.share))

    def _share_progress(self, who: str, held: int, total: int) -> None:
        self._emit("share-progress", who, held, total)

    def _server_picture(self, who: str, share_id: str, picture: ReceivedShare | None) -> None:
        if picture is not None:
            self.shares.viewing[who] = picture
        elif who in self.shares.viewing and self.shares.viewing[who].share_id == share_id:
            del self.shares.viewing[who]
        else:
            return
        self._emit("share", who)
