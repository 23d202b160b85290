"""A short flash sale in the sandbox: the engine keeps Shopify's stock true without being throttled."""

from __future__ import annotations

from peppasync.flash_sale import FlashSalePlan, run_flash_sale

from tests.peppasync.serving import free_port


def test_a_flash_sale_sells_out_without_oversold_units_or_throttled_calls(tmp_path):
    plan = FlashSalePlan(skus=60, stock=6, buffer=3, warmup=2.0, burst=12.0, settle=4.0, time_scale=5.0, seed=3)

    result = run_flash_sale(plan, "engine", tmp_path, free_port())

    assert result.refused > 0, "the sale should sell SKUs out"
    assert result.oversold_units == 0
    assert result.throttled_total == 0
    assert result.lag_p50 is not None
