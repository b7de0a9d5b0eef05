"""Bootstrap intervals and paired tests against cases with known answers."""
import math
import time

import numpy as np
import pytest

from recalign.errors import RecalignError
from recalign.eval.metrics import PerUser, rating_metrics
from recalign.eval.significance import (intervals, metric_value, paired_difference, resample_counts,
                                        seed_summary)

USERS = [f"u{i:03d}" for i in range(200)]


def _pu(col, users=USERS, name="recall@10"):
    return PerUser(list(users), {name: np.asarray(col, dtype=float)})


def test_identical_models_differ_by_exactly_zero():
    rng = np.random.default_rng(3)
    a = PerUser(USERS, {"ndcg@10": rng.random(200), "recall@10": (rng.random(200) < 0.3).astype(float),
                        "sq_err": rng.random(200) * 4})
    d = paired_difference(a, a, ["ndcg@10", "recall@10", "rmse"])
    for k in ("ndcg@10", "recall@10", "rmse"):
        assert (d[k].value, d[k].low, d[k].high) == (0.0, 0.0, 0.0)
        assert d[k].p == 1.0 and not d[k].significant and d[k].users == 200


def test_large_constructed_difference_is_significant():
    a = _pu([1.0] * 160 + [0.0] * 40)          # recall 0.8
    b = _pu([1.0] * 40 + [0.0] * 160)          # recall 0.2, same users
    d = paired_difference(a, b, ["recall@10"], n_resamples=1000)["recall@10"]
    assert d.value == pytest.approx(0.6)
    assert 0.5 < d.low < d.value < d.high < 0.7
    assert d.p == pytest.approx(1 / 1001) and d.significant
    d_rev = paired_difference(b, a, ["recall@10"])["recall@10"]
    assert d_rev.value == pytest.approx(-0.6) and d_rev.high < 0 and d_rev.significant


def test_sign_flip_p_matches_the_exact_sign_test():
    """20 users better, 10 worse, 170 tied: the exact two-sided sign test gives
    P(|2B - 30| >= 10), B ~ Binomial(30, 1/2) = 0.0987."""
    a = _pu([1.0] * 20 + [0.0] * 10 + [0.0] * 170)
    b = _pu([0.0] * 20 + [1.0] * 10 + [0.0] * 170)
    exact = 2 * sum(math.comb(30, k) for k in range(20, 31)) / 2 ** 30
    d = paired_difference(a, b, ["recall@10"], n_resamples=4000)["recall@10"]
    assert exact == pytest.approx(0.0987, abs=1e-4)
    assert d.p == pytest.approx(exact, abs=0.02) and not d.significant
    assert d.low < 0 < d.high       # the interval agrees: 0 is inside


def test_bernoulli_interval_has_the_textbook_width():
    """p = 0.5 over 400 users: 95% interval ≈ 0.5 ± 1.96·sqrt(0.25/400) = 0.5 ± 0.049."""
    users = [f"u{i}" for i in range(400)]
    e = intervals(_pu([1.0, 0.0] * 200, users), ["recall@10"], n_resamples=2000)["recall@10"]
    assert e.value == 0.5 and e.users == 400
    assert e.low == pytest.approx(0.451, abs=0.01) and e.high == pytest.approx(0.549, abs=0.01)


def test_constant_metric_has_a_zero_width_interval():
    e = intervals(_pu([0.1] * 200, name="ndcg@10"), ["ndcg@10"])["ndcg@10"]
    assert e.low == e.value == e.high == pytest.approx(0.1)


def test_rmse_from_squared_errors_and_missing_answers():
    pred, true = [3.0, 5.0, 2.0, 4.0], [4.0, 4.0, 4.0, 4.0]
    m = rating_metrics(pred, true, users=["a", "b", "c", "d"])
    assert metric_value(m["per_user"], "rmse") == pytest.approx(m["rmse"])
    assert metric_value(m["per_user"], "mae") == pytest.approx(m["mae"])
    pu = PerUser(["a", "b", "c"], {"sq_err": [1.0, np.nan, 9.0]})   # b unparsable: left out
    e = intervals(pu, ["rmse"])["rmse"]
    assert e.value == pytest.approx(math.sqrt(5.0)) and e.users == 2 and 1.0 <= e.low <= e.high <= 3.0


def test_mismatched_users_are_refused():
    a = _pu([1.0] * 200)
    b = _pu([1.0] * 100, USERS[:100])
    with pytest.raises(RecalignError, match=r"cannot pair a \(200 users\) with b \(100 users\): 100 users only in a"):
        paired_difference(a, b, ["recall@10"])


def test_pairing_is_by_user_id_not_by_position():
    rng = np.random.default_rng(0)
    v = rng.random(200)
    a = PerUser(USERS, {"ndcg@10": v})
    shuffled = rng.permutation(200)
    b = PerUser([USERS[i] for i in shuffled], {"ndcg@10": v[shuffled]})
    d = paired_difference(a, b, ["ndcg@10"])["ndcg@10"]
    assert (d.value, d.low, d.high, d.p) == (0.0, 0.0, 0.0, 1.0)


def test_seeded_and_reproducible():
    v = np.random.default_rng(1).random(200)
    e1 = intervals(_pu(v), ["recall@10"], seed=7)["recall@10"]
    e2 = intervals(_pu(v), ["recall@10"], seed=7)["recall@10"]
    e3 = intervals(_pu(v), ["recall@10"], seed=8)["recall@10"]
    assert e1 == e2 and (e1.low, e1.high) != (e3.low, e3.high)
    assert resample_counts(50, 30, 0).sum(axis=1).tolist() == [50.0] * 30


def test_ten_models_on_943_users_in_well_under_a_second():
    rng = np.random.default_rng(0)
    users = [str(i) for i in range(943)]
    cols = [f"{m}@{k}" for m in ("recall", "ndcg", "mrr") for k in (5, 10, 20)]
    models = [PerUser(users, {c: rng.random(943) for c in cols}) for _ in range(10)]
    t0 = time.perf_counter()
    for m in models:
        intervals(m, cols, n_resamples=1000)
        paired_difference(m, models[0], cols, n_resamples=1000)
    assert time.perf_counter() - t0 < 1.0


def test_seed_summary():
    mean, std, n = seed_summary([0.036, 0.040, 0.038])
    assert (mean, n) == (pytest.approx(0.038), 3) and std == pytest.approx(0.002)
    assert seed_summary([0.5]) == (0.5, 0.0, 1)
