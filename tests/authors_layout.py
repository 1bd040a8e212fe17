"""The authors' H2CM layout (github zavud/h2cm, models/hybrid/h2cm.py), rebuilt for tests without
their code: the same attribute names, ``nn.LSTMCell`` / ``nn.Linear`` modules, input orders and
heads, and a day loop over them that uses h2cm's pure physics functions.

Only what a checkpoint holds and what the forward computes is reproduced; nothing is imported
from the authors' repository.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from h2cm import physics
from h2cm.physics import Constants, DailyParams, DayForcing, StaticParams, WaterState

AUTHORS_NPP0 = 1.1738447874691162  # their initial NPP (models/hybrid/common_step.py)


class ThreeLayerFC(nn.Module):
    """Their FC_Static: fc1 -> leaky ReLU -> fc2 -> leaky ReLU (the code) -> fc3 (raw outputs)."""

    def __init__(self, n_in: int, n_out: int, hidden1: int = 150, hidden2: int = 12):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden1)
        self.fc2 = nn.Linear(hidden1, hidden2)
        self.fc3 = nn.Linear(hidden2, n_out)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        code = F.leaky_relu(self.fc2(F.leaky_relu(self.fc1(x))))
        return code, self.fc3(code)


class CellAndHead(nn.Module):
    """Their LSTM_Dynamic: one LSTMCell, then a linear head on the hidden state."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 100):
        super().__init__()
        self.lstm_cell = nn.LSTMCell(n_in, hidden)
        self.fc = nn.Linear(hidden, n_out)

    def forward(self, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h, c = self.lstm_cell(x, (h, c))
        return h, c, self.fc(h)


class AuthorsH2CM(nn.Module):
    """Parameters named and shaped as in their LightningModule (``state_dict`` keys match)."""

    def __init__(self, n_static: int = 30, hidden: int = 100, fc_hidden: int = 150, code: int = 12):
        super().__init__()
        self.hidden = hidden
        self.beta_snow = nn.Parameter(torch.tensor(3.0))
        self.beta_baseflow = nn.Parameter(torch.tensor(-6.0))
        self.beta_q10 = nn.Parameter(torch.tensor(-3.0))
        self.beta_co2 = nn.Parameter(torch.tensor(-6.5))
        self.fc_static = ThreeLayerFC(n_static, 2, fc_hidden, code)
        self.lstm_fc_win_partition_smelt = CellAndHead(code + 6, 3, hidden)
        self.fc_static_wue_alpha_T = ThreeLayerFC(code + 3, 2, fc_hidden, code)
        self.lstm_fc_cue_fapar = CellAndHead(code + 7, 2, hidden)
        self.lstm_fc_rb_alpha_Es = CellAndHead(code + 4, 2, hidden)

    def initial_state(self, cells: int, dtype) -> dict[str, Tensor]:
        z = torch.zeros(cells, 1, dtype=dtype)
        hz = torch.zeros(cells, self.hidden, dtype=dtype)
        st = {"swe": z, "sm": z, "gw": z, "fapar": z, "npp": torch.full_like(z, AUTHORS_NPP0)}
        return st | {f"{x}{i}": hz for i in range(3) for x in "hc"}

    def run(self, forcing: Tensor, static: Tensor, stats, state=None):
        """forcing (cells, days, 5) as their loader gives it, static (cells, F); stats: their
        (forcing mean, forcing std, static mean, static std) as float32 tensors. Returns
        ({output: (days, cells)}, final state)."""
        fm, fs, sm_, ss = stats
        st = dict(state or self.initial_state(forcing.shape[0], forcing.dtype))
        k = Constants(
            q10=torch.sigmoid(self.beta_q10) * 9 + 1,
            beta_co2=F.softplus(self.beta_co2),
            beta_baseflow=torch.sigmoid(self.beta_baseflow),
            beta_snow=torch.sigmoid(self.beta_snow),
        )
        code, raw = self.fc_static((static - sm_) / ss)
        smmax = F.softplus(raw[:, 0:1] + 100.0) + 1.0
        sp = StaticParams(smmax[:, 0], F.softplus(raw[:, 1]))
        rows: dict[str, list[Tensor]] = {}
        for t in range(forcing.shape[1]):
            ft = forcing[:, t, :]
            z = (ft - fm) / fs
            params = self._networks(z, st, smmax, code)
            frc = DayForcing(ft[:, 0], ft[:, 1], ft[:, 2], ft[:, 4])
            old = WaterState(st["swe"][:, 0], st["sm"][:, 0], st["gw"][:, 0])
            water, fluxes = physics.day_step(old, frc, params, sp, k)
            st.update(swe=water.swe[:, None], sm=water.sm[:, None], gw=water.gw[:, None])
            st.update(fapar=params.fapar[:, None], npp=fluxes["npp"][:, None])
            for key, v in {**fluxes, **params._asdict()}.items():
                rows.setdefault(key, []).append(v)
        return {key: torch.stack(v) for key, v in rows.items()}, st

    def _networks(self, z: Tensor, st: dict[str, Tensor], smmax: Tensor, code: Tensor) -> DailyParams:
        rel = st["sm"] / smmax
        hyd = torch.cat((z[:, 0:1], z[:, 1:2], rel, st["swe"] / 100, st["gw"] / 200, st["fapar"], code), 1)
        st["h0"], st["c0"], o_h = self.lstm_fc_win_partition_smelt(hyd, st["h0"], st["c0"])
        _, o_c = self.fc_static_wue_alpha_T(torch.cat((z[:, 0:1], z[:, 3:4], rel, code), 1))
        veg = torch.cat((z[:, 0:1], z[:, 2:3], z[:, 3:4], z[:, 4:5], rel, st["fapar"], st["npp"], code), 1)
        st["h1"], st["c1"], o_v = self.lstm_fc_cue_fapar(veg, st["h1"], st["c1"])
        soil = torch.cat((z[:, 0:1], z[:, 1:2], st["npp"], st["fapar"], code), 1)
        st["h2"], st["c2"], o_s = self.lstm_fc_rb_alpha_Es(soil, st["h2"], st["c2"])
        return DailyParams(
            alpha_smelt=F.softplus(o_h[:, 0]),
            alpha_rsoil=torch.sigmoid(o_h[:, 1]),
            alpha_rgw=torch.sigmoid(o_h[:, 2]),
            alpha_t=torch.sigmoid(o_c[:, 1]),
            alpha_es=torch.sigmoid(o_s[:, 1]),
            alpha_wue=F.softplus(o_c[:, 0]),
            cue=torch.sigmoid(o_v[:, 0]),
            rb=F.softplus(o_s[:, 0]),
            fapar=torch.sigmoid(o_v[:, 1]),
        )

    def simulate(self, forcing: Tensor, static: Tensor, stats) -> dict[str, Tensor]:
        """Their prediction: a spin-up pass without gradients, then the run from its end state."""
        with torch.no_grad():
            _, end = self.run(forcing, static, stats)
            return self.run(forcing, static, stats, end)[0]


def authors_model(seed: int = 0, dtype=torch.float32, **sizes) -> AuthorsH2CM:
    """Randomly initialised (PyTorch defaults), constants moved off their initial values."""
    torch.manual_seed(seed)
    m = AuthorsH2CM(**sizes)
    with torch.no_grad():
        for name, shift in (("beta_snow", -0.7), ("beta_baseflow", 1.3), ("beta_q10", 0.8), ("beta_co2", 0.4)):
            getattr(m, name).add_(shift)
    return m.to(dtype)


def lightning_checkpoint(model: AuthorsH2CM, k: int = 0) -> dict:
    """What their Lightning trainer's ModelCheckpoint saves (the parts that matter here)."""
    return {
        "epoch": 41,
        "global_step": 2583,
        "pytorch-lightning_version": "2.0.2",
        "state_dict": model.state_dict(),
        "hyper_parameters": {"zarr_data_path": "/data/h2cm.zarr", "device": "cuda", "k": k},
    }
