"""A PDF of a Word document through LibreOffice headless (``soffice --headless --convert-to pdf``), when
LibreOffice is installed: best effort, never required. Each conversion uses a profile folder of its own
(two conversions at once would otherwise fight over the user profile's lock) and is stopped, with every
process it started, after ``timeout`` seconds. Times New Roman is replaced by the metric-compatible
Liberation Serif when the font is not installed, so lines break as in Word."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path


def soffice() -> str | None:
    """The LibreOffice command, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def docx_to_pdf(document: Path, *, timeout: float = 120) -> Path | None:
    """``document``'s PDF next to it (same name, ``.pdf``), or ``None`` when LibreOffice is missing,
    fails or takes too long (nothing half-written is left: the PDF is renamed into place)."""
    command = soffice()
    if command is None:
        return None
    target = document.with_suffix(".pdf")
    with tempfile.TemporaryDirectory(prefix="plancycle-pdf-") as work:
        out = Path(work) / "out"
        process = subprocess.Popen(
            [
                command,
                "--headless",
                "--norestore",
                f"-env:UserInstallation=file://{Path(work) / 'profile'}",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out),
                str(document),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None
        made = out / target.name
        if process.returncode != 0 or not made.exists() or made.stat().st_size == 0:
            return None
        partial = target.with_name(f".{target.name}.partial")
        shutil.move(str(made), str(partial))
    os.replace(partial, target)
    return target
