"""fastware-server against real Granian processes: the library and the ``fastware`` CLI."""
