"""Benchmarks: the Black Friday surge against the ERP's physical limit, and the chaos runs.

    from peppasync.bench import BlackFridayOptions, run_black_friday
    figures = run_black_friday(BlackFridayOptions(orders=500), sys.stdout)
    figures["efficiency"], figures["speedup"], figures["lost"]

Both start the sandbox in this process and the engine as a ``peppasync serve``
child process (so it can be SIGKILLed, and its memory measured alone), and judge
the end state from the simulators' ledgers (``peppasync.consistency``).
"""

from .black_friday import TARGETS, BlackFridayOptions, run_black_friday
from .chaos import ChaosOptions, run_chaos
from .figures import ErpFigures, erp_figures, percentile
from .heal import HealFigures, heal_figures, wms_drain
from .report import CHAOS_HEADERS, black_friday_rows, chaos_rows, heal_summary, print_rows, write_json

__all__ = [
    "CHAOS_HEADERS",
    "TARGETS",
    "BlackFridayOptions",
    "ChaosOptions",
    "ErpFigures",
    "HealFigures",
    "black_friday_rows",
    "chaos_rows",
    "erp_figures",
    "heal_figures",
    "heal_summary",
    "percentile",
    "print_rows",
    "run_black_friday",
    "run_chaos",
    "wms_drain",
    "write_json",
]
