"""docs/tutorials/ cannot go stale: each page is regenerated from a real compile and its key lines (headings,
Triton source and launcher, the pipeline's stage list) must match the committed page."""
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tutorials"


@pytest.mark.parametrize("name", [
    "vector_add",
    pytest.param("gelu", marks=pytest.mark.slow),
    pytest.param("softmax", marks=pytest.mark.slow),
    pytest.param("matmul", marks=pytest.mark.slow),
    pytest.param("flash_attention", marks=pytest.mark.slow)])
def test_tutorial_is_current(name, tmp_path):
    from hexmlir.kernels.triton_suite import tutorials
    page = tutorials.generate(name, tmp_path)
    new, old = page.read_text(), (DOCS / f"{name}.md").read_text()
    assert tutorials.key_lines(new) == tutorials.key_lines(old), (
        f"docs/tutorials/{name}.md is stale: python3 -m hexmlir.kernels.triton_suite.tutorials {name}")
    assert "HVX instructions" in new and "tt.func" in new and "scf.forall" in new


def test_every_tutorial_has_a_page():
    from hexmlir.kernels.triton_suite import tutorials
    assert {p.stem for p in DOCS.glob("*.md")} - {"README"} == set(tutorials.TUTORIALS)
