"""Four-vector kinematics as small Numba functions, bit-compatible with FastJet.

Every function here is a scalar ``@numba.njit`` function: call it from other
kernels inside their particle loops, or from Python on plain floats. The
formulas and the order of floating-point operations are those of FastJet's
``PseudoJet`` (FastJet manual, arXiv:1111.6097), so that the clustering in
:mod:`hepml.kernels.cluster` sees exactly the numbers FastJet sees.

Conventions (FastJet's):

* ``phi`` is in :math:`[0, 2\\pi)`; :func:`phi_std` gives :math:`(-\\pi, \\pi]`.
* The rapidity of a massless particle along the beam (:math:`E = |p_z|`,
  :math:`p_T = 0`) is :math:`\\pm(10^5 + |p_z|)` (``MaxRap`` lifted by
  :math:`|p_z|` so that different such particles stay distinct); tachyonic
  momenta are given :math:`m^2 = 0` for the rapidity.
* The pseudorapidity of a particle with :math:`p_T = 0` is :math:`+10^5`.
* :math:`m = \\mathrm{sign}(m^2)\\sqrt{|m^2|}` (negative for space-like momenta).

All functions use IEEE arithmetic (``error_model="numpy"``: a division by zero
gives inf or nan, as in FastJet's C++, rather than raising).

Example::

    from hepml.kernels.fourvec import rapidity, phi, delta_r2
    y1, f1 = rapidity(1.0, 2.0, 3.0, 5.0), phi(1.0, 2.0)
    y2, f2 = rapidity(-1.0, 2.0, 3.0, 5.0), phi(-1.0, 2.0)
    dr2 = delta_r2(y1, f1, y2, f2)
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "MAXRAP",
    "PI",
    "TWOPI",
    "delta_phi",
    "delta_r2",
    "delta_r2_eta",
    "delta_r2_rapidity",
    "eta",
    "mass",
    "mass2",
    "phi",
    "phi_std",
    "pt",
    "pt2",
    "ptetaphim_to_xyze",
    "ptyphim_to_xyze",
    "rapidity",
    "rapidity_phi",
    "to_ptetaphim",
    "to_xyze",
    "xyze_to_ptetaphim",
]

#: :math:`\pi` and :math:`2\pi` as FastJet's ``pi``/``twopi`` (same doubles).
PI = math.pi
TWOPI = 2.0 * math.pi
#: FastJet's ``MaxRap``: rapidity given to momenta with infinite rapidity.
MAXRAP = 1.0e5


@numba.njit(cache=True, error_model="numpy")
def pt2(px: float, py: float) -> float:
    """Squared transverse momentum, :math:`p_T^2 = p_x p_x + p_y p_y` (FastJet ``kt2``)."""
    return px * px + py * py


@numba.njit(cache=True, error_model="numpy")
def pt(px: float, py: float) -> float:
    """Transverse momentum, :math:`p_T = \\sqrt{p_x^2 + p_y^2}` (FastJet ``perp``)."""
    return math.sqrt(px * px + py * py)


@numba.njit(cache=True, error_model="numpy")
def phi(px: float, py: float) -> float:
    """Azimuth in :math:`[0, 2\\pi)`, as FastJet stores it (``PseudoJet::phi``).

    .. math:: \\phi = \\operatorname{atan2}(p_y, p_x) \\bmod 2\\pi, \\qquad \\phi = 0
              \\text{ when } p_T = 0.

    Example: ``phi(0.0, -1.0) == 1.5 * math.pi``.
    """
    kt2 = px * px + py * py
    if kt2 == 0.0:
        f = 0.0
    else:
        f = math.atan2(py, px)
    if f < 0.0:
        f += TWOPI
    if f >= TWOPI:
        f -= TWOPI
    return f


@numba.njit(cache=True, error_model="numpy")
def phi_std(px: float, py: float) -> float:
    """Azimuth in :math:`(-\\pi, \\pi]` (FastJet ``phi_std``): :func:`phi` shifted by
    :math:`-2\\pi` when above :math:`\\pi`."""
    f = phi(px, py)
    if f > PI:
        return f - TWOPI
    return f


@numba.njit(cache=True, error_model="numpy")
def rapidity(px: float, py: float, pz: float, e: float) -> float:
    """Rapidity, as FastJet computes it (``PseudoJet::_set_rap_phi``).

    .. math::
        y = \\frac{1}{2} \\ln \\frac{E + p_z}{E - p_z}
          = -\\operatorname{sign}(p_z) \\frac{1}{2}
            \\ln \\frac{p_T^2 + \\max(0, m^2)}{(E + |p_z|)^2},

    the second (round-off safe) form being the one evaluated. A massless
    momentum along the beam (:math:`E = |p_z|`, :math:`p_T = 0`) gets
    :math:`y = \\pm(10^5 + |p_z|)`.

    Example: ``rapidity(0.0, 0.0, 5.0, 5.0) == 100005.0``.
    """
    kt2 = px * px + py * py
    if e == abs(pz) and kt2 == 0.0:
        maxrap_here = MAXRAP + abs(pz)
        if pz >= 0.0:
            return maxrap_here
        return -maxrap_here
    m2 = (e + pz) * (e - pz) - kt2
    effective_m2 = m2 if m2 > 0.0 else 0.0
    e_plus_pz = e + abs(pz)
    y = 0.5 * math.log((kt2 + effective_m2) / (e_plus_pz * e_plus_pz))
    if pz > 0.0:
        y = -y
    return y


@numba.njit(cache=True, error_model="numpy")
def rapidity_phi(px: float, py: float, pz: float, e: float) -> tuple[float, float]:
    """``(rapidity(px, py, pz, e), phi(px, py))`` in one call (what clustering needs)."""
    return rapidity(px, py, pz, e), phi(px, py)


@numba.njit(cache=True, error_model="numpy")
def eta(px: float, py: float, pz: float) -> float:
    """Pseudorapidity, as FastJet computes it (``PseudoJet::pseudorapidity``).

    .. math:: \\eta = -\\ln \\tan(\\theta / 2), \\qquad
              \\theta = \\arctan(p_T / p_z) \\ (+\\pi \\text{ if negative}),

    with :math:`\\eta = 10^5` when :math:`p_x = p_y = 0` (whatever the sign of
    :math:`p_z`) and :math:`\\eta = 0` when :math:`p_z = 0`.
    """
    if px == 0.0 and py == 0.0:
        return MAXRAP
    if pz == 0.0:
        return 0.0
    theta = math.atan(math.sqrt(px * px + py * py) / pz)
    if theta < 0.0:
        theta += PI
    return -math.log(math.tan(theta / 2.0))


@numba.njit(cache=True, error_model="numpy")
def mass2(px: float, py: float, pz: float, e: float) -> float:
    """Squared mass, :math:`m^2 = (E + p_z)(E - p_z) - p_T^2` (FastJet ``m2``)."""
    return (e + pz) * (e - pz) - (px * px + py * py)


@numba.njit(cache=True, error_model="numpy")
def mass(px: float, py: float, pz: float, e: float) -> float:
    """Mass, :math:`m = \\mathrm{sign}(m^2) \\sqrt{|m^2|}` (FastJet ``m``, CLHEP convention)."""
    mm = (e + pz) * (e - pz) - (px * px + py * py)
    if mm < 0.0:
        return -math.sqrt(-mm)
    return math.sqrt(mm)


@numba.njit(cache=True, error_model="numpy")
def delta_phi(phi1: float, phi2: float) -> float:
    """Azimuthal difference :math:`\\phi_1 - \\phi_2` wrapped into :math:`(-\\pi, \\pi]`.

    Works for any finite input angles (not only those in :math:`[0, 2\\pi)`).
    Example: ``delta_phi(0.1, 2 * math.pi - 0.1) ≈ 0.2``.
    """
    d = phi1 - phi2
    if d > PI or d <= -PI:
        d = np.fmod(d, TWOPI)  # math.fmod is not supported by numba
        if d > PI:
            d -= TWOPI
        elif d <= -PI:
            d += TWOPI
    return d


@numba.njit(cache=True, error_model="numpy")
def delta_r2(y1: float, phi1: float, y2: float, phi2: float) -> float:
    """Squared distance in the (rapidity or pseudorapidity, azimuth) plane.

    .. math:: \\Delta R^2 = (y_1 - y_2)^2 + \\Delta\\phi^2, \\qquad
              \\Delta\\phi = \\min(|\\phi_1 - \\phi_2|, 2\\pi - |\\phi_1 - \\phi_2|),

    evaluated exactly as FastJet's ``_bj_dist``/``plain_distance`` (bit-identical
    for angles in :math:`[0, 2\\pi)`); angles outside that range are wrapped.
    """
    dphi = abs(phi1 - phi2)
    if dphi > PI:
        dphi = TWOPI - dphi
        if dphi < -PI:
            dphi = delta_phi(phi1, phi2)
    deta = y1 - y2
    return dphi * dphi + deta * deta


@numba.njit(cache=True, error_model="numpy")
def delta_r2_rapidity(
    px1: float,
    py1: float,
    pz1: float,
    e1: float,
    px2: float,
    py2: float,
    pz2: float,
    e2: float,
) -> float:
    """:math:`\\Delta R^2` in (rapidity, azimuth) of two four-momenta (FastJet ``plain_distance``)."""
    return delta_r2(
        rapidity(px1, py1, pz1, e1), phi(px1, py1), rapidity(px2, py2, pz2, e2), phi(px2, py2)
    )


@numba.njit(cache=True, error_model="numpy")
def delta_r2_eta(px1: float, py1: float, pz1: float, px2: float, py2: float, pz2: float) -> float:
    """:math:`\\Delta R^2` in (pseudorapidity, azimuth) of two three-momenta."""
    return delta_r2(eta(px1, py1, pz1), phi(px1, py1), eta(px2, py2, pz2), phi(px2, py2))


@numba.njit(cache=True, error_model="numpy")
def xyze_to_ptetaphim(
    px: float, py: float, pz: float, e: float
) -> tuple[float, float, float, float]:
    """:math:`(p_x, p_y, p_z, E) \\to (p_T, \\eta, \\phi, m)` with :math:`\\phi \\in (-\\pi, \\pi]`
    (the collider-ntuple convention) and FastJet's :func:`eta` and :func:`mass`."""
    return pt(px, py), eta(px, py, pz), phi_std(px, py), mass(px, py, pz, e)


