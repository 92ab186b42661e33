"""A neuron explorer for the book: Figure 3's four panels for any hidden neuron.

Static HTML and data, no kernel: it works on GitHub Pages. For each model the page
embeds, per neuron, what Figure 3 plots, summarised and quantised to one byte a value
(each neuron on its own scale):

* rows 1-2: each pattern's mean pre-activation over training, ``traj [E, n_pat]``
  at ``E <= max_epochs`` evenly spaced epochs (the first and the last included);
* row 3: the final pre-activations of the training samples of each pattern, as the
  5 %, 25 %, 50 %, 75 % and 95 % quantiles, ``final [n_pat, 5]``;
* row 4: the histogram (20 bins over [-1, 1]) of each sample's mean sign of dL/da over
  training, by class, ``sign [2, 20]``, normalised to the tallest bin.

``model_data`` computes them from a stored run and its data; ``explorer_html`` writes
the page's HTML (a small script draws the panels as SVG).
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SIGN_BINS = 20


def _epochs(n_points: int, max_epochs: int) -> np.ndarray:
    """At most ``max_epochs`` evenly spaced indices of ``n_points``, first and last kept."""
    return np.unique(np.linspace(0, n_points - 1, min(max_epochs, n_points)).round().astype(int))


def model_data(means, w1, w2, mean_sign, x, p, y, classes, label: str,
               max_epochs: int = 50) -> dict:
    """What the explorer shows of one model, quantised.

    ``means [epochs+1, n_hidden, n_pat]`` pattern means over training; ``w1 [n_hidden,
    n_in]`` and ``w2 [n_hidden]`` the final weights; ``mean_sign [n_train, n_hidden]``;
    ``x [n_train, n_in]``, ``p [n_train]`` patterns, ``y [n_train]`` classes of the
    training samples; ``classes [n_pat]`` each pattern's class."""
    means, w1, w2, mean_sign, x = (np.asarray(a, dtype=np.float32)
                                   for a in (means, w1, w2, mean_sign, x))
    p, y, classes = (np.asarray(a).astype(int) for a in (p, y, classes))
    n_hidden, n_pat = means.shape[1], means.shape[2]
    epochs = _epochs(means.shape[0], max_epochs)
    traj = means[epochs].transpose(1, 0, 2)  # [n_hidden, E, n_pat]
    z = x @ w1.T  # final pre-activations z = W1^T x [n_train, n_hidden] (no hidden bias)
    final = np.stack([np.quantile(z[p == k], QUANTILES, axis=0).T if (p == k).any()
                      else np.zeros((n_hidden, len(QUANTILES)), np.float32)
                      for k in range(n_pat)], axis=1)  # [n_hidden, n_pat, 5]
    bins = np.clip(((mean_sign + 1) / 2 * SIGN_BINS).astype(int), 0, SIGN_BINS - 1)
    sign = np.zeros((n_hidden, 2, SIGN_BINS))
    neuron = np.arange(n_hidden)
    for c in (0, 1):
        rows = bins[y == c]  # [n_c, n_hidden]
        sign[:, c] = np.bincount((neuron * SIGN_BINS + rows).ravel(),
                                 minlength=n_hidden * SIGN_BINS).reshape(n_hidden, SIGN_BINS)
    sign /= np.maximum(sign.max(axis=(1, 2), keepdims=True), 1)
    # one scale per neuron for rows 1-3 (they share the pre-activation axis)
    lo = np.minimum(traj.min(axis=(1, 2)), final.min(axis=(1, 2)))
    hi = np.maximum(traj.max(axis=(1, 2)), final.max(axis=(1, 2)))
    span = np.where(hi > lo, hi - lo, 1.0)

    def q(a):  # [n_hidden, ...] on the neuron's scale -> uint8
        shape = (-1,) + (1,) * (a.ndim - 1)
        return np.round((a - lo.reshape(shape)) / span.reshape(shape) * 255).astype(np.uint8)

    packed = np.concatenate([q(traj).reshape(n_hidden, -1), q(final).reshape(n_hidden, -1),
                             np.round(sign * 255).astype(np.uint8).reshape(n_hidden, -1)],
                            axis=1)  # [n_hidden, E*n_pat + n_pat*5 + 2*20]
    return dict(label=label, n_hidden=int(n_hidden), n_pat=int(n_pat),
                epochs=[int(e) for e in epochs], classes=[int(c) for c in classes],
                lo=[round(float(v), 5) for v in lo], hi=[round(float(v), 5) for v in hi],
                w2=[round(float(v), 4) for v in w2],
                order=[int(i) for i in np.argsort(-np.abs(w2), kind="stable")],
                data=base64.b64encode(packed.tobytes()).decode("ascii"))


