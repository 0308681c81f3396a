"""fastware-errorlog against real Granian servers, real processes and a real browser.

A package so that mypy names its modules ``errorlog.*``.
"""
