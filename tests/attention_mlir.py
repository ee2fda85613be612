"""Linalg text shared by the attention tests: the softmax and P V that follow a batched score matrix."""

M3 = "affine_map<(b, i, j) -> (b, i, j)>"
M2 = "affine_map<(b, i, j) -> (b, i)>"


def softmax_pv(scores: str, sc: str, r: str, out: str, v: str, act: str = "%w = math.exp %y : f32") -> str:
    """From the scores `%<scores>` (type sc) to the function's end: row max, `act` of (score - max) (%y in,
    %w out), row sum, divide, then batch_matmul with %v (type v) into `out`. The caller's text defines %z
    (0.0), %ninf (-inf), %e (an empty sc) and %er (an empty r)."""
    m3, m2 = M3, M2
    return f"""
  %fm = linalg.fill ins(%ninf : f32) outs(%er : {r}) -> {r}
  %mx = linalg.generic {{indexing_maps = [{m3}, {m2}], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%{scores} : {sc}) outs(%fm : {r}) {{
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      linalg.yield %y : f32
  }} -> {r}
  %ex = linalg.generic {{indexing_maps = [{m3}, {m2}, {m3}], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%{scores}, %mx : {sc}, {r}) outs(%e : {sc}) {{
    ^bb0(%a: f32, %b: f32, %c: f32):
      %y = arith.subf %a, %b : f32
      {act}
      linalg.yield %w : f32
  }} -> {sc}
  %fs = linalg.fill ins(%z : f32) outs(%er : {r}) -> {r}
  %sm = linalg.generic {{indexing_maps = [{m3}, {m2}], iterator_types = ["parallel", "parallel", "reduction"]}}
      ins(%ex : {sc}) outs(%fs : {r}) {{
    ^bb0(%a: f32, %b: f32):
      %y = arith.addf %a, %b : f32
      linalg.yield %y : f32
  }} -> {r}
  %p = linalg.generic {{indexing_maps = [{m3}, {m2}, {m3}], iterator_types = ["parallel", "parallel", "parallel"]}}
      ins(%ex, %sm : {sc}, {r}) outs(%e : {sc}) {{
    ^bb0(%a: f32, %b: f32, %c: f32):
      %y = arith.divf %a, %b : f32
      linalg.yield %y : f32
  }} -> {sc}
  %eo = tensor.empty() : {out}
  %fo = linalg.fill ins(%z : f32) outs(%eo : {out}) -> {out}
  %o = linalg.batch_matmul ins(%p, %v : {sc}, {v}) outs(%fo : {out}) -> {out}
  return %o : {out}
}}"""
