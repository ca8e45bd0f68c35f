"""The projector: folds the inventory, detections and actions topics into the store's
instances table that the dashboard reads (a process of its own: ``spendsense project``)."""
