"""agent_rt benchmarks: ``python -m bench`` (full) or ``python -m bench --quick``.

Each benchmark returns rows of (figure, value, baseline, ratio, target, met); figures are ratios
measured in the same run, so they compare like with like on whatever machine runs them.
"""
