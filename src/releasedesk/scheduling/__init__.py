"""Pure time calculations the planner stands on (DESIGN.md §4, §4b).

No I/O, no database, deterministic. Every function returns UTC instants; every
local wall-clock time becomes an instant through `releasedesk.core.timeutil`
(gap: move forward to the transition; fold: first occurrence). See
docs/time-rules.md for the vocabulary and the worked S1-S4 examples.

Modules:
- `durations`  absolute `Duration` (lead times) vs `CalendarOffset` (date offsets)
- `windows`    recurring maintenance windows (`WindowRule`, `occurrences`, `next_window`)
- `cadence`    release cycles (`Cadence`, `cycles`, `next_cycle`, `CycleOffset`)
- `deadlines`  deadlines relative to a slot (`DeadlineRule`, `deadline_for`)
- `notice`     notice lead/margin arithmetic and the earliest start with notice
- `blackouts`  fixed, yearly, public-holiday, ICS and freeze blackouts
"""
