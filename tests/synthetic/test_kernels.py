"""The simulator's NumPy reference kernels against their formulas and against the model's JAX kernels.

The two implementations are written independently; agreement on random inputs
is what lets the simulator's truth check the model's kernels (and vice versa).
Tolerances follow JAX's precision: float32 unless ``JAX_ENABLE_X64`` is set
(``make test-x64`` runs this file in float64, where they must agree to 1e-10).
"""

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import jax.numpy as jnp

from mmm_jax.synthetic import kernels
from mmm_jax.transforms import adstock as adstock_k
from mmm_jax.transforms import saturation as saturation_k
from mmm_jax.transforms.adstock import Adstock
from mmm_jax.transforms.saturation import Saturation

X64 = jnp.result_type(float) == jnp.float64
RTOL = 1e-10 if X64 else 2e-5
ATOL = 1e-12 if X64 else 1e-6
N = 40  # random parameter draws per kind
MAX_LAG = 21


def _random_adstock_params(rng, kind: Adstock) -> dict[str, np.ndarray]:
    """``N`` parameter sets of ``kind``, covering the ranges the model's priors reach."""
    if kind is Adstock.GEOMETRIC:
        return {"retention": rng.uniform(0.0, 0.95, N)}
    if kind is Adstock.DELAYED:
        return {"retention": rng.uniform(0.05, 0.95, N), "peak_delay": rng.uniform(0.0, 6.0, N)}
    return {"shape": rng.uniform(0.4, 4.0, N), "scale": rng.uniform(0.5, 12.0, N)}


def _random_saturation_params(rng, kind: Saturation) -> dict[str, np.ndarray]:
    if kind is Saturation.HILL:
        return {
            "half_saturation": np.exp(rng.uniform(-2.0, 2.0, N)),
            "slope": rng.uniform(0.3, 5.0, N),
        }
    if kind is Saturation.MICHAELIS_MENTEN:
        return {"half_saturation": np.exp(rng.uniform(-2.0, 2.0, N))}
    return {"rate": np.exp(rng.uniform(-2.0, 2.0, N))}


def _one(params: dict[str, np.ndarray], i: int) -> dict[str, float]:
    return {k: float(v[i]) for k, v in params.items()}


# ------------------------------------------------------------------ against the formulas


def test_weights_equal_the_closed_forms_and_scipy():
    lag = np.arange(8.0)
    np.testing.assert_allclose(kernels.geometric_weights(0.6, 8), 0.6**lag, rtol=1e-15)
    assert kernels.geometric_weights(0.0, 3).tolist() == [1.0, 0.0, 0.0]
    np.testing.assert_allclose(
        kernels.weibull_cdf_weights(1.7, 3.0, 8),
        stats.weibull_min(1.7, scale=3.0).sf(lag),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        kernels.weibull_pdf_weights(2.4, 5.0, 8),
        stats.weibull_min(2.4, scale=5.0).pdf(lag + 1.0),
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        kernels.delayed_weights(0.5, 2.0, 8), 0.5 ** ((lag - 2.0) ** 2), rtol=1e-15
    )
    # normalised weights sum to one and keep their proportions
    w = kernels.adstock_weights(Adstock.DELAYED, {"retention": 0.5, "peak_delay": 2.0}, 8)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.argmax(w) == 2


def test_adstock_is_the_causal_convolution():
    x = np.array([[1.0, 0.0, 0.0, 2.0, 0.0], [0.0, 3.0, 0.0, 0.0, 0.0]])
    w = np.array([0.5, 0.3, 0.2])
    expected = np.array([[0.5, 0.3, 0.2, 1.0, 0.6], [0.0, 1.5, 0.9, 0.6, 0.0]])
    np.testing.assert_allclose(kernels.adstock(x, w), expected, rtol=1e-15)
    # a window longer than the data, and constant spend reaching its steady state
    assert kernels.adstock(np.ones(2), np.full(4, 0.25)).tolist() == [0.25, 0.5]
    flat = kernels.adstock(
        np.full(30, 7.0), kernels.adstock_weights(Adstock.GEOMETRIC, {"retention": 0.4}, 6)
    )
    np.testing.assert_allclose(flat[5:], 7.0, rtol=1e-14)


def test_saturation_closed_forms():
    x = np.array([0.0, 0.5, 2.0, 1e6])
    assert kernels.hill(3.0, 3.0, 2.7) == pytest.approx(0.5, abs=1e-15)
    np.testing.assert_allclose(kernels.hill(x, 2.0, 1.5), x**1.5 / (x**1.5 + 2.0**1.5), rtol=1e-14)
    np.testing.assert_allclose(
        kernels.hill(x, 2.0, 1.0), kernels.michaelis_menten(x, 2.0), rtol=1e-14
    )
    np.testing.assert_allclose(kernels.logistic(x, 0.8), np.tanh(0.4 * x), rtol=1e-14, atol=1e-16)
    for curve in (
        kernels.hill(x, 2.0, 3.0),
        kernels.michaelis_menten(x, 2.0),
        kernels.logistic(x, 0.8),
    ):
        assert curve[0] == 0.0 and np.all(np.diff(curve) > 0) and np.all(curve <= 1.0)
    assert kernels.hill(1e-300, 1.0, 0.5) > 0  # no overflow of (K/x)^s turns into NaN


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="missing"):
        kernels.adstock_weights(Adstock.WEIBULL_PDF, {"shape": 2.0}, 5)
    with pytest.raises(ValueError, match="missing"):
        kernels.saturate(Saturation.HILL, np.ones(3), {"half_saturation": 1.0})
    with pytest.raises(ValueError, match="max_lag"):
        kernels.adstock_weights(Adstock.GEOMETRIC, {"retention": 0.5}, 0)
    with pytest.raises(ValueError, match="no weight"):  # every weight underflows
        kernels.adstock_weights(Adstock.WEIBULL_PDF, {"shape": 50.0, "scale": 0.01}, 5)


