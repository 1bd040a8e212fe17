"""A NetCDF from ``h2cm predict`` passes the CF checker (cfchecker 4.1) with no error and no warning.

cfchecker needs the udunits2 C library and three XML tables: the standard-name table shipped in
the compliance-checker wheel, and the area-type and region-name tables (which the outputs do not
use), written here as empty tables so that nothing is downloaded. The test skips when the
checker cannot run (extra ``cf`` not installed, or no udunits2).
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import xarray as xr

from eval_fixtures import make_cube, make_run
from h2cm.evaluation.predict import predict

pytestmark = pytest.mark.slow


def _checker_tables(tmp: Path) -> list[str]:
    try:
        import cfchecker.cfchecks  # noqa: F401  (imports cfunits, which loads udunits2)

        names = resources.files("compliance_checker") / "data" / "cf-standard-name-table.xml"
    except Exception as err:  # noqa: BLE001 - ImportError, OSError (no udunits2), ...
        pytest.skip(f"the CF checker cannot run here: {err}")
    if not names.is_file():
        pytest.skip("no CF standard-name table in the compliance-checker package")
    args = ["-s", str(names)]
    for flag, table in (("-a", "area_type_table"), ("-r", "standardized_region_list")):
        path = tmp / f"{table}.xml"
        body = "<version_number>0</version_number><date>2021-01-01</date>"
        path.write_text(f'<?xml version="1.0"?><{table}>{body}</{table}>')
        args += [flag, str(path)]
    return args


def _cfchecks(path: Path, tables: list[str]) -> tuple[int, int, str]:
    code = "import sys; from cfchecker.cfchecks import main; sys.argv = ['cfchecks', *sys.argv[1:]]; main()"
    res = subprocess.run([sys.executable, "-c", code, *tables, str(path)], capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    errors = re.search(r"ERRORS detected: (\d+)", out)
    warnings = re.search(r"WARNINGS given: (\d+)", out)
    assert errors and warnings, out[-3000:]
    return int(errors.group(1)), int(warnings.group(1)), out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cf")
    cube = make_cube(base / "cube.zarr", years=(2001, 2001), truth=False)
    return cube, make_run(base / "run", cube)


@pytest.mark.parametrize("monthly", [False, True], ids=["daily", "monthly"])
def test_predict_netcdf_passes_the_cf_checker(tiny_run, tmp_path, monthly):
    tables = _checker_tables(tmp_path)
    _, run = tiny_run
    out = predict(run, tmp_path / "p.nc", period="2001-01-01:2001-03-31", monthly=monthly, threads=1, progress=False)
    n_err, n_warn, text = _cfchecks(out, tables)
    assert (n_err, n_warn) == (0, 0), text[-3000:]
    assert "non-standard way" not in text  # no global 'coordinates' attribute
    with xr.open_dataset(out) as ds:  # the bounds are still there and still decode
        assert ds["time"].attrs["bounds"] == "time_bnds" and "time_bnds" in ds
        assert ds["time_bnds"].dtype.kind == "M" and "_FillValue" not in ds["lat_bnds"].encoding
        assert ds.attrs["Conventions"] == "CF-1.8"
