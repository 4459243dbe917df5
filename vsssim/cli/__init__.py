"""The ``vsssim`` command (click + rich): ``demo`` and the teaching tools."""

from __future__ import annotations

from vsssim.cli.main import cli, main

__all__ = ["cli", "main"]
