"""plancycle: the yearly provincial IT / digital-transformation planning cycle, run on Prefect."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("plancycle")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