@numba.njit(cache=True, error_model="numpy")
def ptetaphim_to_xyze(
    pt_: float, eta_: float, phi_: float, m: float
) -> tuple[float, float, float, float]:
    """:math:`(p_T, \\eta, \\phi, m) \\to (p_x, p_y, p_z, E)`.

    .. math:: p_x = p_T\\cos\\phi,\\ p_y = p_T\\sin\\phi,\\ p_z = p_T\\sinh\\eta,\\
              E = \\sqrt{p_T^2 + p_z^2 + m^2}

    (a negative ``m`` is read as :math:`m^2 = -m^2`, the inverse of :func:`mass`).
    """
    px = pt_ * math.cos(phi_)
    py = pt_ * math.sin(phi_)
    pz = pt_ * math.sinh(eta_)
    m2 = m * m if m >= 0.0 else -m * m
    e2 = pt_ * pt_ + pz * pz + m2
    e = math.sqrt(e2) if e2 > 0.0 else 0.0
    return px, py, pz, e


@numba.njit(cache=True, error_model="numpy")
def ptyphim_to_xyze(
    pt_: float, y: float, phi_: float, m: float
) -> tuple[float, float, float, float]:
    """:math:`(p_T, y, \\phi, m) \\to (p_x, p_y, p_z, E)` exactly as FastJet's ``PtYPhiM``.

    .. math:: m_T = \\sqrt{p_T^2 + m^2},\\ p_\\pm = m_T e^{\\pm y},\\
              p_z = (p_+ - p_-)/2,\\ E = (p_+ + p_-)/2
    """
    ptm = pt_ if m == 0.0 else math.sqrt(pt_ * pt_ + m * m)
    exprap = math.exp(y)
    pminus = ptm / exprap
    pplus = ptm * exprap
    return (
        pt_ * math.cos(phi_),
        pt_ * math.sin(phi_),
        0.5 * (pplus - pminus),
        0.5 * (pplus + pminus),
    )


