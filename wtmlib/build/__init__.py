"""What ``wtm`` runs: the CLI (``cli``), the training plan (``plan``), the papermill
pipeline (``pipeline``), progress and ETA (``progress``)."""
