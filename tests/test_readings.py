"""The readings sweep: its configurations, the registered rule that chooses one,
the chapters' entry point, and the evidence functions every reading is measured with."""

import math
from dataclasses import replace
import numpy as np
import pandas as pd
import pytest

from wtmlib.analysis import tables
from wtmlib.claims import evidence, reading_rule, readings, scorecard, store
from wtmlib.results import provenance, runs
from wtmlib.config import ConfigError
from wtmlib.config import Execution, ModelConfig, TrainConfig
from wtmlib.data import SyntheticConfig, make_synthetic
from wtmlib.model import build_model
from wtmlib.training.loop import train
from wtmlib.claims import registry
from wtmlib.claims.registry import NOT, REPRODUCED, UNTESTABLE

SMALL = dict(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=120, n_hidden=12, epochs=6,
             lr_decay_epoch=4, output_lrs=[1 / 27, 1.0], reading_seeds=1, reading="chosen")


def test_sweep_configs_name_every_reading_of_the_registry():
    cfgs = readings.sweep_configs(TrainConfig(), [1 / 27, 3.0])
    assert list(cfgs) == reading_rule.reading_names([1 / 27, 3.0])
    assert list(cfgs)[:3] == ["Layca on W1 and W2", "W2 lr 1/27, b2 frozen",
                              "W2 lr 1/27, b2 trained"]
    lit = cfgs[reading_rule.LITERAL]
    assert (lit.output_layer, lit.biases) == ("layca", "frozen")
    three = cfgs["W2 lr 3, b2 trained"]
    assert (three.output_layer, three.output_lr, three.biases, three.bias_lr) == (
        "sgd", 3.0, "sgd", 3.0)
    # b2 at the Layca rate: bias_lr 0 ("same as lr"), so the run is keyed once
    assert cfgs["W2 lr 1/27, b2 trained"].bias_lr == 0.0
    assert cfgs[reading_rule.OTHER_LR].lr == 3e-3
    with pytest.raises(ConfigError, match="output_lrs"):
        readings.sweep_configs(TrainConfig(), [])
    with pytest.raises(ConfigError, match="output_lrs"):
        readings.sweep_configs(TrainConfig(), [0.0])
    assert reading_rule.reading_slug("W2 lr 1/27, b2 frozen") == "w2-lr-1-27-b2-frozen"


def _metrics(**by_name):
    return {n: {"test_acc": [t], "train_acc": [f]} for n, (t, f) in by_name.items()}


def test_the_replaced_rule_picked_the_closest_fitting_reading():
    cfgs = readings.sweep_configs(TrainConfig(), [1.0, 3.0])
    m = _metrics(**{"W2 lr 1, b2 frozen": (0.945, 0.993), "W2 lr 1, b2 trained": (0.95, 0.98),
                    "W2 lr 3, b2 frozen": (0.958, 0.999), "W2 lr 3, b2 trained": (0.97, 1.0),
                    reading_rule.LITERAL: (0.961, 0.999), reading_rule.OTHER_LR: (0.961, 0.999)})
    # 0.958 is 0.003 from 0.961, 0.97 is 0.009; 0.95 does not fit; the literal and 3e-3
    # readings are not candidates even where they match the paper exactly
    assert readings.choose_closest(m, cfgs) == "W2 lr 3, b2 frozen"
    m["W2 lr 3, b2 trained"] = {"test_acc": [0.958], "train_acc": [1.0]}
    assert readings.choose_closest(m, cfgs) == "W2 lr 3, b2 frozen"  # tie: frozen b2 first
    m["W2 lr 1, b2 frozen"] = {"test_acc": [0.964], "train_acc": [0.995]}
    assert readings.choose_closest(m, cfgs) == "W2 lr 1, b2 frozen"  # tie: smaller rate
    low = {n: {"test_acc": [0.9], "train_acc": [a]} for n, a in zip(cfgs, np.linspace(.8, .9, 6))}
    assert readings.choose_closest(low, cfgs) == "W2 lr 3, b2 trained"  # none fits


