"""Recording in the live session: the model behind Record and Chapter, its widgets and dialog."""
