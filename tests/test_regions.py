"""The TransCom-3 land regions, looked up on the shipped 1-degree map."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import xarray as xr

from h2cm.data.regions import MAP_RESOURCE, REGION_CODES, REGION_NAMES, REGIONS, region_code, region_index, region_map


@pytest.mark.parametrize(
    ("lat", "lon", "number"),
    [
        (65.0, -150.0, 1),  # Alaska
        (38.5, -98.0, 2),  # Kansas
        (-5.0, -60.0, 3),  # central Amazon
        (-35.0, -62.0, 4),  # Argentine Pampas
        (13.0, 2.0, 5),  # the Sahel
        (-22.0, 24.0, 6),  # Kalahari, Botswana
        (-13.0, 28.0, 6),  # Zambian miombo
        (60.0, 100.0, 7),  # central Siberia
        (47.0, 103.0, 8),  # Mongolia
        (22.0, 78.0, 8),  # central India: the TransCom-3 map puts the Indian subcontinent in Eurasian Temperate
        (15.0, 101.0, 9),  # Thailand
        (0.0, 114.0, 9),  # Borneo
        (-30.0, 145.0, 10),  # south-eastern Australia
        (48.85, 2.35, 11),  # Paris
        (0.0, -140.0, 0),  # open Pacific
        (-80.0, 0.0, 0),  # Antarctica
        (72.0, -40.0, 0),  # Greenland (not optimised in TransCom-3)
    ],
)
def test_known_places(lat, lon, number):
    assert int(region_index(lat, lon)) == number


def test_longitude_conventions_agree():
    lat, lon = np.meshgrid(np.arange(-89.75, 90.0, 0.5), np.arange(-179.75, 180.0, 0.5), indexing="ij")
    ref = region_index(lat, lon)
    np.testing.assert_array_equal(region_index(lat, lon % 360.0), ref)
    np.testing.assert_array_equal(region_index(lat, lon + 720.0), ref)
    # Alaska at 212.3 E = 147.7 W
    assert region_index(64.8, 212.3) == region_index(64.8, -147.7) == 1


def test_cell_edges_go_north_and_east():
    m = region_map()
    lat, lon = np.meshgrid(np.arange(-90.0, 90.0), np.arange(-180.0, 180.0), indexing="ij")
    np.testing.assert_array_equal(region_index(lat, lon), m)  # edges belong to the cell north-east of them
    np.testing.assert_array_equal(region_index(lat, lon + 360.0), m)
    np.testing.assert_array_equal(region_index(90.0, np.arange(-179.5, 180.0)), m[-1])  # the pole: the top row
    np.testing.assert_array_equal(region_index(lat[:, 0], 180.0), region_index(lat[:, 0], -180.0))


def test_broadcasting_and_bad_input():
    lat = np.array([[-5.0], [60.0], [48.85]])  # (3, 1)
    lon = np.array([-60.0, 100.0, 2.35])  # (3,)
    out = region_index(lat, lon)
    assert out.shape == (3, 3)
    np.testing.assert_array_equal(np.diag(out), [3, 7, 11])
    assert region_index(-5.0, -60.0).shape == ()
    np.testing.assert_array_equal(region_index([np.nan, -5.0, 91.0, -5.0], [-60.0, np.nan, -60.0, -60.0]), [0, 0, 0, 3])


def test_map_ships_with_the_package():
    resource = resources.files("h2cm.data").joinpath(*MAP_RESOURCE)
    assert resource.is_file()
    with resources.as_file(resource) as path:
        assert "/work/shared" not in str(path)
        with xr.open_dataset(path) as ds:
            assert ds["region"].dtype == np.int8
            assert ds["region"].shape == (180, 360)
            np.testing.assert_array_equal(ds["region"].values, region_map())
            assert "Gurney" in ds.attrs["references"]
            assert "wombat-v2-workflow" in ds.attrs["source"]
            names = ds["region"].attrs["flag_meanings"].split()[1:]
    assert [n.replace("_", " ") for n in names] == [name for _, name in REGIONS]


def test_every_region_has_cells():
    counts = np.bincount(region_map().ravel().astype(np.int64), minlength=12)
    assert counts.shape == (12,)
    assert (counts[1:] > 100).all()
    assert region_map().min() == 0 and region_map().max() == 11


def test_codes_and_names():
    assert len(REGIONS) == len(REGION_CODES) == len(REGION_NAMES) == 11
    assert region_code(1) == "NABo" and region_code(11) == "Euro"
    assert REGION_NAMES["EABo"] == "Eurasian Boreal"