def test_the_rule_picks_the_smallest_rate_that_fits_every_seed_and_never_reads_the_test_set():
    cfgs = readings.sweep_configs(TrainConfig(), [1.0, 3.0, 10.0])
    train = {"W2 lr 1, b2 frozen": [0.99, 1.0], "W2 lr 1, b2 trained": [1.0, 0.999],
             "W2 lr 3, b2 frozen": [1.0, 1.0], "W2 lr 3, b2 trained": [1.0, 1.0],
             "W2 lr 10, b2 frozen": [1.0, 1.0], "W2 lr 10, b2 trained": [1.0, 1.0],
             reading_rule.LITERAL: [1.0, 1.0], reading_rule.OTHER_LR: [1.0, 1.0]}
    rng = np.random.default_rng(0)
    for _ in range(5):  # any test accuracies: the same choice
        m = {n: {"train_acc": a, "test_acc": list(rng.uniform(0.5, 1.0, 2))}
             for n, a in train.items()}
        assert readings.choose(m, cfgs) == "W2 lr 3, b2 frozen"  # rate 1 misses in a seed
    m = {n: {"train_acc": a} for n, a in train.items()}  # no test accuracy at all
    m["W2 lr 3, b2 frozen"] = {"train_acc": [1.0, 0.998]}
    assert readings.choose(m, cfgs) == "W2 lr 3, b2 trained"  # frozen misses: trained next
    none = {n: {"train_acc": [a]} for n, a in zip(cfgs, np.linspace(.8, .9, len(cfgs)))}
    assert readings.choose(none, cfgs) == "W2 lr 10, b2 trained"  # none fits: best training


def test_main_trains_the_sweep_and_returns_the_chosen_reading(results):
    ex = Execution(progress=False)
    data_cfg, model_cfg, train_cfg, name, cfgs = readings.main(SMALL, ex)
    assert name in cfgs and cfgs[name] == train_cfg and model_cfg.n_hidden == 12
    m = readings.metrics(data_cfg, model_cfg, cfgs, [0])
    assert name == readings.choose(m, cfgs)
    assert readings.main({**SMALL, "reading": reading_rule.LITERAL}, ex)[3] == reading_rule.LITERAL
    with pytest.raises(ConfigError, match="reading='W2 lr 7"):
        readings.main({**SMALL, "reading": "W2 lr 7, b2 frozen"}, ex)


MNIST = TrainConfig(lr=1 / 27, epochs=100, lr_decay_epoch=85, batch_size=20000,
                    output_layer="sgd", output_lr=1.0, probe=False, keep_probe_means=False)


def test_a_reading_gives_the_mnist_regime_its_output_layer_and_nothing_else():
    # Appendix A.1 keeps its own regime (epochs, decay, batch size): only the fields that
    # say how the output layer learns come from the reading
    cfgs = readings.sweep_configs(TrainConfig(), [1 / 27, 1.0, 3.0])
    for name, cfg in cfgs.items():
        if name == reading_rule.OTHER_LR:
            continue
        got = readings.apply_reading(MNIST, cfg)
        assert {f: getattr(got, f) for f in readings.READING_FIELDS} == {
            f: getattr(cfg, f) for f in readings.READING_FIELDS}, name
        assert replace(got, **{f: getattr(MNIST, f) for f in readings.READING_FIELDS}) == MNIST
        # on the regime the sweep was made from, the reading is the sweep's own run
        assert readings.apply_reading(TrainConfig(), cfg) == cfg
    # the fields are exactly those the grid sets
    assert set(readings.READING_FIELDS) == {
        f for f in ("output_layer", "output_lr", "biases", "bias_lr", "lr")
        if len({getattr(c, f) for n, c in cfgs.items() if n != reading_rule.OTHER_LR}) > 1}


def test_a_reading_keeps_its_rates_where_the_layca_rates_differ():
    cfgs = readings.sweep_configs(TrainConfig(), [1 / 27, 3.0])
    other = replace(MNIST, lr=0.1)
    # b2 trained at the Layca rate 1/27 (bias_lr 0: "same as lr") stays at 1/27
    got = readings.apply_reading(other, cfgs["W2 lr 1/27, b2 trained"])
    assert (got.lr, got.output_lr, got.biases, got.bias_lr) == (0.1, 1 / 27, "sgd", 1 / 27)
    got = readings.apply_reading(other, cfgs["W2 lr 3, b2 trained"])
    assert (got.output_lr, got.bias_lr) == (3.0, 3.0)
    # a rate equal to the regime's Layca rate is keyed as 0, as the sweep keys it
    reading = replace(TrainConfig(), output_layer="sgd", output_lr=0.1, biases="sgd",
                      bias_lr=0.1)
    assert readings.apply_reading(other, reading).bias_lr == 0.0


