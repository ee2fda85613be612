"""Route B's artifact of one bench model built again with other compiler options, into a copy of a
`hexmlir bench models --build` directory (weights, inputs and index kept), for A/B runs on the device.

    PYTHONPATH=src python3 scripts/model_variant.py SRC_ART DST_ART MODEL [option=value ...]
    e.g. scripts/model_variant.py /tmp/art /tmp/art_thr resnet18 mt_threshold=1048576

The model and its weights come from SRC_ART (as `bench models` loads them); num_threads is the index's unless
given. An option with a dot patches a module constant of hexmlir for this build, e.g.
transforms.contract.PACK_BYTES=65536 (a sweep of a tuning constant; the compile cache is bypassed, since it
does not see patches). DST_ART holds only MODEL (and the weights it reuses)."""
import importlib
import json
import os
import shutil
import tempfile
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import hexmlir  # noqa: E402
from hexmlir.bench.models import _load  # noqa: E402


def _value(v: str):
    if v in ("true", "false", "True", "False"):
        return v.lower() == "true"
    try:
        return int(v)
    except ValueError:
        return v


def main():
    src, dst, name = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    opts = dict(kv.split("=", 1) for kv in sys.argv[4:])
    opts = {k: _value(v) for k, v in opts.items()}
    patches = {k: opts.pop(k) for k in list(opts) if "." in k}
    for k, v in patches.items():
        mod, const = k.rsplit(".", 1)
        mod = importlib.import_module(f"hexmlir.{mod}")
        if not hasattr(mod, const):
            raise SystemExit(f"hexmlir.{k}: no such constant")
        setattr(mod, const, v)
    if patches:
        os.environ["HEXMLIR_CACHE_DIR"] = tempfile.mkdtemp(prefix="hx-variant-")
    idx, e, m, xs = _load(src, name)
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    keep = {name, *(str(e.get("weights", "")).split("/")[:1])} - {""}
    for d in keep:
        shutil.copytree(src / d, dst / d)
    sub = dict(idx, models=[x for x in idx["models"] if x["name"] == name])
    (dst / "index.json").write_text(json.dumps(sub, indent=1))
    opts.setdefault("num_threads", idx["threads"])
    c = hexmlir.compile_model(m, xs, **opts)
    if not c.compiled:
        raise SystemExit(f"{name}: not compiled: {c.eager_reason}")
    shutil.rmtree(dst / name / e["B"], ignore_errors=True)
    c.save(dst / name / e["B"])
    (dst / "variant.json").write_text(json.dumps({"model": name, "options": opts, "patches": patches}))
    print(f"{name} with {opts} {patches} -> {dst / name / e['B']}")


if __name__ == "__main__":
    main()
