"""The chaos run: the whole local pipeline under process kills, a broker restart and AWS faults.

:mod:`spendsense.chaos.plan` draws the seeded schedule, :mod:`spendsense.chaos.environment`
gives the run its own broker, ports and var dir, :mod:`spendsense.chaos.driver` starts the
stack (:class:`spendsense.demo.LocalStack`) and carries the plan out, and
:mod:`spendsense.chaos.checks` verifies what the pipeline promised. ``spendsense chaos``
ties them together and exits non-zero on any breach.
"""
