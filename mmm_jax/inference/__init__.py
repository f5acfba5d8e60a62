"""Fitting: NUTS, SVI and MAP, all returning one :class:`Fit`.

`Fit` holds the draws with the data and configuration they came from,
predicts from them and saves to one checksummed ``.npz``
(`mmm_jax.inference.fit.FORMAT_VERSION`); `mmm_jax.workflow.fit` picks the
method by name. SVI's variational family is named by string,
``fit_svi(..., guide="auto_normal")`` (the values of
`mmm_jax.inference.svi.Guide`).
"""

from mmm_jax.inference.fit import Fit, FitFileError
from mmm_jax.inference.nuts import fit_nuts
from mmm_jax.inference.svi import fit_map, fit_svi

__all__ = ["Fit", "FitFileError", "fit_map", "fit_nuts", "fit_svi"]