def test_mnist_takes_the_chosen_readings_output_layer_and_keeps_its_own_beside(results):
    ex = Execution(progress=False)
    params = dict(root="", n_train=600, n_test=200, scaling="pixels/255", n_hidden=8,
                  activation="relu", batchnorm=True, lr=1 / 27, epochs=3, lr_decay_epoch=2,
                  batch_size=200, biases="frozen", output_layer="sgd", output_lr=1.0,
                  reading="chosen")
    data, model, train, fixed, name, cfgs = readings.mnist(params, SMALL, ex)
    assert name == readings.main(SMALL, ex)[3] and set(cfgs) == set(readings.main(SMALL, ex)[4])
    assert train == readings.apply_reading(fixed, cfgs[name])
    assert (fixed.output_layer, fixed.output_lr, fixed.biases, fixed.batch_size, fixed.epochs) \
        == ("sgd", 1.0, "frozen", 200, 3)
    assert (data.n_train, model.batchnorm, train.batch_size, train.epochs) == (600, True, 200, 3)
    lit = readings.mnist({**params, "reading": reading_rule.LITERAL}, SMALL, ex)
    assert lit[4] == reading_rule.LITERAL and lit[2].output_layer == "layca"
    with pytest.raises(ConfigError, match="Layca rate"):
        readings.mnist({**params, "reading": reading_rule.OTHER_LR}, SMALL, ex)


def test_gated_sign_null_is_the_first_step_the_recorder_sees():
    """One full-batch step recording sign(dL/dz): its mean is ``gated_sign_at`` of the
    initial weights, the null of F3-sign-class-gated."""
    data = make_synthetic(SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=120, n_test=60))
    model_cfg = ModelConfig(n_hidden=10)
    out = train(data, model_cfg, TrainConfig(epochs=1, keep_dz_sign=True), Execution(progress=False))
    init = build_model(40, model_cfg, 0)
    first = evidence.gated_sign_at(data.x_train, data.y_train.numpy(), init.hidden.weight.detach(),
                                   init.w2.detach())
    np.testing.assert_array_equal(out.arrays["dz_sign_total"], first)
    assert set(np.unique(first)) <= {-1.0, 0.0, 1.0} and (first == 0).any()


def test_remaining_and_favourite_agreement():
    ev = evidence.remaining([0.1, 0.3], [0.4, 0.5], "x")
    assert ev.values == [pytest.approx(0.25), pytest.approx(0.6)] and ev.null == 1.0
    assert math.isnan(evidence.remaining([0.1], [0.0], "x").values[0])
    arrays = {"pattern_means_train": np.random.default_rng(0).normal(size=(3, 8, 6)),
              "sign_class_sums": np.stack([np.ones((3, 8)), -np.ones((3, 8))])}
    assert evidence.favourite_agreement(arrays, arrays, 6) == 1.0
    other = dict(arrays, pattern_means_train=-arrays["pattern_means_train"])
    assert evidence.favourite_agreement(arrays, other, 6) < 1.0
    # neurons whose active class changed are left out of the share (not counted as misses)
    def sums(sign0, sign1):  # count, sum, sum of squares of the mean sign, per class
        return np.stack([np.stack([np.ones(8), s, np.ones(8)]) for s in (sign0, sign1)])

    means = arrays["pattern_means_train"]
    base = {"pattern_means_train": means, "sign_class_sums": sums(np.ones(8), -np.ones(8))}
    half = np.r_[-np.ones(4), np.ones(4)]  # neurons 0-3 change their active class
    swapped = {"pattern_means_train": -means, "sign_class_sums": sums(half, -half)}
    only = lambda r: {"pattern_means_train": r["pattern_means_train"][:, 4:],  # noqa: E731
                      "sign_class_sums": r["sign_class_sums"][..., 4:]}
    assert evidence.favourite_agreement(base, swapped, 6) == evidence.favourite_agreement(
        only(base), only(swapped), 6)  # neurons 4-7 only
    every = {"pattern_means_train": means, "sign_class_sums": sums(-np.ones(8), np.ones(8))}
    assert math.isnan(evidence.favourite_agreement(base, every, 6))


class _Run(dict):
    def __init__(self, means, sums):
        super().__init__(pattern_means_train=means, sign_class_sums=sums)


def test_the_causal_test_pools_every_base_and_redraw(results):
    rng = np.random.default_rng(1)
    sums = np.stack([np.stack([np.ones(8), s * np.ones(8), np.ones(8)]) for s in (1, -1)])
    bases = [_Run(rng.normal(size=(3, 8, 6)), sums) for _ in range(3)]
    same = [[_Run(b["pattern_means_train"], sums)] * 2 for b in bases]  # favourites kept
    new = [[_Run(rng.normal(size=(3, 8, 6)), sums)] * 2 for _ in bases]
    ev = evidence.causal(bases, same, new, 6)["F3-init-decides-causal"]
    assert ev.values == [1.0] * 6 and 0.0 <= ev.null < 0.6 and "3 base seed(s) x 2" in ev.note
    assert evidence.save({"F3-init-decides-causal": ev._replace(values=ev.values[:2])}) == {
        "F3-init-decides-causal": UNTESTABLE}  # fewer than 3 values (and no F3 recorded)


