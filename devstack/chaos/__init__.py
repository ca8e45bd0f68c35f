"""The chaos run: the whole local pipeline under process kills, a broker restart and AWS faults.

:mod:`devstack.chaos.plan` draws the seeded schedule, :mod:`devstack.chaos.environment`
gives the run its own broker, ports and var dir, :mod:`devstack.chaos.driver` starts the
stack (:class:`devstack.demo.LocalStack`) and carries the plan out, and
:mod:`devstack.chaos.checks` verifies what the pipeline promised. ``spendsense chaos``
ties them together and exits non-zero on any breach.
"""
