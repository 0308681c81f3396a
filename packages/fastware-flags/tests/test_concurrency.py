"""Writers in several processes: every override survives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

WRITER = """
import sys
from fastware_flags import FeatureFlags
flags = FeatureFlags(overrides_path=sys.argv[1])
for i in range(int(sys.argv[3])):
    flags.set_override(f"{sys.argv[2]}{i}", i % 2 == 0)
"""


def test_concurrent_writers_in_processes_lose_no_flag(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), prefix, "60"])
        for prefix in ("a", "b", "c")
    ]
    assert [writer.wait(60) for writer in writers] == [0, 0, 0]
    stored = json.loads(path.read_text())
    assert len(stored) == 180
    assert all(stored[f"{p}{i}"] is (i % 2 == 0) for p in "abc" for i in range(60))
