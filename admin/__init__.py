"""The operators' side: the Litestar admin app and the ``omsx`` command line."""
