"""`pytest conformance/` loads the suite's plugin from here (hooks and fixtures live in plugin.py).

A star import of the plugin's `__all__`: a non-root conftest may not use `pytest_plugins`, and naming
every hook and fixture twice would let the two lists drift apart.
"""

from conformance.plugin import *  # noqa: F403
