"""`hexmlir bench report` regenerates docs/benchmarks.md's Hexagon section from results.json, static float
table included (it was hand-written, so a report run dropped it)."""
import json
from pathlib import Path

from hexmlir.bench import hexagon
from hexmlir.bench.report import _hexagon_section

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _loop(packets, macs):
    return {"label": ".LBB0_1", "packets": packets, "fadd_lanes": macs, "fmul_lanes": macs, "macs": macs,
            "vector_stores": 0}


def test_static_rows_render_in_the_section():
    st = {"arch": "v73", "date": "2026-01-01 00:00 UTC",
          "matmul_f16": [{"kernel": "matmul_f16", "arch": "v73", "size": [64, 64, 64], "hexmlir": 11 / 512,
                          "clang_autohvx": 0.19, "hexmlir_loop": _loop(11, 512), "clang_loop": None}],
          "matmul_f16_qf32": [{"kernel": "matmul_f16", "arch": "v79", "size": [64, 64, 64], "hexmlir": None,
                               "clang_autohvx": None, "hexmlir_loop": None, "clang_loop": None}],
          "float": [{"kernel": "gelu", "arch": "v73", "size": [65536], "hexmlir": 1.906, "clang_autohvx": 1.969,
                     "hexmlir_loops": [{"loop": "0_1", "packets": 61, "per_row": 2048, "how": "hot loop"}],
                     "clang_loops": None}]}
    text = _hexagon_section({"hexagon_static": st, "hexagon_static_reading": "READING"})
    assert "### HVX float: static packets against clang auto-HVX" in text and "### Ladder" in text
    assert "| f16 matmul 64x64x64 on v73, packets/MAC | 0.0215 | 0.190 | 0.11 | 11 packets / 512 MACs |" in text
    assert "| f16 matmul 64x64x64 on v79 (qf32), packets/MAC | – | – | – | no MAC loop |" in text
    assert "| gelu f32 65536 on v73, packets/element | 1.906 | 1.969 | 0.97 | 61 x 2048 |" in text
    assert "READING" in text
    assert "Not run yet" in text                     # no ladder rows: the note says how to get them


def test_store_keeps_static_rows(tmp_path):
    p = tmp_path / "results.json"
    hexagon.store([], p, "meta", {"arch": "v73", "matmul_f16": [], "float": []})
    hexagon.store([], p, "meta2")                    # a later ladder-only store keeps them
    res = json.loads(p.read_text())
    assert res["hexagon_static"]["arch"] == "v73" and res["hexagon_meta"] == "meta2"


def test_docs_section_is_what_the_report_writes():
    res = json.loads((DOCS / "benchmarks" / "results.json").read_text())
    doc = (DOCS / "benchmarks.md").read_text()
    head = "## Hexagon (executed packets under qemu-hexagon)\n\n"
    sec = doc[doc.index(head) + len(head):doc.index("\n## PyTorch models")]
    assert sec.strip() == _hexagon_section(res).strip()
