"""omsx core: settings, the error tree, logging and the embedded servers.

The product's code lives in the owners' top-level packages (``messages``,
``contracts``, ``workers``, ``storage``, ``admin``); this package holds only what
every one of them needs.
"""

from __future__ import annotations

__version__ = "0.1.0"
