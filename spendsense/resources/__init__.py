"""Resources other than instances that cost money while unused: each kind a registered plugin
(:mod:`spendsense.resources.registry`), its prices by region (:mod:`spendsense.resources.prices`)."""
