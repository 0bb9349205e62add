"""Choosing video sources, microphone and speaker, with a live preview and sound checks."""
