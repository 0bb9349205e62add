"""The student library and the player of a recorded case, with clip export."""
