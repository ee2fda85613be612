import os
import tempfile

import numpy as np
import pytest

# A private compile cache per test session: tests exercise real compiles, not a developer's cache.
os.environ.setdefault("HEXMLIR_CACHE_DIR", tempfile.mkdtemp(prefix="hexmlir-test-cache-"))
os.environ.setdefault("TRITON_CACHE_DIR", tempfile.mkdtemp(prefix="hexmlir-test-triton-"))


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="also run the slow tiers (full option products, "
                     "sanitizers, big sizes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow tier: run with --slow")
    for item in items:
        if "slow" in item.keywords or "sanitizers" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    return np.random.default_rng()   # fresh inputs every run


def assert_close(got, ref, dtype):
    got = got if isinstance(got, (tuple, list)) else [got]
    tol = {"float16": (2e-2, 2e-2), "float32": (2e-5, 2e-5)}.get(str(dtype), (0, 0))
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol[0], atol=tol[1])
