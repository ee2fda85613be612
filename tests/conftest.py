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


SEED_ENV = "HEXMLIR_TEST_SEED"
_SEED = None          # the session's seed
_CURRENT = None       # the running test's seed


def session_seed() -> int:
    """HEXMLIR_TEST_SEED if set (to replay a failure), else fresh each session (printed in the header)."""
    global _SEED
    if _SEED is None:
        env = os.environ.get(SEED_ENV)
        _SEED = int(env, 0) if env else int(np.random.SeedSequence().entropy % (1 << 32))
    return _SEED


def current_seed() -> int:
    """The running test's seed (for helpers that make their own generators); outside a test, the session's."""
    return session_seed() if _CURRENT is None else _CURRENT


@pytest.fixture(autouse=True)
def _seeded(request):
    """Every test gets a seed derived from the session's and its id (independent of test order): numpy's and
    torch's global generators are seeded with it, and a failing test's report prints it with the
    HEXMLIR_TEST_SEED that replays it."""
    import sys
    import zlib
    global _CURRENT
    _CURRENT = (session_seed() * 1000003 + zlib.crc32(request.node.nodeid.encode())) % (1 << 32)
    request.node.user_properties.append(("seed", f"{_CURRENT} (replay: {SEED_ENV}={session_seed()})"))
    np.random.seed(_CURRENT)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(_CURRENT)
    yield
    _CURRENT = None


@pytest.fixture
def seed(_seeded) -> int:
    return current_seed()


@pytest.fixture
def rng(seed):
    """Fresh random inputs every session, from a seeded generator (the seed is in the failure report)."""
    return np.random.default_rng(seed)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    rep = (yield).get_result()
    if rep.failed:
        for name, value in item.user_properties:
            if name == "seed":
                rep.sections.append(("random seed", f"seed={value}"))


def pytest_report_header(config):
    return f"random inputs: {SEED_ENV}={session_seed()}"


def assert_close(got, ref, dtype):
    got = got if isinstance(got, (tuple, list)) else [got]
    tol = {"float16": (2e-2, 2e-2), "float32": (2e-5, 2e-5)}.get(str(dtype), (0, 0))
    for g, r in zip(got, ref):
        assert g.shape == r.shape and g.dtype == r.dtype, (g.shape, g.dtype, r.shape, r.dtype)
        np.testing.assert_allclose(g.astype(np.float64), r.astype(np.float64), rtol=tol[0], atol=tol[1])
