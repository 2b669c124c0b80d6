"""The exchange formats (exchange.md): pure readers, writers and checks, no I/O to servers.

- :mod:`contracts.filenames`    the file-name grammar of §3 (parties, types, kinds, L and V names)
- :mod:`contracts.participants` the participant registry (who exists, role, active) and its seed
- :mod:`contracts.protocol`     the FLK protocol of §5 (codes, problems, render and parse)
- :mod:`contracts.archive`      ZIP safety: limits, member checks, the guarded member reader
- :mod:`contracts.xmlscan`      XML safety and record counting in one streaming pass
- :mod:`contracts.package`      every package-level check of §3 (codes 801–808, 901) in order
- :mod:`contracts.formats`      our XSD per kind and version (``schemas/``), found by type + VERSION
- :mod:`contracts.records`      records as typed dicts, the shape every rule reads
- :mod:`contracts.filecheck`    one file, streaming: per-record XSD (901–903), keys (905), hooks
- :mod:`contracts.schemaerrors` libxml2 errors → positioned protocol lines
- :mod:`contracts.parallel`     the same check of a large file on a process per core
- :mod:`contracts.rules`        the rule catalogue of §6 (``catalogue.toml``) and its checks
- :mod:`contracts.refs`         reference directories (seed, federal loader, ICD-10)
- :mod:`contracts.flk`          FLK of a whole package → the protocol and the refused records
- :mod:`contracts.privacy`      which elements carry personal data (never echoed)
- :mod:`contracts.generator`    consistent synthetic packages of every kind, with planted defects

Errors come from :mod:`omsx.errors`: names raise ``FileNameError``, package checks
answer with a :class:`~contracts.protocol.Problem` (``PackageRejected`` carries one).
"""

from __future__ import annotations
