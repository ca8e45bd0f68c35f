"""One module per resource kind; importing :func:`spendsense.resources.registry.load_kinds` fills
the registry from :data:`spendsense.resources.registry.KIND_MODULES`."""
