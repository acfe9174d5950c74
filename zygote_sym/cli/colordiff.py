"""Perceptual colour difference between two sRGB colours (CIEDE2000).

Plain NumPy implementation of the pipeline

    sRGB  --(IEC 61966-2-1 decoding)-->  linear RGB
          --(sRGB primaries, D65)----->  CIE XYZ
          --(CIE 15 / ISO/CIE 11664-4)-> CIELAB (D65 reference white)
          --(CIEDE2000)--------------->  Delta E_00

References
----------
* IEC 61966-2-1:1999, "Multimedia systems and equipment - Colour
  measurement and management - Part 2-1: Colour management - Default RGB
  colour space - sRGB".
* CIE 15:2004, "Colorimetry", 3rd ed.; ISO/CIE 11664-4:2019 (CIE 1976
  L*a*b* colour space).
* ISO/CIE 11664-6:2014 (CIEDE2000 colour-difference formula).
* G. Sharma, W. Wu and E. N. Dalal, "The CIEDE2000 color-difference
  formula: implementation notes, supplementary test data, and
  mathematical observations", Color Research & Application 30(1),
  21-30 (2005).

The code is ordinary NumPy (ufuncs, arithmetic operators, ``np.where``)
with no data-dependent Python control flow, so it can be differentiated
by passing tracer objects through it.
"""

import numpy as np

# D65 reference white from its CIE 1931 chromaticity (Y = 1).
D65_xy = (0.3127, 0.3290)
D65_XYZ = np.array([D65_xy[0] / D65_xy[1],
                    1.0,
                    (1.0 - D65_xy[0] - D65_xy[1]) / D65_xy[1]])

# Linear sRGB -> CIE XYZ matrix (Y of white = 1) as tabulated in
# IEC 61966-2-1:1999 (derived from the Rec. ITU-R BT.709 primaries and D65).
M_SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805],
                          [0.2126, 0.7152, 0.0722],
                          [0.0193, 0.1192, 0.9505]])


def _as_array(x):
    # Plain Python sequences become ndarrays; anything array-like (ndarrays,
    # tracer objects implementing the NumPy protocols) is passed through.
    return np.asarray(x) if isinstance(x, (list, tuple)) else x


def srgb_to_linear(c):
    """IEC 61966-2-1 sRGB decoding (electro-optical transfer function)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab_f(t):
    delta = 6.0 / 29.0
    return np.where(t > delta ** 3, t ** (1.0 / 3.0), t / (3.0 * delta ** 2) + 4.0 / 29.0)


def xyz_to_lab(xyz, white=D65_XYZ):
    """CIE XYZ (white has Y = 1) to CIELAB (L* of white = 100)."""
    fx = _lab_f(xyz[..., 0] / white[0])
    fy = _lab_f(xyz[..., 1] / white[1])
    fz = _lab_f(xyz[..., 2] / white[2])
    L = 116.0 * fy - 16.0
    a = 500.0 * (fx - fy)
    b = 200.0 * (fy - fz)
    return np.stack([L, a, b], axis=-1)


def srgb_to_lab(rgb):
    """Non-linear sRGB in [0, 1] (last axis = R, G, B) to CIELAB (D65)."""
    linear = srgb_to_linear(_as_array(rgb))
    xyz = linear @ M_SRGB_TO_XYZ.T
    return xyz_to_lab(xyz)


def ciede2000(lab1, lab2, kL=1.0, kC=1.0, kH=1.0):
    """CIEDE2000 colour difference, following Sharma, Wu & Dalal (2005)."""
    lab1, lab2 = _as_array(lab1), _as_array(lab2)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]

    # Step 1: C'_i, h'_i.
    C1 = np.hypot(a1, b1)
    C2 = np.hypot(a2, b2)
    C_bar7 = ((C1 + C2) / 2.0) ** 7
    G = 0.5 * (1.0 - np.sqrt(C_bar7 / (C_bar7 + 25.0 ** 7)))
    a1p = (1.0 + G) * a1
    a2p = (1.0 + G) * a2
    C1p = np.hypot(a1p, b1)
    C2p = np.hypot(a2p, b2)
    # h' = 0 when a' = b' = 0 (np.arctan2(0, 0) is already 0).
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0

    # Step 2: Delta L', Delta C', Delta H'.
    dLp = L2 - L1
    dCp = C2p - C1p
    Cprod = C1p * C2p
    dh = h2p - h1p
    dhp = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dhp = np.where(Cprod == 0.0, 0.0, dhp)
    dHp = 2.0 * np.sqrt(Cprod) * np.sin(np.radians(dhp / 2.0))

    # Step 3: weighting functions.
    Lp_bar = (L1 + L2) / 2.0
    Cp_bar = (C1p + C2p) / 2.0
    hsum = h1p + h2p
    hp_bar = np.where(np.abs(h1p - h2p) <= 180.0, hsum / 2.0,
                      np.where(hsum < 360.0, (hsum + 360.0) / 2.0,
                               (hsum - 360.0) / 2.0))
    hp_bar = np.where(Cprod == 0.0, hsum, hp_bar)

    T = (1.0
         - 0.17 * np.cos(np.radians(hp_bar - 30.0))
         + 0.24 * np.cos(np.radians(2.0 * hp_bar))
         + 0.32 * np.cos(np.radians(3.0 * hp_bar + 6.0))
         - 0.20 * np.cos(np.radians(4.0 * hp_bar - 63.0)))
    d_theta = 30.0 * np.exp(-(((hp_bar - 275.0) / 25.0) ** 2))
    Cp_bar7 = Cp_bar ** 7
    R_C = 2.0 * np.sqrt(Cp_bar7 / (Cp_bar7 + 25.0 ** 7))
    Lm50sq = (Lp_bar - 50.0) ** 2
    S_L = 1.0 + 0.015 * Lm50sq / np.sqrt(20.0 + Lm50sq)
    S_C = 1.0 + 0.045 * Cp_bar
    S_H = 1.0 + 0.015 * Cp_bar * T
    R_T = -np.sin(np.radians(2.0 * d_theta)) * R_C

    tL = dLp / (kL * S_L)
    tC = dCp / (kC * S_C)
    tH = dHp / (kH * S_H)
    return np.sqrt(tL ** 2 + tC ** 2 + tH ** 2 + R_T * tC * tH)


def colordiff(rgb1, rgb2):
    """CIEDE2000 difference between two sRGB colours given in [0, 1]."""
    return ciede2000(srgb_to_lab(rgb1), srgb_to_lab(rgb2))

