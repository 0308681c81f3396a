"""Shared fixtures for the fastware meta-package tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def error_log_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep ``create_app``'s default error log out of the working directory."""
    path = tmp_path / "default-errors.db"
    monkeypatch.setenv("FASTWARE_ERROR_LOG", str(path))
    return path
