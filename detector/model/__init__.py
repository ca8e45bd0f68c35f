"""The online model: a streaming anomaly scorer per metric and an idle judge per instance.

``series`` holds the univariate River anomaly detector (used alone for NAB), ``quiet`` the
quiet-run history that explains long gaps, ``instance`` the per-instance model combining both,
``codec`` its compact byte encoding.
"""