def test_with_sd_and_sweep_summary():
    mean = pd.DataFrame([[0.5, 1.0]], index=["a"], columns=["x", "y"])
    sd = pd.DataFrame([[0.1, np.nan]], index=["a"], columns=["x", "y"])
    assert tables.with_sd(mean, sd, 2).loc["a"].tolist() == ["0.50 ± 0.10", "1.00"]
    rows = {"r": [dict(test_acc=0.9, crossing=None), dict(test_acc=0.8, crossing=6)],
            "s": [dict(test_acc=0.7, crossing=None)]}
    out = tables.sweep_summary(rows)
    assert out.loc["r", "test_acc"] == pytest.approx(0.85)
    assert out.loc["r", "test_acc sd"] == pytest.approx(np.std([0.9, 0.8], ddof=1))
    assert (out.loc["r", "crossing"], out.loc["r", "crossed"]) == (6.0, "1/2")
    assert math.isnan(out.loc["s", "crossing"]) and out.loc["s", "crossed"] == "0/1"


def test_a_reading_has_its_own_claims_folder(results):
    assert store.claims_dir("paper@w2-lr-3-b2-frozen") == results / "claims" / "paper" / \
        "readings" / "w2-lr-3-b2-frozen"
    store.save("S-acc", 95.0, profile="paper@w2-lr-3-b2-frozen")
    assert store.load("S-acc", "paper") is None
    assert store.load("S-acc", "paper@w2-lr-3-b2-frozen")["verdict"] == registry.REPRODUCED
    store.save("S-acc", 80.0)
    page = scorecard.readings_html({"main": "paper", "W2 lr 3": "paper@w2-lr-3-b2-frozen"},
                                   {"F1-best-sigma": "the same under every reading"})
    assert "not run" in page and "the same under every reading" in page
    assert page.count("not reproduced") == 1 and "95" in page
    assert not provenance.is_preview("paper@w2-lr-3-b2-frozen")


def test_a_mean_with_a_seed_that_never_crossed_says_so(results):
    """An infinite mean over seeds is "never in some seed" with the per-seed values beside
    it on the readings page; one seed that never crossed is "never"."""
    store.save_seeds("B-output-scale", [math.inf, 31, 32],
                       note="crossing per seed: never, 31, 32")
    store.save_seeds("B-output-scale", [math.inf], note="crossing per seed: never",
                       profile="paper@w2-lr-3-b2-frozen")
    rows = {p: {r["id"]: r for r in store.table(p)}["B-output-scale"]
            for p in ("paper", "paper@w2-lr-3-b2-frozen")}
    assert scorecard.format_value(rows["paper"]) == "never in some seed (n=3)"
    assert scorecard.format_value(rows["paper@w2-lr-3-b2-frozen"]) == "never (n=1)"
    page = scorecard.readings_html({"main": "paper", "W2 lr 3": "paper@w2-lr-3-b2-frozen"}, {})
    assert "(crossing per seed: never, 31, 32)" in page and "(crossing per seed: never)" in page


def test_evidence_of_a_reading_matches_the_tables_it_comes_from(tmp_path, results):
    """The evidence functions on two tiny stored runs: every Section 4.1 claim with its
    null from the same runs at initialization, the Figure 5 timing with 'never' as
    infinity, and the learning order over the rise window."""
    data, model = SyntheticConfig(n_dim=40, l_pat=2, n_pat=6, n_train=300, n_test=60), \
        ModelConfig(n_hidden=12)
    rs = [runs.run(replace(data, seed=s), model, TrainConfig(epochs=6, seed=s), "s4",
                   root=tmp_path) for s in (0, 1)]
    found = evidence.mechanism(rs, early_epoch=2)
    assert set(found) == {"S-acc", "F3-winner-take-most", "F3-one-class", "F3-intraclass",
                          "F3-divide-and-conquer", "F3-init-decides", "F3-sign-class",
                          "F3-losers-fall"}
    losers = found["F3-losers-fall"]
    assert all(0 <= v <= 1 for v in losers.values) and len(losers.null) == 2
    nulls = tables.null_table(rs).astype(float)
    np.testing.assert_allclose(found["F3-intraclass"].null,
                               nulls["intraclass_exceeds_strict_share"])
    assert list(found["S-acc"].values) == [100 * r.metrics["test_acc"] for r in rs]
    timing_ev, timing = evidence.figure5(rs, 1.5)
    crossings = timing.crossing.astype(float).values
    assert crossings.shape == (2,) and all(c >= 0 for c in crossings)  # an epoch or inf
    occurs = timing_ev["F5-crossing-occurs"]
    assert occurs.n == 2 and occurs.values == [np.isfinite(crossings).mean()]
    epoch = timing_ev["F5-crossing-epoch"]
    if np.isfinite(crossings).any():
        assert epoch.values == [np.median(crossings[np.isfinite(crossings)])]
    else:  # no epoch to judge: saved as not testable
        assert epoch.n == 0 and evidence.save({"F5-crossing-epoch": epoch}) == {
            "F5-crossing-epoch": UNTESTABLE}
    order_ev, order = evidence.learning_order(rs, 3, control=rs[:1])
    h = rs[0].history
    assert order_ev["S5-easy-first"].values.iloc[0] == pytest.approx(
        np.mean(h["acc_regular"][1:4] - h["acc_difficult"][1:4]))
    assert order_ev["S5-easy-first"].null == [order_ev["S5-easy-first"].values.iloc[0]]
    assert evidence.learning_order(rs, 3)[0]["S5-easy-first"].null is None


