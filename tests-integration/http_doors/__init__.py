"""HTTP behaviour of a fastware app through both doors (RSGI and ASGI) of a real Granian.

A package (not a bare directory) so that mypy names this conftest ``http_doors.conftest``
instead of ``conftest``, which the packages' own test suites already use.
"""
