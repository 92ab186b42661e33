"""Training: one loop (``loop``) over the readable ``reference`` engine or the ``fast`` one
(the same passes written out, tested equal), checkpoints and safe file writes."""
