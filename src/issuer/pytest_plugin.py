"""pytest fixtures for the bundled issuer (loaded through the ``pytest11`` entry point)."""
