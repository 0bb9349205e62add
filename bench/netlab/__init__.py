"""The network lab: hospitals on real (virtual) networks, in Linux network namespaces.

``python -m bench.netlab`` (as root) builds an "internet" router with a data centre
(signaling server, coturn) and one site per hospital (the county hospital that
publishes, the mentor's, a weak trainee site), shapes their links with ``tc tbf``,
drops packets with ``iptables -m statistic``, puts sites behind port-preserving or
symmetric NATs, runs the real clients in them and prints what each viewer saw.

Modules: :mod:`.topology` (namespaces, links, addresses, removal), :mod:`.links`
(shaping, loss, NAT, counters), :mod:`.coturn`, :mod:`.processes` (server, clients),
:mod:`.silent_peer`, :mod:`.scenarios`, :mod:`.report`.
"""
