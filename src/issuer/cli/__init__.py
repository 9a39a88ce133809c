"""The command line's parts: the terminal console, ``logs``, ``token`` and the config reloader."""
