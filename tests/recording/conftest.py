from tests.encoded import encoded_frames, encoder  # noqa: F401  (fixtures)
