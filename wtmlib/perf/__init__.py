"""``wtm bench`` (``bench``) and FLOP accounting (``flops``): speed measured against the
matmul rate."""
