"""Suite-wide settings.

Under CI (``CI`` set) Hypothesis runs derandomized, so a run is reproducible from the
commit alone; elsewhere every run explores new examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
