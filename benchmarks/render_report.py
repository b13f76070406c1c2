"""Render a run's report.html in Debian's headless Chromium and save a PNG screenshot.

    apt-get install chromium        # once
    python benchmarks/render_report.py OUT/report.html report.png

Exits non-zero if Chromium is missing, fails, or writes no image; a person then looks at the
PNG (the report has no identifying data, so the screenshot may be shared).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1200,3000",
)


def render(report: Path, png: Path) -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise SystemExit("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                report.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    if not png.exists() or png.stat().st_size < 10_000:
        raise SystemExit(f"chromium wrote no usable screenshot to {png}")
    print(f"{png} ({png.stat().st_size:,} bytes)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    render(Path(sys.argv[1]), Path(sys.argv[2]))
