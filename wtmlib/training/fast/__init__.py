"""The fast engine: equation (1)'s passes written out by hand, tested equal to the
reference engine (``wtmlib.training.reference``). ``passes``: full batch and the linear ablation;
``batchnorm``: Appendix A.1's model; ``sgd``: Section 3.1's step; ``record``: the signals
from closed forms; ``engine``: one model or a stack."""