# ------------------------------------------------------------------ against mmm_jax.transforms


@pytest.mark.parametrize("normalize", [True, False], ids=["normalised", "raw"])
@pytest.mark.parametrize("kind", list(Adstock), ids=lambda k: k.value)
def test_adstock_weights_agree_with_the_model_kernels(kind, normalize):
    rng = np.random.default_rng(11)
    params = _random_adstock_params(rng, kind)
    model = np.asarray(
        adstock_k.adstock_weights(
            kind, {k: jnp.asarray(v) for k, v in params.items()}, MAX_LAG, normalize=normalize
        )
    )
    reference = np.stack(
        [
            kernels.adstock_weights(kind, _one(params, i), MAX_LAG, normalize=normalize)
            for i in range(N)
        ]
    )
    assert model.shape == reference.shape == (N, MAX_LAG)
    scale = reference.max(axis=1, keepdims=True)  # compare on each kernel's own scale
    np.testing.assert_allclose(model / scale, reference / scale, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", list(Adstock), ids=lambda k: k.value)
def test_adstocked_media_agree_with_the_model_kernels(kind):
    # random (geo, time, channel) spend with dark periods; one parameter set per channel
    rng = np.random.default_rng(12)
    params = _random_adstock_params(rng, kind)
    media = rng.gamma(2.0, 50.0, size=(3, 60, N)) * (rng.random((3, 60, N)) > 0.1)
    model = np.asarray(
        adstock_k.adstock_media(
            jnp.asarray(media), kind, {k: jnp.asarray(v) for k, v in params.items()}, MAX_LAG
        )
    )
    reference = np.stack(
        [
            kernels.adstock(media[..., c], kernels.adstock_weights(kind, _one(params, c), MAX_LAG))
            for c in range(N)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(model, reference, rtol=RTOL, atol=ATOL * media.max())


def test_geometric_recursion_equals_the_full_window_convolution():
    # the scan and associative forms have infinite memory: a window as long as the data
    rng = np.random.default_rng(13)
    x = rng.gamma(2.0, 1.0, 50)
    for retention in rng.uniform(0.0, 0.95, 8):
        reference = kernels.adstock(x, kernels.geometric_weights(retention, 50))
        for fn in (adstock_k.geometric_adstock, adstock_k.geometric_adstock_associative):
            got = np.asarray(fn(jnp.asarray(x), retention, normalize=False))
            np.testing.assert_allclose(
                got, reference, rtol=RTOL * 10, atol=ATOL, err_msg=fn.__name__
            )


@pytest.mark.parametrize("kind", list(Saturation), ids=lambda k: k.value)
def test_saturation_agrees_with_the_model_kernels(kind):
    rng = np.random.default_rng(14)
    params = _random_saturation_params(rng, kind)
    # spend from 0 to ~50x the curve's own scale, exact zeros included: (point, channel)
    x = np.concatenate([np.zeros((1, N)), np.exp(rng.uniform(-5.0, 4.0, size=(200, N)))])
    model = np.asarray(
        saturation_k.saturate(kind, jnp.asarray(x), {k: jnp.asarray(v) for k, v in params.items()})
    )
    reference = np.stack(
        [kernels.saturate(kind, x[:, c], _one(params, c)) for c in range(N)], axis=-1
    )
    np.testing.assert_allclose(model, reference, rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------ independence


def test_the_synthetic_package_takes_only_names_from_the_model_kernels():
    # Kinds and parameter names are shared vocabulary; every curve must be its own.
    allowed = {"ADSTOCK_PARAMS", "SATURATION_PARAMS", "Adstock", "Saturation"}
    package = Path(kernels.__file__).parent
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
                assert not [n for n in names if n.startswith("mmm_jax.transforms")], path.name
                assert "jax" not in names and "jax.numpy" not in names, path.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module.startswith("mmm_jax.transforms"):
                    taken = {a.name for a in node.names}
                    assert taken <= allowed, (path.name, taken - allowed)
                assert node.module.split(".")[0] != "jax", path.name


def test_no_library_layer_imports_the_synthetic_package():
    # Synthetic data are for entry points (demo, experiments, tests), never a dependency.
    root = Path(kernels.__file__).parents[1]
    layers = ("data", "transforms", "calibration", "models", "inference", "diagnostics", "optimize")
    offending = []
    for layer in layers:
        for path in sorted((root / layer).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                modules = []
                if isinstance(node, ast.Import):
                    modules = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                if any(m.startswith("mmm_jax.synthetic") for m in modules):
                    offending.append(f"{layer}/{path.name}")
    assert not offending, offending
