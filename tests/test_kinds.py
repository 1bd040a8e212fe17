"""The model-kind interface and its registry: every kind states what it is and produces, keeps
its constructor arguments, and is built from (kind, kwargs) by config, checkpoints and evaluation."""

from __future__ import annotations

import pytest
import torch

from h2cm.baselines import LSTM_OUTPUT_KEYS, ConstantModel, LSTMBaseline
from h2cm.evaluation.ensemble import ensemble_constants, ensemble_static_keys, select_outputs
from h2cm.kinds import KINDS, MODEL_KINDS, MODEL_LABELS, build_model, kind_class, kind_label
from h2cm.model import H2CM
from h2cm.modelkind import ModelKind, Simulation
from h2cm.networks import LSTM_HEADS, LSTM_NAMES, NETWORK_OUTPUTS
from h2cm.schema import OUTPUT_KEYS
from h2cm.toy import toy_inputs, toy_model_statistics
from h2cm.training.checkpoint import load_model, model_payload, save_checkpoint
from h2cm.training.config import ConfigError, load_config

SIZES = {"n_static": 30, "lstm_hidden": 6, "fc_hidden": 7, "code_size": 3}


def test_registry_lists_every_kind_with_its_class_and_label():
    assert MODEL_KINDS == ("hybrid", "constant", "lstm")
    assert KINDS == {"hybrid": H2CM, "constant": ConstantModel, "lstm": LSTMBaseline}
    assert MODEL_LABELS["lstm"] == "pure LSTM baseline"
    assert kind_label("constant") == "process model with constant parameters (model: constant)"
    for name, cls in KINDS.items():
        assert issubclass(cls, ModelKind) and cls.kind == name and kind_class(name) is cls
    with pytest.raises(ValueError, match="unknown model kind 'gru'; known: hybrid, constant, lstm"):
        build_model("gru")


def test_kinds_state_their_outputs_and_process_model():
    assert H2CM.outputs == ConstantModel.outputs == OUTPUT_KEYS
    assert LSTMBaseline.outputs == LSTM_OUTPUT_KEYS
    assert H2CM.has_process_model and ConstantModel.has_process_model and not LSTMBaseline.has_process_model
    models = [build_model("lstm", **SIZES)] * 2
    assert select_outputs(models) == LSTM_OUTPUT_KEYS
    assert ensemble_static_keys(models) == () and ensemble_constants(models) == {}
    with pytest.raises(ValueError, match=r"pure LSTM baseline \(model: lstm\) does not predict rh"):
        select_outputs(models, ["gpp", "rh"])


def test_init_kwargs_are_the_constructor_arguments_each_kind_uses():
    # fc_hidden is kept as given, not read back from a weight's size
    assert build_model("hybrid", **SIZES).init_kwargs() == SIZES
    assert build_model("constant", **SIZES).init_kwargs() == {"n_static": 30}
    assert build_model("lstm", **SIZES).init_kwargs() == {"n_static": 30, "lstm_hidden": 6}
    m = build_model("hybrid", **SIZES)
    m.init_kwargs()["fc_hidden"] = 1  # a copy
    assert m.init_kwargs()["fc_hidden"] == 7


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path, kind):
    torch.manual_seed(0)
    forcing, static = toy_inputs(12, 3, seed=1)
    model = build_model(kind, **{**SIZES, "n_static": static.shape[1]})
    model.set_normalization(*toy_model_statistics(forcing, static))
    payload = model_payload(model)
    assert payload["kind"] == kind and payload["model_kwargs"] == model.init_kwargs()
    save_checkpoint(tmp_path / "best.pt", payload)
    loaded = load_model(tmp_path / "best.pt")
    assert type(loaded) is type(model) and loaded.init_kwargs() == model.init_kwargs()
    with torch.no_grad():
        a, b = model(forcing, static).outputs, loaded(forcing, static).outputs
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoints_written_before_the_registry_still_load(tmp_path):
    # the payload the earlier code wrote: kind, the kwargs it reconstructed, weights
    model = H2CM(n_static=4, lstm_hidden=5, fc_hidden=6, code_size=2)
    old = {
        "kind": "hybrid",
        "model_kwargs": {"n_static": 4, "lstm_hidden": 5, "fc_hidden": 6, "code_size": 2},
        "model_state": model.state_dict(),
    }
    save_checkpoint(tmp_path / "old.pt", old)
    loaded = load_model(tmp_path / "old.pt")
    assert loaded.coupling.b1.numel() == 6 and loaded.init_kwargs()["fc_hidden"] == 6
    save_checkpoint(
        tmp_path / "lstm.pt",
        {
            "kind": "lstm",
            "model_kwargs": {"n_static": 4, "lstm_hidden": 5},
            "model_state": LSTMBaseline(4, 5).state_dict(),
        },
    )
    assert load_model(tmp_path / "lstm.pt").hidden == 5


def test_config_model_is_validated_against_the_registry():
    assert load_config("demo", ["model=constant"]).model == "constant"
    with pytest.raises(ConfigError, match="model: .*unknown model kind 'gru'; known: hybrid, constant, lstm"):
        load_config("demo", ["model=gru"])


def test_lstm_simulation_has_no_process_model_parts():
    forcing, static = toy_inputs(8, 2, seed=0)
    sim = build_model("lstm", **{**SIZES, "n_static": static.shape[1]})(forcing, static)
    assert isinstance(sim, Simulation) and sim.static is None and sim.constants is None
    assert len(sim.state) == 2  # LSTM (h, c)
    hybrid = build_model("hybrid", **{**SIZES, "n_static": static.shape[1]})(forcing, static, outputs="loss")
    assert hybrid.static is not None and hybrid.constants is not None


def test_head_table_matches_the_networks_outputs():
    for name, (i, j, act) in LSTM_HEADS.items():
        assert NETWORK_OUTPUTS[LSTM_NAMES[i]][j] == (name, act)
    assert len(LSTM_HEADS) == sum(len(NETWORK_OUTPUTS[n]) for n in LSTM_NAMES) == 7
