"""The plan as IR (plan.py): the `plan` stage writes `hexmlir.config` on each planned op and `hexmlir.plan` on
the module, plan.verify checks them (after `plan`, and in `hexmlir opt` on reading IR), the later stages read
them, and `hexmlir explain` prints what compile's own pipeline run wrote.

The verifier tests hand-edit one field of a config in printed IR and expect a PlanError naming the op and the
field. No numerics here (no random inputs): the IR is the subject."""
import re
from pathlib import Path

import pytest

from hexmlir import opt
from hexmlir.errors import PlanError

LIT = Path(__file__).parent / "lit"
SILU = (LIT / "Inputs" / "silu.mlir").read_text()
NPU = {"target": "npu-emu", "num_threads": 4, "tcm_budget": 65536, "mt_threshold": 1}
HOST = {"isa": "x86-64-v3", "num_threads": 4, "tcm_budget": 65536, "mt_threshold": 1}


def planned(text=SILU, options=NPU) -> str:
    pre = "check-input..plan" if "hexmlir.grid" not in text else "symbols..plan"
    return opt.run_stages(text, pre, options)


def configs(text: str) -> list[str]:
    return re.findall(r"hexmlir\.config = \{[^{}]*\}", text)


def edit(text: str, field: str, value: str, which: int = 0) -> str:
    """Replace `field = ...` inside the `which`-th hexmlir.config of `text` (fields are printed sorted)."""
    cfgs = list(re.finditer(r"hexmlir\.config = \{[^{}]*\}", text))
    m = cfgs[which]
    body = m.group(0)
    new, n = re.subn(rf"\b{field} = (array<i64[^>]*>|\"[^\"]*\"|[^,}}]+)", f"{field} = {value}", body)
    assert n == 1, (field, body)
    return text[:m.start()] + new + text[m.end():]


def rejects(text: str, field: str, stage: str = "tcm-tiling") -> PlanError:
    with pytest.raises(PlanError) as e:
        opt.run_stages(text, stage)
    err = e.value
    assert err.op and err.op.startswith("linalg."), str(err)
    assert f"field '{field}'" in str(err), str(err)
    assert "#" in str(err)           # the op's hexmlir.id
    return err


def test_plan_writes_typed_configs_and_module_facts():
    text = planned()
    (c,) = configs(text)
    assert "tile = array<i64: 1, 992>" in c and "threads = 4 : i64" in c and "tcm = true" in c
    assert "buffers = 2 : i64" in c and "vector = array<i64: 1, 32>" in c
    assert re.search(r"module attributes \{hexmlir\.plan = \{budget = 65536 : i64, options = \{", text)
    assert '\\22' not in text.split("func.func")[0]          # no JSON left in the module's attributes


def test_verifier_accepts_every_stage_of_the_pipeline():
    """Unedited IR re-verifies on reading after every stage (the shape checks step aside once tiled)."""
    from hexmlir import pipeline
    names = [s.name for s in pipeline.stages()]
    text = planned()
    for n in names[names.index("plan") + 1:]:
        text = opt.run_stages(text, n)
    assert "llvm.func" in text


def test_tile_rank():
    rejects(edit(planned(), "tile", "array<i64: 992>"), "tile")


def test_tile_outside_the_loop_range():
    rejects(edit(planned(), "tile", "array<i64: 1, 2000>"), "tile")


def test_tile_of_a_reduction_loop():
    from hexmlir.kernels import linalg_suite
    text = planned(linalg_suite.row_sum(100, 300).mlir)
    c = next(x for x in configs(text) if "tile = " in x)
    tile = re.search(r"tile = array<i64: (\d+), 0>", c)
    assert tile, c
    rejects(edit(text, "tile", f"array<i64: {tile.group(1)}, 5>", configs(text).index(c)), "tile")


def test_threads_over_the_bound():
    rejects(edit(planned(), "threads", "64 : i64"), "threads")


def test_threads_over_the_tiles():
    text = edit(planned(), "tile", "array<i64: 0, 0>")
    text = edit(text, "buffers", "1 : i64")
    rejects(text, "threads")


def test_tcm_footprint_of_the_tile():
    """The whole 7x1001 nest, twice over, is more than the 64 KiB budget even on one thread."""
    text = edit(edit(planned(), "tile", "array<i64: 0, 0>"), "threads", "1 : i64")
    err = rejects(text, "tile")
    assert "65536" in str(err)


def test_tcm_footprint_times_threads():
    rejects(edit(planned(), "tile_bytes", "20000 : i64"), "threads")


def test_vector_lanes_must_match_the_target():
    rejects(edit(planned(), "vector", "array<i64: 1, 16>"), "vector", stage="vectorize")


def test_tcm_on_a_target_without_one():
    rejects(edit(planned(options=HOST), "tcm", "true"), "tcm")


def test_double_buffers_on_a_target_without_a_copy_engine():
    rejects(edit(planned(options=HOST), "buffers", "2 : i64"), "buffers")