@numba.njit(cache=True, error_model="numpy")
def to_ptetaphim(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Array form of :func:`xyze_to_ptetaphim`: four float64 arrays of shape ``(n,)`` in,
    four out."""
    n = px.shape[0]
    out_pt = np.empty(n)
    out_eta = np.empty(n)
    out_phi = np.empty(n)
    out_m = np.empty(n)
    for i in range(n):
        a, b, c, d = xyze_to_ptetaphim(px[i], py[i], pz[i], e[i])
        out_pt[i] = a
        out_eta[i] = b
        out_phi[i] = c
        out_m[i] = d
    return out_pt, out_eta, out_phi, out_m


@numba.njit(cache=True, error_model="numpy")
def to_xyze(
    pt_: np.ndarray, eta_: np.ndarray, phi_: np.ndarray, m: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Array form of :func:`ptetaphim_to_xyze`: shape ``(n,)`` arrays in and out."""
    n = pt_.shape[0]
    px = np.empty(n)
    py = np.empty(n)
    pz = np.empty(n)
    e = np.empty(n)
    for i in range(n):
        a, b, c, d = ptetaphim_to_xyze(pt_[i], eta_[i], phi_[i], m[i])
        px[i] = a
        py[i] = b
        pz[i] = c
        e[i] = d
    return px, py, pz, e
