"""The bundled synthetic sample (``sample_data/standard``) and the generator that made it."""

from __future__ import annotations

from pathlib import Path

STANDARD_DIR = Path(__file__).resolve().parent / "standard"
