"""Value types every wire format shares: bounded JSON fields, error codes, roles.

A leaf of the core: the signaling messages (:mod:`surgery_teach.protocol`) and the
annotation ops (:mod:`surgery_teach.annotations`) both build on it, and it imports
neither, so the two never import each other in a circle.
"""
