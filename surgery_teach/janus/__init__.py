"""Talking to the Janus media server (VideoRoom) that carries classes of many viewers.

:mod:`.messages` and :mod:`.videoroom` are the wire format as plain data;
:mod:`.session` is the WebSocket session (the only I/O); :mod:`.participant` is what a
client does in a class room (publish its layers, subscribe and switch between them).
The signaling server's side (configuration, admin API, which room for whom) lives in
``signaling_server.media_server``.
"""
