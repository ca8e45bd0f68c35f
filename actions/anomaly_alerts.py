"""Which usage anomalies alert: the tenant's setting and the rule the digest applies.

A tenant chooses one of three modes (saved on its row, ``Tenant.anomaly_alerts``):

* ``all``: every anomaly, priced or not (a CPU jump with "no direct cost" may be a
  compromised box);
* ``priced``: only anomalies whose dollar rate is above ``min_usd_per_hour`` (dollars per
  hour, the unit of :attr:`~spendsense.events.AnomalyRecord.dollars_per_hour`; the page
  shows the monthly equivalent, 730 hours a month). The default, at $0/hour: every anomaly
  with a direct cost, so an owner is told of what costs money and not of every change;
* ``none``: no anomaly alerts (they still show on the instance page).

>>> alerts("priced", 0.0, 0.27), alerts("priced", 0.0, None), alerts("priced", 0.5, 0.27)
(True, False, False)
>>> alerts("all", 5.0, None), alerts("none", 0.0, 9.0)
(True, False)
"""

from __future__ import annotations

from typing import Literal, get_args

AnomalyAlertMode = Literal["all", "priced", "none"]
MODES: tuple[str, ...] = get_args(AnomalyAlertMode)
DEFAULT_MODE: AnomalyAlertMode = "priced"
DEFAULT_MIN_USD_PER_HOUR = 0.0
HOURS_PER_MONTH = 730


def alerts(mode: str, min_usd_per_hour: float, dollars_per_hour: float | None) -> bool:
    """Whether an anomaly costing ``dollars_per_hour`` (None: no direct cost) alerts."""
    if mode == "all":
        return True
    if mode == "priced":
        return dollars_per_hour is not None and dollars_per_hour > min_usd_per_hour
    return False
