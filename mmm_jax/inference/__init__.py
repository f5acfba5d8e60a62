"""Fitting: NUTS, SVI and MAP, all returning one :class:`Fit`."""

from mmm_jax.inference._common import ChainMethod
from mmm_jax.inference.fit import FORMAT_VERSION, Fit, FitFileError
from mmm_jax.inference.nuts import fit_nuts
from mmm_jax.inference.svi import Guide, fit_map, fit_svi

__all__ = [
    "FORMAT_VERSION",
    "ChainMethod",
    "Fit",
    "FitFileError",
    "Guide",
    "fit_map",
    "fit_nuts",
    "fit_svi",
]