def test_buffers_is_one_or_two():
    rejects(edit(planned(), "buffers", "3 : i64"), "buffers")


def test_field_types():
    rejects(edit(planned(), "threads", "true"), "threads")


def test_producer_fused_into_an_unknown_root():
    from hexmlir.kernels import linalg_suite
    text = planned(linalg_suite.softmax_rows(33, 1000).mlir)
    k = next(i for i, c in enumerate(configs(text)) if "fused_into" in c)
    rejects(edit(text, "fused_into", "99 : i64", k), "fused_into")


def test_configs_without_the_module_facts():
    text = re.sub(r"module attributes \{hexmlir\.plan = \{.*?\}, threads = \d+ : i64, tile_budget = \d+ : i64\}\}",
                  "module", planned())
    assert "hexmlir.plan" not in text
    with pytest.raises(PlanError, match="hexmlir.plan"):
        opt.run_stages(text, "tcm-tiling")


def test_verifier_runs_after_the_plan_stage(monkeypatch):
    """A planner bug (wrong vector lanes) stops compile at the `plan` stage, naming the op and field."""
    from hexmlir import ir as hir
    from hexmlir import pipeline, plan, targets
    from hexmlir.options import Options
    monkeypatch.setattr(plan, "choose_vec_tile", lambda p, target: [1, 7])
    o = Options(**NPU)
    with hir.context(), hir.ir.Location.unknown():
        with pytest.raises(PlanError, match="field 'vector'") as e:
            pipeline.run(hir.parse(SILU), o, targets.get(o.target, o.arch, o.isa))
    assert e.value.stage == "plan" and e.value.op == "linalg.generic"


def test_stages_read_the_tile_from_the_ir():
    """tcm-tiling applies the tile the attribute says (hand-set to 512 columns), not a remembered plan."""
    text = edit(edit(planned(), "tile", "array<i64: 1, 512>"), "tile_bytes", "4096 : i64")
    out = opt.run_stages(text, "tcm-tiling")
    assert "-> (d0 * 512)" in out and "992" not in out.split("func.func")[1]


def test_stages_read_the_threads_from_the_ir():
    """threads outlines the tile loop onto the config's thread count (hand-set to 2) and copies the config
    onto the tile loop it makes, for double-buffer and tcm-check."""
    text = opt.run_stages(edit(planned(), "threads", "2 : i64"), "tcm-tiling..bufferize")
    out = opt.run_stages(text, "threads")
    assert re.search(r"%c2 = arith.constant 2 : index\s+call @__hx_parallel_hxk_silu_par0\(.*%c2\)", out), out
    assert re.search(r"hexmlir\.config = \{[^}]*threads = 2 : i64[^}]*\}, hexmlir\.tile_loop = 0 : i64", out)


def test_double_buffer_reads_buffers_from_the_tile_loop():
    """buffers = 1 on the config: the double-buffer stage leaves the loop alone."""
    a = opt.run_stages(planned(), "tcm-tiling..dma")
    b = opt.run_stages(edit(planned(), "buffers", "1 : i64"), "tcm-tiling..dma")
    assert "hx_dma_wait" in opt.run_stages(a, "double-buffer")
    assert opt.run_stages(b, "double-buffer").count("hx_dma_start_2d(") == b.count("hx_dma_start_2d(")
    assert opt.run_stages(a, "double-buffer").count("hx_dma_start_2d(") > a.count("hx_dma_start_2d(")


@pytest.mark.parametrize("target", ["npu-emu", "host"])
def test_explain_prints_the_tile_of_the_compiled_ir(tmp_path, target):
    """explain's tile is the `tile` of the hexmlir.config in compile's own dump (same pipeline run)."""
    from hexmlir.driver import explain
    from hexmlir.options import Options
    src = tmp_path / "silu.mlir"
    src.write_text(SILU)
    o = Options(**{**(NPU if target == "npu-emu" else HOST), "dump_dir": str(tmp_path / "dump")})
    text = explain(str(src), o)
    dump = next((tmp_path / "dump").glob("*-plan.mlir")).read_text()
    (c,) = configs(dump)
    tile = re.search(r"tile = array<i64: ([\d, ]*)>", c).group(1)
    vec = re.search(r"vector = array<i64: ([\d, ]*)>", c).group(1)
    threads = re.search(r"threads = (\d+) : i64", c).group(1)
    assert f"tcm_tile=[{tile}]" in text and f"vec_tile=[{vec}]" in text and f"threads={threads}" in text, text
    # and the same tile reached the generated code: the tiled loop steps by it
    if target == "npu-emu":
        assert "generated hxk_silu_par0" in text
        assert f"tile = array<i64: {tile}>" in (tmp_path / "dump" / sorted(
            p.name for p in (tmp_path / "dump").glob("*-tcm-tiling.mlir"))[0]).read_text()
