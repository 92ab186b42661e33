"""Claims: the registry of the paper's claims, their tests and rules (``registry``), each
claim's values from runs (``evidence``), the optimizer readings (``readings``) and the
rule that chose one (``reading_rule``), stored verdicts (``store``) and the scorecard."""
