"""h2cm: the hybrid hydrological-carbon cycle model (H2CM) in PyTorch."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("h2cm")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
