"""The simbp what-if dashboard: `streamlit run app.py`.

A thin entry point: the page is `simbp.dashboard.ui.main` (widgets), over `simbp.dashboard`
(scenarios, controls, runs, charts, lessons), over the library (`simbp.run`).
"""

from simbp.dashboard.ui import main

main()
