"""`simbp fit` (the calibration layer): calibrate a scenario against a real system's metrics, and backtest it.

    import simbp
    result = simbp.fit("incident.csv", "reports/incident_fit")
    result.summary["capacity_per_s"], result.summary["backtest"]["lag_nrmse"]

Observed metrics (a CSV or a folder of Prometheus range-query JSON) are checked and repaired
(`observed`, `clean`), capacity and service time are estimated from the saturated periods
(`estimate`), a scenario replaying the observed arrivals is written and validated
(`scenario_out`), replayed and compared with the observations (`backtest`), and reported
(`report`). See docs/fit.md.
"""

from __future__ import annotations

from .run import FitResult, fit

__all__ = ["fit", "FitResult"]
