"""The pure planner (DESIGN.md §1, issue 4): release + policy + catalogue + facts -> Plan.

Not a Django app: no models, no I/O. `types` holds the inputs and outputs; `planner`
the `plan()` function and its streaming variant; `snapshot` (the only Django-aware
module) builds the inputs from the database. See docs/planning.md.
"""
