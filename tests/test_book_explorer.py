"""The neuron explorer's data: what the page decodes is what the run holds (to one
part in 255 of each neuron's range)."""

import base64

import numpy as np

from wtmlib.book import explorer


def _toy(seed=0, epochs=30, n_hidden=5, n_pat=6, n_in=8, n_train=120):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(epochs + 1, n_hidden, n_pat)).cumsum(0)
    w1 = rng.normal(size=(n_hidden, n_in))
    w2 = rng.normal(size=n_hidden)
    p = np.arange(n_train) % n_pat
    classes = np.array([0] * (n_pat // 2) + [1] * (n_pat // 2))
    y = classes[p]
    x = rng.normal(size=(n_train, n_in))
    mean_sign = np.clip(rng.normal(size=(n_train, n_hidden)), -1, 1)
    return means, w1, w2, mean_sign, x, p, y, classes


def _decode(m):
    E, P, n = len(m["epochs"]), m["n_pat"], m["n_hidden"]
    raw = np.frombuffer(base64.b64decode(m["data"]), np.uint8).reshape(n, -1)
    lo, hi = np.array(m["lo"])[:, None], np.array(m["hi"])[:, None]
    val = lambda a: lo[..., None] + a / 255 * (hi - lo)[..., None]  # noqa: E731
    traj = val(raw[:, :E * P].reshape(n, E, P).astype(float))
    final = val(raw[:, E * P:E * P + P * 5].reshape(n, P, 5).astype(float))
    sign = raw[:, E * P + P * 5:].reshape(n, 2, 20) / 255
    return traj, final, sign


def test_the_page_data_decodes_to_the_run_within_one_step_of_its_scale():
    means, w1, w2, mean_sign, x, p, y, classes = _toy()
    m = explorer.model_data(means, w1, w2, mean_sign, x, p, y, classes, "toy", max_epochs=11)
    assert m["epochs"][0] == 0 and m["epochs"][-1] == 30 and len(m["epochs"]) == 11
    traj, final, sign = _decode(m)
    step = (np.array(m["hi"]) - np.array(m["lo"])) / 255  # [n_hidden]
    want = means[m["epochs"]].transpose(1, 0, 2)
    assert np.all(np.abs(traj - want) <= step[:, None, None] / 2 + 1e-4)
    z = x @ w1.T
    median_of_pattern_2 = np.median(z[p == 2], axis=0)
    assert np.all(np.abs(final[:, 2, 2] - median_of_pattern_2) <= step / 2 + 1e-4)
    assert np.allclose(sign.max(axis=(1, 2)), 1.0)  # normalised to the tallest bin
    counts = np.array([np.histogram(mean_sign[y == c, 0], 20, (-1, 1))[0] for c in (0, 1)])
    assert np.allclose(sign[0], counts / counts.max(), atol=1 / 255)  # neuron 0, both classes
    assert m["order"][0] == int(np.argmax(np.abs(w2)))


def test_the_explorer_page_has_no_external_script_and_holds_every_model():
    a = explorer.model_data(*_toy(0), "first")
    b = explorer.model_data(*_toy(1, n_pat=4), "second")
    page = explorer.explorer_html([a, b])
    assert page.count("<option") == 2 and "first" in page and "second" in page
    assert "<script>" in page and "src=" not in page
