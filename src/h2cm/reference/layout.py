"""The authors' H2CM parameters (github zavud/h2cm, ``models/hybrid/h2cm.py``) and their mapping
onto h2cm's :class:`~h2cm.model.H2CM` (docs/reference.md).

The authors' LightningModule holds four raw constants (``beta_snow``, ``beta_baseflow``,
``beta_q10``, ``beta_co2``), the static net ``fc_static`` (three ``nn.Linear``), the coupling net
``fc_static_wue_alpha_T`` (the same three-layer class, its first layer reading only its own
inputs) and three ``LSTMCell`` + ``nn.Linear`` heads. Every network concatenates its own inputs
in its own order (:data:`AUTHORS_INPUTS`); LSTM gates are in PyTorch's order (i, f, g, o) with two
biases. h2cm stores the three LSTMs stacked, over one shared input vector
(:func:`h2cm.networks.input_names`), with gates in the order (i, f, o, g) and one bias; so the
conversion permutes gate rows, sums the biases, transposes, and scatters each network's input
columns to the positions of its inputs in h2cm's vector (the other rows stay zero, as guidance
requires). Nothing is refitted: the converted model computes the same function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from ..model import H2CM
from ..networks import LSTM_NAMES, NETWORK_OUTPUTS, input_names


class CheckpointLayoutError(ValueError):
    """A state dict that is not the authors' H2CM layout (names the key)."""


# h2cm network -> the authors' attribute name
AUTHORS_MODULES: dict[str, str] = {
    "static": "fc_static",
    "hydrology": "lstm_fc_win_partition_smelt",
    "coupling": "fc_static_wue_alpha_T",
    "vegetation": "lstm_fc_cue_fapar",
    "soil": "lstm_fc_rb_alpha_Es",
}
# the authors' raw constant -> h2cm's (same transforms: sigmoid, sigmoid, 1 + 9 sigmoid, softplus)
AUTHORS_CONSTANTS: dict[str, str] = {
    "beta_snow": "raw_beta_snow",
    "beta_baseflow": "raw_beta_baseflow",
    "beta_q10": "raw_q10",
    "beta_co2": "raw_beta_co2",
}
# each dynamic network's inputs in the order the authors concatenate them ("code": static net units)
AUTHORS_INPUTS: dict[str, tuple[str, ...]] = {
    "hydrology": ("rn", "prec", "sm_rel", "swe", "gw", "fapar_prev", "code"),
    "coupling": ("rn", "vpd", "sm_rel", "code"),
    "vegetation": ("rn", "tair", "vpd", "co2", "sm_rel", "fapar_prev", "npp_prev", "code"),
    "soil": ("rn", "prec", "npp_prev", "fapar_prev", "code"),
}


@dataclass(frozen=True)
class Sizes:
    """Network sizes of a checkpoint (the paper's: 30 static features, 150, 12, 100)."""

    n_static: int = 30
    fc_hidden: int = 150
    code_size: int = 12
    lstm_hidden: int = 100

    def model_kwargs(self) -> dict[str, int]:
        return asdict(self)


def authors_input_names(network: str, code_size: int) -> tuple[str, ...]:
    """The authors' input columns of ``network``, the static code expanded to code0..code{n-1}."""
    out: list[str] = []
    for name in AUTHORS_INPUTS[network]:
        out += [f"code{i}" for i in range(code_size)] if name == "code" else [name]
    return tuple(out)


def expected_shapes(s: Sizes) -> dict[str, tuple[int, ...]]:
    """Every key of the authors' ``state_dict`` with its shape, for sizes ``s``."""
    shapes: dict[str, tuple[int, ...]] = {name: () for name in AUTHORS_CONSTANTS}
    for net, n_in in (("static", s.n_static), ("coupling", len(authors_input_names("coupling", s.code_size)))):
        n_out = 2
        for layer, (rows, cols) in (
            ("fc1", (s.fc_hidden, n_in)),
            ("fc2", (s.code_size, s.fc_hidden)),
            ("fc3", (n_out, s.code_size)),
        ):
            shapes[f"{AUTHORS_MODULES[net]}.{layer}.weight"] = (rows, cols)
            shapes[f"{AUTHORS_MODULES[net]}.{layer}.bias"] = (rows,)
    g = 4 * s.lstm_hidden
    for net in LSTM_NAMES:
        prefix = AUTHORS_MODULES[net]
        n_in, n_out = len(authors_input_names(net, s.code_size)), len(NETWORK_OUTPUTS[net])
        shapes[f"{prefix}.lstm_cell.weight_ih"] = (g, n_in)
        shapes[f"{prefix}.lstm_cell.weight_hh"] = (g, s.lstm_hidden)
        shapes[f"{prefix}.lstm_cell.bias_ih"] = (g,)
        shapes[f"{prefix}.lstm_cell.bias_hh"] = (g,)
        shapes[f"{prefix}.fc.weight"] = (n_out, s.lstm_hidden)
        shapes[f"{prefix}.fc.bias"] = (n_out,)
    return shapes


def _shape_of(sd: Mapping[str, object], key: str, dims: int) -> tuple[int, ...]:
    value = sd.get(key)
    if not isinstance(value, Tensor):
        raise CheckpointLayoutError(f"missing key {key!r}: not the authors' H2CM state_dict")
    if value.dim() != dims:
        raise CheckpointLayoutError(f"key {key!r}: shape {tuple(value.shape)}, expected {dims} dimensions")
    return tuple(value.shape)


