"""The exchange formats (exchange.md): pure readers, writers and checks, no I/O to servers.

- :mod:`contracts.filenames`    the file-name grammar of §3 (parties, types, kinds, L and V names)
- :mod:`contracts.participants` the participant registry (who exists, role, active) and its seed
- :mod:`contracts.protocol`     the FLK protocol of §5 (codes, problems, render and parse)
- :mod:`contracts.archive`      ZIP safety: limits, member checks, the guarded member reader
- :mod:`contracts.xmlscan`      XML safety and record counting in one streaming pass
- :mod:`contracts.package`      every package-level check of §3 (codes 801–808, 901) in order

Errors come from :mod:`omsx.errors`: names raise ``FileNameError``, package checks
answer with a :class:`~contracts.protocol.Problem` (``PackageRejected`` carries one).
"""

from __future__ import annotations
