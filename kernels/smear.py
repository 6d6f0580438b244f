"""Parametric detector smearing of generator-level particles (Delphes-like, simplified).

Each particle is treated by the sub-detector that would measure it:

* charged particles (hadrons, electrons, muons) in the tracker, within
  :math:`|\\eta| < \\eta^{\\rm trk}_{\\max}` and above :math:`p_T^{\\rm trk}_{\\min}`,
  kept with probability ``track_eff`` (``muon_eff`` for muons) and their
  momentum scaled so that

  .. math:: \\frac{\\sigma(p_T)}{p_T} = a \\oplus b\\,p_T

  (direction and mass kept);
* photons in the electromagnetic calorimeter and neutral hadrons in the
  hadronic one, within :math:`|\\eta| < \\eta^{\\rm cal}_{\\max}`; so are charged
  hadrons and electrons without a track (outside the tracker, below its
  :math:`p_T` threshold, or lost to its efficiency), which come out neutral
  (``calo`` True: pid 130 or 22, charge 0), as a particle-flow detector sees
  them; all with

  .. math:: \\frac{\\sigma(E)}{E} = \\frac{s}{\\sqrt{E}} \\oplus c

  and their direction moved to the centre of their calorimeter cell
  (square cells of the given size in :math:`(\\eta, \\phi)`); they come out
  massless;
* neutrinos, muons without a track (a muon leaves little in the calorimeters) and
  everything outside the calorimeters are dropped.

Randomness is deterministic: event ``i`` draws from a generator seeded with a hash
of ``seed`` and ``first + i`` (:func:`event_seed`), so results do not depend on the number of threads,
and (with ``first`` the entry of the first event) not on how a file is cut
into chunks either.

Example::

    px2, py2, pz2, e2, keep, calo = smear_kernel(
        px, py, pz, e, charge, pid, offsets, params, 42, entries
    )
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .checks import check_offsets
from .fourvec import eta as _eta
from .fourvec import phi_std, pt

__all__ = ["DEFAULT_PARAMS", "PARAM_NAMES", "event_seed", "smear_kernel"]

#: Order of the entries of the ``params`` array.
PARAM_NAMES = (
    "track_eta_max",
    "track_pt_min",
    "track_eff",
    "muon_eff",
    "track_a",
    "track_b",
    "calo_eta_max",
    "ecal_stochastic",
    "ecal_constant",
    "hcal_stochastic",
    "hcal_constant",
    "ecal_cell",
    "hcal_cell",
    "calo_e_min",
)
#: LHC-like defaults (CMS-like tracker and calorimeters).
DEFAULT_PARAMS = np.array(
    [2.5, 0.5, 0.95, 0.98, 0.005, 1.5e-4, 5.0, 0.03, 0.005, 1.0, 0.05, 0.0174, 0.087, 0.5]
)


@numba.njit(cache=True)
def _cell_centre(x: float, size: float) -> float:
    return (math.floor(x / size) + 0.5) * size


@numba.njit(cache=True)
def event_seed(seed: int, number: int) -> int:
    """The generator seed of event ``number`` under ``seed`` (both ≥ 0): SplitMix64's
    mixing of ``seed * φ·2**64 + number``, reduced below 2**32 - 1. Neighbouring
    seeds or entries give unrelated streams (``seed * 1000003 + number`` gave seed 1,
    entry 0 the stream of seed 0, entry 1000003)."""
    x = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(number)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    x = x ^ (x >> np.uint64(31))
    return np.int64(x % np.uint64(4294967295))


@numba.njit(cache=True, parallel=True)
def smear_kernel(
    px: np.ndarray,
    py: np.ndarray,
    pz: np.ndarray,
    e: np.ndarray,
    charge: np.ndarray,
    pid: np.ndarray,
    offsets: np.ndarray,
    params: np.ndarray,
    seed: int,
    numbers: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Smeared four-momenta, a keep mask and a mask of the charged particles measured
    by the calorimeters alone (``calo``), shapes ``(n,)``, for events given by
    ``offsets``; event ``ev`` draws from a generator seeded with ``seed`` (at most
    2**32) and its number ``numbers[ev]`` (its entry in the file, ≥ 0)."""
    n = px.shape[0]
    check_offsets(offsets, n, (py.shape[0], pz.shape[0], e.shape[0], charge.shape[0], pid.shape[0]))
    if numbers.shape[0] != offsets.shape[0] - 1:
        raise ValueError("numbers: one entry per event needed")
    opx = np.zeros(n)
    opy = np.zeros(n)
    opz = np.zeros(n)
    oe = np.zeros(n)
    keep = np.zeros(n, dtype=np.bool_)
    calo = np.zeros(n, dtype=np.bool_)
    trk_eta, trk_ptmin, trk_eff, mu_eff, ta, tb = (
        params[0],
        params[1],
        params[2],
        params[3],
        params[4],
        params[5],
    )
    cal_eta, es, ec, hs, hc, ecell, hcell, emin = (
        params[6],
        params[7],
        params[8],
        params[9],
        params[10],
        params[11],
        params[12],
        params[13],
    )
    n_events = offsets.shape[0] - 1
    for ev in numba.prange(n_events):
        np.random.seed(event_seed(seed, numbers[ev]))
        for i in range(offsets[ev], offsets[ev + 1]):
            a = abs(pid[i])
            if a == 12 or a == 14 or a == 16:
                continue
            ppt = pt(px[i], py[i])
            eta = _eta(px[i], py[i], pz[i])
            tracked = False
            if charge[i] != 0:
                eff = mu_eff if a == 13 else trk_eff
                if abs(eta) < trk_eta and ppt >= trk_ptmin and np.random.random() < eff:
                    tracked = True
                    sigma = math.sqrt(ta * ta + (tb * ppt) ** 2)
                    scale = 1.0 + sigma * np.random.standard_normal()
                    if scale <= 0.0:
                        continue
                    m2 = e[i] * e[i] - px[i] * px[i] - py[i] * py[i] - pz[i] * pz[i]
                    m2 = m2 if m2 > 0.0 else 0.0
                    opx[i] = px[i] * scale
                    opy[i] = py[i] * scale
                    opz[i] = pz[i] * scale
                    oe[i] = math.sqrt(opx[i] ** 2 + opy[i] ** 2 + opz[i] ** 2 + m2)
                    keep[i] = True
                elif a == 13:
                    continue  # (no track, no muon: a muon leaves little in the calorimeters)
            if not tracked:  # neutrals, and charged particles without a track
                if abs(eta) >= cal_eta:
                    continue
                if a == 22 or a == 11:
                    stoch, const, cell = es, ec, ecell
                else:
                    stoch, const, cell = hs, hc, hcell
                energy = e[i]
                if energy <= 0.0:
                    continue
                sigma = math.sqrt(stoch * stoch / energy + const * const)
                e_new = energy * (1.0 + sigma * np.random.standard_normal())
                if e_new < emin:
                    continue
                ceta = _cell_centre(eta, cell)
                cphi = _cell_centre(phi_std(px[i], py[i]), cell)
                pt_new = e_new / math.cosh(ceta)
                opx[i] = pt_new * math.cos(cphi)
                opy[i] = pt_new * math.sin(cphi)
                opz[i] = pt_new * math.sinh(ceta)
                oe[i] = e_new
                keep[i] = True
                calo[i] = charge[i] != 0
    return opx, opy, opz, oe, keep, calo
