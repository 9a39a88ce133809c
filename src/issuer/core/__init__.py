"""Foundations every layer uses: errors, records, the directory and its throttle,
options, hashing, serving."""