def _colors(classes) -> list[str]:
    """Blues for class-0 patterns, oranges for class 1 (as the book's figures)."""
    from matplotlib import colormaps  # noqa: PLC0415

    classes = list(classes)
    out = []
    for k, c in enumerate(classes):
        same = [i for i, ci in enumerate(classes) if ci == c]
        t = 0.35 + 0.55 * same.index(k) / max(len(same) - 1, 1)
        r, g, b, _ = colormaps["Blues" if c == 0 else "Oranges"](t)
        out.append(f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}")
    return out


def explorer_html(models: list[dict], element_id: str = "wtm-explorer") -> str:
    """The explorer: a model menu, a neuron number (or rank by |W2|), four SVG panels."""
    for m in models:
        m["colors"] = _colors(m["classes"])
    payload = json.dumps(models, separators=(",", ":"))
    options = "".join(f'<option value="{i}">{html.escape(m["label"])}</option>'
                      for i, m in enumerate(models))
    eid = html.escape(element_id)
    return f"""<div id="{eid}" class="wtm-explorer">
<p><label>model <select class="model">{options}</select></label>
<label>neuron <input class="neuron" type="number" min="0" value="0" style="width:6em"></label>
<label>or rank by |W2| <input class="rank" type="number" min="1" value="1" style="width:6em"></label>
<button class="prev">&larr;</button> <button class="next">&rarr;</button>
<span class="head" style="margin-left:1em"></span></p>
<div class="panels" style="display:flex;flex-wrap:wrap;gap:8px"></div>
</div>
<script>
(function() {{
const M = {payload};
const root = document.getElementById("{eid}");
const bytes = M.map(m => Uint8Array.from(atob(m.data), c => c.charCodeAt(0)));
const W = 300, H = 210, L = 44, R = 8, T = 22, B = 30;
function svg(title, xlab) {{
  return [`<svg width="${{W}}" height="${{H}}" style="background:#fff;font:10px sans-serif">`,
          `<text x="${{W/2}}" y="13" text-anchor="middle" font-weight="bold">${{title}}</text>`,
          `<text x="${{W/2}}" y="${{H-3}}" text-anchor="middle">${{xlab}}</text>`];
}}
function axes(parts, x0, x1, y0, y1) {{
  const sx = v => L + (v - x0) / ((x1 - x0) || 1) * (W - L - R);
  const sy = v => H - B - (v - y0) / ((y1 - y0) || 1) * (H - T - B);
  parts.push(`<rect x="${{L}}" y="${{T}}" width="${{W-L-R}}" height="${{H-T-B}}" fill="none" stroke="#999"/>`);
  for (const v of [y0, (y0 + y1) / 2, y1])
    parts.push(`<text x="${{L-3}}" y="${{sy(v)+3}}" text-anchor="end">${{v.toPrecision(2)}}</text>`);
  for (const v of [x0, x1])
    parts.push(`<text x="${{sx(v)}}" y="${{H-B+11}}" text-anchor="middle">${{+v.toFixed(2)}}</text>`);
  return [sx, sy];
}}
function draw() {{
  const mi = +root.querySelector(".model").value, m = M[mi], b = bytes[mi];
  const inN = root.querySelector(".neuron"), inR = root.querySelector(".rank");
  inN.max = m.n_hidden - 1; inR.max = m.n_hidden;
  let n = Math.min(Math.max(+inN.value || 0, 0), m.n_hidden - 1); inN.value = n;
  inR.value = m.order.indexOf(n) + 1;
  const E = m.epochs.length, P = m.n_pat, per = E * P + P * 5 + 40, off = n * per;
  const lo = m.lo[n], hi = m.hi[n], val = v => lo + v / 255 * (hi - lo);
  root.querySelector(".head").textContent =
    `neuron ${{n}} of ${{m.n_hidden}}: W2 = ${{m.w2[n].toFixed(3)}}, rank ${{inR.value}} by |W2|`;
  const out = [];
  for (const c of [0, 1]) {{
    const parts = svg(`class ${{c}}: pattern means over training`, "epoch");
    const [sx, sy] = axes(parts, m.epochs[0], m.epochs[E - 1], lo, hi);
    for (let k = 0; k < P; k++) {{
      if (m.classes[k] !== c) continue;
      const pts = m.epochs.map((e, i) => `${{sx(e).toFixed(1)}},${{sy(val(b[off + i * P + k])).toFixed(1)}}`);
      parts.push(`<polyline points="${{pts.join(" ")}}" fill="none" stroke="${{m.colors[k]}}" stroke-width="1.2"/>`);
    }}
    out.push(parts.join("") + "</svg>");
  }}
  {{
    const parts = svg("final pre-activations (5-95 %)", "pattern");
    const [sx, sy] = axes(parts, 0, P - 1, lo, hi), f = off + E * P, w = Math.max(2, (W - L - R) / P * 0.6);
    for (let k = 0; k < P; k++) {{
      const q = [0, 1, 2, 3, 4].map(j => sy(val(b[f + k * 5 + j]))), x = sx(k);
      parts.push(`<line x1="${{x}}" x2="${{x}}" y1="${{q[0]}}" y2="${{q[4]}}" stroke="${{m.colors[k]}}"/>`,
                 `<rect x="${{x-w/2}}" y="${{q[3]}}" width="${{w}}" height="${{Math.max(q[1]-q[3], 1)}}" fill="${{m.colors[k]}}"/>`,
                 `<line x1="${{x-w/2}}" x2="${{x+w/2}}" y1="${{q[2]}}" y2="${{q[2]}}" stroke="#000"/>`);
    }}
    out.push(parts.join("") + "</svg>");
  }}
  {{
    const parts = svg("mean sign of dL/da, by class", "mean sign over training");
    const [sx, sy] = axes(parts, -1, 1, 0, 1), s = off + E * P + P * 5, bw = (W - L - R) / 20;
    for (const c of [0, 1]) for (let j = 0; j < 20; j++) {{
      const h = b[s + c * 20 + j] / 255, x = sx(-1 + j * 0.1);
      parts.push(`<rect x="${{x}}" y="${{sy(h)}}" width="${{bw}}" height="${{sy(0)-sy(h)}}" fill="${{c ? "#f28e2b" : "#4e79a7"}}" fill-opacity="0.55"/>`);
    }}
    out.push(parts.join("") + "</svg>");
  }}
  root.querySelector(".panels").innerHTML = out.join("");
}}
root.querySelector(".model").onchange = () => {{ root.querySelector(".neuron").value = M[+root.querySelector(".model").value].order[0]; draw(); }};
root.querySelector(".neuron").oninput = draw;
root.querySelector(".rank").oninput = () => {{
  const m = M[+root.querySelector(".model").value];
  const r = Math.min(Math.max(+root.querySelector(".rank").value || 1, 1), m.n_hidden);
  root.querySelector(".neuron").value = m.order[r - 1]; draw(); }};
root.querySelector(".prev").onclick = () => {{ root.querySelector(".neuron").value = +root.querySelector(".neuron").value - 1; draw(); }};
root.querySelector(".next").onclick = () => {{ root.querySelector(".neuron").value = +root.querySelector(".neuron").value + 1; draw(); }};
root.querySelector(".neuron").value = M[0].order[0];
draw();
}})();
</script>"""
