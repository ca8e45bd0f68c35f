"""Off-hours schedules: weekly periods in a time zone (:mod:`actions.schedules.periods`) and
the scheduler that stops instances outside them and starts them inside
(:mod:`actions.schedules.scheduler`)."""
