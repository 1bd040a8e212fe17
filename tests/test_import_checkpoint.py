"""h2cm import-checkpoint: the authors' checkpoints (rebuilt in tests/authors_layout.py) converted
to h2cm weights reproduce the authors'-layout forward; errors name the key or variable."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
import xarray as xr

from authors_layout import AUTHORS_NPP0, authors_model, lightning_checkpoint
from h2cm.cli import main
from h2cm.data.cube import load_cells, open_cube
from h2cm.data.import_h2cm import import_h2cm
from h2cm.evaluation.rundir import RunDir
from h2cm.model import INITIAL_NPP
from h2cm.model_plain import plain_forward
from h2cm.networks import GUIDED_INPUTS, input_names
from h2cm.reference.convert import read_authors_checkpoint
from h2cm.reference.layout import (
    AUTHORS_INPUTS,
    CheckpointLayoutError,
    authors_input_names,
    check_state_dict,
    convert_state_dict,
    expected_shapes,
)
from h2cm.schema import OUTPUT_KEYS
from h2cm.toy import toy_inputs, toy_model_statistics
from h2cm.training.store_stats import input_statistics

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}


def _max_rel_diff(a: dict, b: dict, keys) -> dict[str, float]:
    return {k: float((a[k] - b[k]).abs().max() / (1.0 + b[k].abs().max())) for k in keys}


def _float32_stats(forcing, static):
    return tuple(s.float() for s in toy_model_statistics(forcing.float(), static.float()))


def test_the_layout_names_every_input_once_and_matches_guidance():
    names = input_names(12)
    for net, order in AUTHORS_INPUTS.items():
        assert set(order) == set(GUIDED_INPUTS[net]), net
        cols = authors_input_names(net, 12)
        assert len(set(cols)) == len(cols) and set(cols) <= set(names)
    m = authors_model()
    assert expected_shapes(check_state_dict(m.state_dict())) == {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert INITIAL_NPP == AUTHORS_NPP0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_converted_checkpoint_reproduces_the_authors_forward(tmp_path, dtype):
    forcing, static = toy_inputs(150, 12, seed=3)
    forcing, static = forcing.to(dtype), static.to(dtype)
    stats = _float32_stats(forcing, static)  # their statistics are float32 tensors
    authors = authors_model(seed=1, dtype=dtype)
    torch.save(lightning_checkpoint(authors, k=4), tmp_path / "epoch=41.ckpt")
    sd, hp = read_authors_checkpoint(tmp_path / "epoch=41.ckpt")
    assert hp["k"] == 4
    model = convert_state_dict(sd, *stats)
    assert model.forcing_mean.dtype == dtype
    theirs = authors.simulate(forcing.transpose(0, 1), static, stats)
    with torch.no_grad():
        fast = model(forcing, static, outputs="all").outputs
        plain = plain_forward(model, forcing, static, outputs="all").outputs
    for ours in (fast, plain):
        diff = _max_rel_diff(ours, theirs, OUTPUT_KEYS)
        print(dtype, "max difference / (1 + max |value|):", f"{max(diff.values()):.3g}", max(diff, key=diff.get))
        assert max(diff.values()) < TOL[dtype], diff
    assert theirs["gpp"].abs().max() > 0.1 and theirs["swe"].max() > 1.0  # the comparison saw real fluxes


def test_bare_state_dict_and_lightning_classes_that_are_not_installed(tmp_path):
    fake = types.ModuleType("fake_lightning_utils")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__, AttributeDict.__qualname__ = fake.__name__, "AttributeDict"
    fake.AttributeDict = AttributeDict
    sys.modules[fake.__name__] = fake
    try:
        ckpt = lightning_checkpoint(authors_model(), k=7)
        ckpt["hyper_parameters"] = AttributeDict(ckpt["hyper_parameters"])
        torch.save(ckpt, tmp_path / "a.ckpt")
    finally:
        del sys.modules[fake.__name__]
    sd, hp = read_authors_checkpoint(tmp_path / "a.ckpt")
    assert hp["k"] == 7 and check_state_dict(sd).lstm_hidden == 100
    torch.save(authors_model().state_dict(), tmp_path / "b.pt")
    assert read_authors_checkpoint(tmp_path / "b.pt")[1] == {}


def test_layout_errors_name_the_key():
    sd = authors_model().state_dict()
    with pytest.raises(CheckpointLayoutError, match="unknown key 'model.extra'"):
        check_state_dict({**sd, "model.extra": torch.zeros(1)})
    bad = dict(sd)
    bad["lstm_fc_cue_fapar.fc.weight"] = torch.zeros(3, 100)
    with pytest.raises(CheckpointLayoutError, match=r"'lstm_fc_cue_fapar.fc.weight': shape \(3, 100\), expected"):
        check_state_dict(bad)
    bad = {k: v for k, v in sd.items() if k != "beta_q10"}
    with pytest.raises(CheckpointLayoutError, match="missing key 'beta_q10'"):
        check_state_dict(bad)


# --- the command on a cube imported from a store in the published layout ------------------------


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    from test_data_import import write_h2cm_store

    root = tmp_path_factory.mktemp("store")
    write_h2cm_store(root / "h2cm.zarr")
    return import_h2cm(root / "h2cm.zarr", root / "cube.zarr")


def _ckpts(tmp_path, folds=(2, 5), n_static=30):
    paths = []
    for k in folds:
        paths.append(tmp_path / f"10_cv_fold{k + 1}.ckpt")
        torch.save(lightning_checkpoint(authors_model(seed=k, n_static=n_static), k=k), paths[-1])
    return paths


@pytest.mark.slow
def test_import_checkpoint_writes_a_run_that_predict_uses(cube, tmp_path, capsys):
    ckpts = _ckpts(tmp_path)
    run = tmp_path / "run"
    assert main(["import-checkpoint", *map(str, ckpts), "--cube", str(cube), "--out", str(run)]) == 0
    rd = RunDir.open(run)
    assert rd.folds == [2, 5] and rd.config["split"]["method"] == "reference"
    assert rd.config["normalization"] == "store" and rd.split["method"] == "reference"
    cells = load_cells(open_cube(cube))
    stats = input_statistics(open_cube(cube))
    assert float(stats[0][2]) > 273.15  # the store held degC; the cube (and its statistics) K
    # the test store's CO2 is constant (std 0): h2cm z-scores it with std 1, the authors' code would
    # divide by zero (docs/reference.md); the published store's CO2 varies
    stats = tuple(torch.where(s > 0, s, torch.ones_like(s)) if i % 2 else s for i, s in enumerate(stats))
    out = tmp_path / "pred.zarr"
    assert main(["predict", "--run", str(run), "--cells", "all", "--out", str(out), "--quiet"]) == 0
    pred = xr.open_zarr(out)
    li, lj = np.nonzero(open_cube(cube)["land_mask"].values == 1)
    for pos, k in enumerate(rd.folds):
        theirs = authors_model(seed=k).simulate(cells.forcing.transpose(0, 1), cells.static, stats)
        for key in ("gpp", "et", "tws", "nee", "fapar"):
            ours = torch.as_tensor(pred[f"{key}_fold"].isel(fold=pos).values[:, li, lj])
            err = float((ours - theirs[key]).abs().max() / (1 + theirs[key].abs().max()))
            assert err < 1e-5, (k, key, err)


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown key", "unknown key 'extra.weight'"),
        ("wrong shape", "'fc_static.fc3.bias': shape"),
        ("missing statistics", "variable 'vpd' of the cube has no attribute 'h2cm_std'"),
        (
            "static features",
            "the cube's variable 'static' has 30 features; the checkpoint's fc_static.fc1.weight reads 29",
        ),
        ("same fold twice", "fold 2 appears twice"),
    ],
)
def test_mismatch_is_one_line_exit_2_and_writes_nothing(cube, tmp_path, capsys, case, message):
    ckpts = _ckpts(tmp_path, folds=(2,), n_static=29 if case == "static features" else 30)
    if case in ("unknown key", "wrong shape"):
        ck = torch.load(ckpts[0], weights_only=True)
        if case == "unknown key":
            ck["state_dict"]["extra.weight"] = torch.zeros(2)
        else:
            ck["state_dict"]["fc_static.fc3.bias"] = torch.zeros(3)
        torch.save(ck, ckpts[0])
    if case == "same fold twice":
        ckpts = ckpts * 2
    use = cube
    if case == "missing statistics":
        ds = open_cube(cube).load()
        del ds["vpd"].attrs["h2cm_std"]
        use = tmp_path / "cube_nostats.zarr"
        ds.to_zarr(use, consolidated=False)
    run = tmp_path / "run"
    code = main(["import-checkpoint", *map(str, ckpts), "--cube", str(use), "--out", str(run)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and message in err[0], err
    assert err[0].startswith("h2cm import-checkpoint: error:")
    assert not run.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".run")]


def test_a_fold_trained_with_store_normalization_uses_the_cubes_statistics(cube, tmp_path):
    from h2cm.training.config import load_config
    from h2cm.training.folds import load_fold_data
    from h2cm.training.trainer import FoldTrainer

    overrides = [f"data.cube={cube}", "data.start=null", "data.end=null", "normalization=store"]
    overrides += ["split.method=h2cm", "split.block_deg=1", "split.n_folds=2", "split.test_fraction=0"]
    overrides += ["network.lstm_hidden=8", "network.fc_hidden=8", "train.compile=false", "progress=false"]
    cfg = load_config("paper", overrides)
    data = load_fold_data(cfg, 0, tmp_path)
    trainer = FoldTrainer(cfg, 0, tmp_path / "fold_0", data.train, data.val)
    fm, fs, sm, ss = input_statistics(open_cube(cube))
    model = trainer.model
    assert torch.equal(model.forcing_mean, fm) and torch.equal(model.static_std, ss)
    assert torch.equal(model.forcing_std, torch.where(fs > 0, fs, torch.ones_like(fs)))  # constant CO2: std 1
    gpp = open_cube(cube)["gpp"].attrs
    assert trainer.stats.mean["gpp"] == pytest.approx(gpp["h2cm_mean"]) and trainer.stats.mean["tws"] == 0.0
    assert trainer.stats.std["gpp"] == pytest.approx(gpp["h2cm_std"])