def infer_sizes(sd: Mapping[str, object]) -> Sizes:
    """Network sizes from the static net and the hydrology LSTM; :func:`check_state_dict` then
    checks every other tensor against them."""
    fc_hidden, n_static = _shape_of(sd, "fc_static.fc1.weight", 2)
    code_size, _ = _shape_of(sd, "fc_static.fc2.weight", 2)
    _, hidden = _shape_of(sd, f"{AUTHORS_MODULES['hydrology']}.lstm_cell.weight_hh", 2)
    return Sizes(n_static=n_static, fc_hidden=fc_hidden, code_size=code_size, lstm_hidden=hidden)


def check_state_dict(sd: Mapping[str, object]) -> Sizes:
    """The sizes of an authors' ``state_dict``; :class:`CheckpointLayoutError` naming the first
    unknown key, missing key or wrong shape (and how many other problems there are)."""
    sizes = infer_sizes(sd)
    shapes = expected_shapes(sizes)
    problems = [f"unknown key {k!r}" for k in sd if k not in shapes]
    for key, shape in shapes.items():
        value = sd.get(key)
        if value is None:
            problems.append(f"missing key {key!r}")
        elif not isinstance(value, Tensor):
            problems.append(f"key {key!r}: not a tensor ({type(value).__name__})")
        elif tuple(value.shape) != shape:
            problems.append(f"key {key!r}: shape {tuple(value.shape)}, expected {shape}")
        elif not value.is_floating_point():
            problems.append(f"key {key!r}: dtype {value.dtype}, expected a floating-point tensor")
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise CheckpointLayoutError(f"{problems[0]}{more}; expected the authors' H2CM state_dict")
    return sizes


def _gate_order(hidden: int) -> Tensor:
    """Rows of PyTorch's (i, f, g, o) gate blocks in h2cm's order (i, f, o, g)."""
    i, f, g, o = (torch.arange(k * hidden, (k + 1) * hidden) for k in range(4))
    return torch.cat([i, f, o, g])


def _scatter_rows(cols: Tensor, network: str, s: Sizes) -> Tensor:
    """(n_inputs, n) weights: the authors' input columns ``cols`` (n, n_own) moved to the rows of
    their inputs in h2cm's shared input vector; rows of inputs the network does not read are 0."""
    names = input_names(s.code_size)
    out = cols.new_zeros(len(names), cols.shape[0])
    for p, name in enumerate(authors_input_names(network, s.code_size)):
        out[names.index(name)] = cols[:, p]
    return out


def _lstm_state(sd: Mapping[str, Tensor], s: Sizes) -> dict[str, Tensor]:
    order = _gate_order(s.lstm_hidden)
    w_in, w_h, bias, w_out, b_out = [], [], [], [], []
    n_out = max(len(NETWORK_OUTPUTS[n]) for n in LSTM_NAMES)
    for net in LSTM_NAMES:
        p = f"{AUTHORS_MODULES[net]}"
        w_in.append(_scatter_rows(sd[f"{p}.lstm_cell.weight_ih"][order], net, s))
        w_h.append(sd[f"{p}.lstm_cell.weight_hh"][order].t())
        bias.append((sd[f"{p}.lstm_cell.bias_ih"] + sd[f"{p}.lstm_cell.bias_hh"])[order].unsqueeze(0))
        head_w, head_b = sd[f"{p}.fc.weight"], sd[f"{p}.fc.bias"]
        pad = n_out - head_w.shape[0]
        w_out.append(torch.cat([head_w.t(), head_w.new_zeros(s.lstm_hidden, pad)], dim=1))
        b_out.append(torch.cat([head_b, head_b.new_zeros(pad)]).unsqueeze(0))
    return {
        "lstms.w_in": torch.stack(w_in),
        "lstms.w_h": torch.stack(w_h),
        "lstms.bias": torch.stack(bias),
        "lstms.w_out": torch.stack(w_out),
        "lstms.b_out": torch.stack(b_out),
    }


def to_h2cm_state(sd: Mapping[str, Tensor], s: Sizes) -> dict[str, Tensor]:
    """h2cm's parameters (without normalisation buffers) from a checked authors' ``state_dict``."""
    out: dict[str, Tensor] = {}
    for layer in ("fc1", "fc2", "fc3"):
        for part in ("weight", "bias"):
            out[f"static_net.{layer}.{part}"] = sd[f"fc_static.{layer}.{part}"]
    c = AUTHORS_MODULES["coupling"]
    out["coupling.w1"] = _scatter_rows(sd[f"{c}.fc1.weight"], "coupling", s)
    out["coupling.b1"] = sd[f"{c}.fc1.bias"]
    for layer in ("fc2", "fc3"):
        for part in ("weight", "bias"):
            out[f"coupling.{layer}.{part}"] = sd[f"{c}.{layer}.{part}"]
    out.update(_lstm_state(sd, s))
    for theirs, ours in AUTHORS_CONSTANTS.items():
        out[f"constants.{ours}"] = sd[theirs].reshape(())
    return out


def convert_state_dict(sd: Mapping[str, Tensor], forcing_mean, forcing_std, static_mean, static_std) -> H2CM:
    """An :class:`H2CM` (eval mode, in the checkpoint's dtype) computing what the authors' model
    with state ``sd`` computes, z-scoring with the given statistics (forcing in the order
    rn, prec, tair, vpd, co2; static in the authors' feature order)."""
    sizes = check_state_dict(sd)
    dtype = sd["fc_static.fc1.weight"].dtype
    model = H2CM(**sizes.model_kwargs()).to(dtype)
    model.set_normalization(forcing_mean, forcing_std, static_mean, static_std)
    state = {k: v.detach().to("cpu", dtype) for k, v in to_h2cm_state(sd, sizes).items()}
    model.load_state_dict({**model.state_dict(), **state}, strict=True)
    return model.eval()
