"""Widgets more than one screen uses: the video view, painted marks, the media thread."""
