"""The hybrid model: fast path vs plain path, chunking, spin-up, guidance, gradients, robustness."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from h2cm.aggregate import month_index, monthly_mean
from h2cm.model import H2CM, ModelState
from h2cm.model_plain import plain_forward
from h2cm.networks import GUIDED_INPUTS, NETWORK_OUTPUTS
from h2cm.schema import FORCING_KEYS, LOSS_OUTPUT_KEYS, OUTPUT_KEYS
from h2cm.toy import toy_inputs, toy_model_statistics

torch.set_flush_denormal(True)


def _model(seed: int = 0, days: int = 60, cells: int = 8, **kw):
    torch.manual_seed(seed)
    forcing, static = toy_inputs(days, cells, seed=seed)
    model = H2CM(n_static=static.shape[1], **kw)
    model.set_normalization(*toy_model_statistics(forcing, static))
    return model, forcing, static


def _loss(sim):
    o = sim.outputs
    return o["gpp"].square().mean() + o["et"].mean() + o["nee"].square().mean() + o["tws"].std(0).mean()


def _random_state(model: H2CM, cells: int, seed: int) -> ModelState:
    g = torch.Generator().manual_seed(seed)
    st = model.initial_state(cells)
    return ModelState(
        swe=torch.rand(cells, generator=g) * 50,
        sm=torch.rand(cells, generator=g) * 80,
        gw=torch.rand(cells, generator=g) * 300,
        fapar=torch.rand(cells, generator=g),
        npp=torch.rand(cells, generator=g) * 3,
        h=torch.randn(st.h.shape, generator=g) * 0.3,
        c=torch.randn(st.c.shape, generator=g) * 0.3,
    )


def test_fast_path_equals_plain_path_outputs():
    model, forcing, static = _model(days=90)
    with torch.no_grad():
        fast = model(forcing, static, outputs="all")
        plain = plain_forward(model, forcing, static, outputs="all")
    assert set(fast.outputs) == set(OUTPUT_KEYS)
    for key in OUTPUT_KEYS:
        a, b = fast.outputs[key], plain.outputs[key]
        assert a.shape == (90, 8)
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-5 * (1 + b.abs().max().item())), key
    for a, b in zip(fast.state, plain.state, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("chunk_days", [None, 365, 13])
def test_fast_path_gradients_equal_plain_path(chunk_days):
    model, forcing, static = _model(days=50)
    _loss(plain_forward(model, forcing, static, outputs="loss")).backward()
    ref = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    _loss(model(forcing, static, outputs="loss", chunk_days=chunk_days)).backward()
    for name, p in model.named_parameters():
        scale = ref[name].abs().max().item()
        assert torch.allclose(p.grad, ref[name], rtol=1e-4, atol=1e-4 * scale + 1e-12), name


def test_chunked_recomputation_equals_storing_everything():
    model, forcing, static = _model(days=40)
    sims = {}
    grads = {}
    for chunk in (None, 7):
        model.zero_grad()
        sim = model(forcing, static, outputs="loss", chunk_days=chunk)
        _loss(sim).backward()
        sims[chunk] = {k: v.detach() for k, v in sim.outputs.items()}
        grads[chunk] = {n: p.grad.clone() for n, p in model.named_parameters()}
    for key in LOSS_OUTPUT_KEYS:  # equal to float32 rounding (vectorised pow differs in the last bit)
        assert torch.allclose(sims[None][key], sims[7][key], rtol=1e-6, atol=1e-6), key
    for name in grads[None]:  # sums over days in another order: float32 rounding of the largest entry
        scale = grads[None][name].abs().max().item()
        assert torch.allclose(grads[None][name], grads[7][name], rtol=1e-5, atol=1e-6 * scale), name


def test_two_chunks_with_carried_state_equal_one_run():
    model, forcing, static = _model(days=80)
    with torch.no_grad():
        whole = model(forcing, static, spinup=False)
        first = model(forcing[:30], static, spinup=False)
        second = model(forcing[30:], static, state=first.state, spinup=False)
    for key in OUTPUT_KEYS:
        joined = torch.cat([first.outputs[key], second.outputs[key]])
        assert torch.allclose(joined, whole.outputs[key], rtol=1e-6, atol=1e-6), key
    for a, b in zip(second.state, whole.state, strict=True):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-6)


def test_spinup_changes_initial_state_and_outputs():
    model, forcing, static = _model(days=60)
    with torch.no_grad():
        sp, code = model.static_parameters(static)
        init = model.initial_state(static.shape[0])
        spun = model.spinup(forcing, sp, code, model.constants(), init)
        with_spin = model(forcing, static, spinup=True)
        without = model(forcing, static, spinup=False)
    assert not torch.allclose(spun.sm, init.sm) and not torch.allclose(spun.h, init.h)
    assert (spun.gw > 0).any()
    assert not torch.allclose(with_spin.outputs["sm"][0], without.outputs["sm"][0])
    # the spun-up run starts where the spin-up ended: day 0 of the run continues from `spun`
    with torch.no_grad():
        manual = model(forcing, static, state=spun, spinup=False)
    assert torch.equal(manual.outputs["gpp"], with_spin.outputs["gpp"])


def test_loss_output_mode_is_a_subset_of_all():
    model, forcing, static = _model(days=30)
    with torch.no_grad():
        full = model(forcing, static, outputs="all")
        loss = model(forcing, static, outputs="loss")
        some = model(forcing, static, outputs=["rh", "alpha_t"])
    assert tuple(loss.outputs) == LOSS_OUTPUT_KEYS
    assert tuple(some.outputs) == ("rh", "alpha_t")
    for key in LOSS_OUTPUT_KEYS:
        assert torch.equal(loss.outputs[key], full.outputs[key])
    assert torch.equal(some.outputs["rh"], full.outputs["rh"])
    with pytest.raises(ValueError, match="unknown output variable"):
        model(forcing, static, outputs=["gpp", "not_a_var"])


# which day-0 outputs each network produces
NETWORK_PARAMS = {net: tuple(name for name, _ in outs) for net, outs in NETWORK_OUTPUTS.items()}
FORCING_POS = {k: i for i, k in enumerate(FORCING_KEYS)}


@pytest.mark.parametrize("changed", ["rn", "prec", "tair", "vpd", "co2", "sm", "swe", "gw", "fapar", "npp"])
def test_guided_inputs(changed):
    """Changing an input leaves the day's outputs of every network that does not list it unchanged,
    and changes those of (at least one) network that does."""
    model, forcing, static = _model(days=3)
    state = _random_state(model, static.shape[0], 1)
    forcing2, state2 = forcing.clone(), state
    if changed in FORCING_POS:
        forcing2[0, :, FORCING_POS[changed]] = forcing2[0, :, FORCING_POS[changed]] * 1.7 + 3.0
        name = changed
    else:
        field = {"sm": "sm", "swe": "swe", "gw": "gw", "fapar": "fapar", "npp": "npp"}[changed]
        value = getattr(state, field)
        state2 = state._replace(**{field: value * 0.5 + 0.2 * (1 if field != "sm" else 10)})
        name = {"sm": "sm_rel", "swe": "swe", "gw": "gw", "fapar": "fapar_prev", "npp": "npp_prev"}[changed]
    with torch.no_grad():
        a = model(forcing, static, state=state, spinup=False).outputs
        b = model(forcing2, static, state=state2, spinup=False).outputs
    seen_by = [net for net, inputs in GUIDED_INPUTS.items() if name in inputs]
    assert seen_by, name
    for net, params in NETWORK_PARAMS.items():
        same = all(torch.equal(a[p][0], b[p][0]) for p in params)
        if net in seen_by:
            assert not same, f"{net} should react to {name}"
        else:
            assert same, f"{net} must not see {name}"


def test_gradients_of_monthly_gpp_et_nee_loss_reach_every_weight_and_constant():
    """A loss on monthly GPP and ET reaches every network weight and beta_co2, beta_snow and
    beta_baseflow; Q10 acts only through Rh, so NEE is added for it."""
    days = pd.date_range("2001-01-01", periods=120, freq="D")
    months = pd.date_range("2001-01-01", periods=4, freq="MS")
    dm = torch.as_tensor(month_index(days, months))
    model, forcing, static = _model(days=120)
    forcing[:20, :, FORCING_POS["tair"]] -= 25.0  # some snow so beta_snow matters
    sim = model(forcing, static, outputs="loss", chunk_days=40)
    gpp = monthly_mean(sim.outputs["gpp"], dm, 4)
    et = monthly_mean(sim.outputs["et"], dm, 4)
    nee = monthly_mean(sim.outputs["nee"], dm, 4)
    (gpp.square().mean() + et.square().mean() + nee.square().mean()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"no gradient reaches {name}"
    # guided: masked input weights get exactly zero gradient
    assert torch.all(model.lstms.w_in.grad[model.lstms.in_mask.expand_as(model.lstms.w_in) == 0] == 0)
    assert torch.all(model.coupling.w1.grad[model.coupling.in_mask.expand_as(model.coupling.w1) == 0] == 0)


def test_gpp_et_loss_alone_reaches_all_but_q10():
    model, forcing, static = _model(days=60)
    forcing[:20, :, FORCING_POS["tair"]] -= 25.0
    sim = model(forcing, static, outputs="loss")
    (sim.outputs["gpp"].mean() + sim.outputs["et"].mean()).backward()
    assert model.constants.raw_q10.grad.item() == 0.0
    for name in ("raw_beta_co2", "raw_beta_snow", "raw_beta_baseflow"):
        assert getattr(model.constants, name).grad.abs().item() > 0, name


@pytest.mark.slow
def test_random_weight_forwards_over_extremes_stay_finite_and_physical():
    """1,000 (weights, forcing) combinations over extreme forcing: 100 random weight draws
    (including saturating scales) x 10 forcing draws each, the 10 draws side by side as cells."""
    g = torch.Generator().manual_seed(7)
    days, cells, draws = 8, 24, 10
    model = H2CM()
    params = list(model.parameters())
    base = [p.detach().clone() for p in params]
    for i in range(100):
        scale = (0.1, 1.0, 5.0, 20.0)[i % 4]
        with torch.no_grad():
            for p, b in zip(params, base, strict=True):
                p.copy_(torch.randn(b.shape, generator=g) * scale * (b.abs().mean() + 0.05))
            model.lstms.w_in.mul_(model.lstms.in_mask)
        forcing = torch.cat([_extreme_forcing(days, cells, g, corners=(j == 5)) for j in range(draws)], dim=1)
        static = torch.randn(cells * draws, 30, generator=g) * 3
        with torch.no_grad():
            o = model(forcing, static, spinup=(i % 5 == 0)).outputs
        for key, v in o.items():
            assert torch.isfinite(v).all(), (i, key)
        assert (o["swe"] >= 0).all() and (o["sm"] >= 0).all() and (o["gw"] >= 0).all(), i
        smmax = model.static_parameters(static)[0].smmax
        assert (o["sm"] <= smmax * (1 + 1e-6)).all(), i


def _extreme_forcing(days: int, cells: int, g: torch.Generator, corners: bool) -> torch.Tensor:
    """Random forcing over (and beyond) the world's range; ``corners``: the first 8 cells at the
    hottest-wettest-brightest and the coldest-driest-darkest corners every day."""
    tc = -50 + 100 * torch.rand(days, cells, generator=g)
    rain = torch.where(torch.rand(days, cells, generator=g) < 0.5, 300 * torch.rand(days, cells, generator=g), 0)
    forcing = torch.stack(
        [
            -150 + 550 * torch.rand(days, cells, generator=g),
            rain,
            tc + 273.15,
            100 * torch.rand(days, cells, generator=g),
            280 + 500 * torch.rand(days, cells, generator=g),
        ],
        dim=-1,
    )
    if corners:
        forcing[:, :4] = torch.tensor([400.0, 300.0, 273.15 + 50, 100.0, 800.0])
        forcing[:, 4:8] = torch.tensor([-150.0, 0.0, 273.15 - 50, 0.0, 280.0])
    return forcing


def test_daily_water_balance_of_model_outputs():
    model, forcing, static = _model(days=100, cells=16)
    with torch.no_grad():
        o = model(forcing, static, spinup=True).outputs
    tws = o["tws"].double()
    lhs = (o["snowfall"] + o["rainfall"])[1:].double()
    rhs = (o["et"] + o["runoff"])[1:].double() + (tws[1:] - tws[:-1])
    assert torch.all((lhs - rhs).abs() <= 1e-4 + 1e-5 * (tws[1:] + lhs)), (lhs - rhs).abs().max()


def test_normalisation_statistics_are_saved_with_weights(tmp_path):
    model, forcing, static = _model(days=10)
    sd = model.state_dict()
    for name in ("forcing_mean", "forcing_std", "static_mean", "static_std"):
        assert name in sd
    torch.save(sd, tmp_path / "w.pt")
    fresh = H2CM()
    fresh.load_state_dict(torch.load(tmp_path / "w.pt"))
    assert torch.equal(fresh.forcing_mean, model.forcing_mean)
    with torch.no_grad():
        assert torch.equal(fresh(forcing, static).outputs["gpp"], model(forcing, static).outputs["gpp"])


def test_bad_input_shapes_give_clear_errors():
    model, forcing, static = _model(days=10)
    with pytest.raises(ValueError, match=r"forcing: expected shape \(days, cells, 5\)"):
        model(forcing[..., :4], static)
    with pytest.raises(ValueError, match="static: expected shape"):
        model(forcing, static[:, :10])
    with pytest.raises(ValueError, match="forcing_std: expected 5 values"):
        model.set_normalization([0] * 5, [1] * 4, [0] * 30, [1] * 30)


@pytest.mark.parametrize("kind", ["hybrid", "constant", "lstm"])
def test_models_run_on_another_device_without_cpu_tensors(kind):
    # the "meta" device has no data: any tensor the code makes on the CPU by accident (a constant,
    # a buffer, an initial state) meets the meta tensors in an operation and raises. A proxy for
    # "the same code runs on CUDA" on machines without a GPU.
    from h2cm.kinds import build_model
    from h2cm.toy import toy_inputs, toy_model_statistics

    forcing, static = toy_inputs(20, 4, seed=0)
    model = build_model(kind, n_static=static.shape[1])
    model.set_normalization(*toy_model_statistics(forcing, static))
    model, forcing, static = model.to("meta"), forcing.to("meta"), static.to("meta")
    sim = model(forcing, static, outputs="loss", chunk_days=7)
    loss = sum(v.mean() for v in sim.outputs.values())
    loss.backward()
    assert all(p.grad is not None and p.grad.device.type == "meta" for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        assert all(v.device.type == "meta" for v in model(forcing, static, outputs="all").outputs.values())