def _timing(crossing, onset):
    return pd.DataFrame({"crossing": np.asarray(crossing, float), "onset": np.asarray(onset, float)})


def test_figure_5s_dates_are_judged_on_the_pairs_where_both_happen(results):
    inf = math.inf
    # dates that move together, the crossing first: both claims hold
    together = [_timing([5, 9, inf], [6, 10, 12]), _timing([20, 30], [22, 31]),
                _timing([inf, 40], [inf, 41])]
    found = evidence.same_time(together)
    assert found["F5-same-time"].n == 5 and found["F5-same-time"].values == [pytest.approx(1.0)]
    assert found["F5-order"].values == [1.0]
    verdicts = evidence.save(found)
    assert verdicts == {"F5-same-time": REPRODUCED, "F5-order": REPRODUCED}
    # the paper profile's case: the onset always first, the dates unrelated: both fail
    late = [_timing([31, 32, 31, 35, inf], [25, 26, 25, 26, 25]), _timing([13, 19], [25, 24])]
    found = evidence.same_time(late)
    assert found["F5-order"].values == [pytest.approx(2 / 6)]
    assert evidence.save(found)["F5-order"] == NOT
    # fewer than 5 pairs: not testable
    assert evidence.save(evidence.same_time([_timing([3, inf], [4, 5])]))["F5-same-time"] \
        == UNTESTABLE


def _history(grad, loss):
    return {"grad_share_difficult": np.asarray(grad, float),
            "share_difficult": np.asarray(loss, float)}


def test_gradient_shares_are_judged_on_when_each_share_reaches_one_half(results):
    # seed 0: the gradient share reaches 0.5 at epoch 2, the loss share at 4; seed 1:
    # both at epoch 3; seed 2: the gradient share peaks at 0.45, the loss share at 0.6
    runs_ = [_history([0.2, 0.4, 0.55, 0.6, 0.7], [0.1, 0.2, 0.3, 0.45, 0.5]),
             _history([0.2, 0.3, 0.4, 0.5, 0.6], [0.1, 0.3, 0.4, 0.5, 0.6]),
             _history([0.2, 0.3, 0.4, 0.45, 0.4], [0.1, 0.3, 0.4, 0.6, 0.6])]
    found, table = evidence.gradient_shares(runs_, [0, 1, 2])
    assert list(table.gradient) == [2, 3, math.inf] and list(table.loss) == [4, 3, 3]
    assert found["F5-gradient-dominant"].values == [pytest.approx(2 / 3)]
    assert found["F5-gradient-dominant"].n == 3
    assert found["F5-gradient-first"].values == [1.0] and found["F5-gradient-first"].n == 2
    verdicts = evidence.save(found)
    assert verdicts == {"F5-gradient-dominant": registry.PARTLY,
                        "F5-gradient-first": REPRODUCED}
    # the loss share first in every seed, and the gradient share never in one: both fail
    late = [_history([0.2, 0.3, 0.5], [0.5, 0.6, 0.7]), _history([0.1, 0.2, 0.3], [0.6] * 3)]
    found = evidence.gradient_shares(late, [0, 1])[0]
    assert found["F5-gradient-dominant"].values == [0.5]
    assert found["F5-gradient-first"].values == [0.0]
    assert evidence.save(found)["F5-gradient-first"] == NOT
    never = [_history([0.1, 0.2], [0.1, 0.2])]
    found = evidence.gradient_shares(never, [0])[0]
    assert evidence.save(found) == {"F5-gradient-dominant": NOT,
                                    "F5-gradient-first": UNTESTABLE}
