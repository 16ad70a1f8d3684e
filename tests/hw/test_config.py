"""ArrayConfig validation and derived values."""

import pytest

from hw.rtl.core import BinaryCore

from hw.config import (ArrayConfig, ConfigError, mem_piece_words, mem_read_latency, mem_slice_bits,
                       popcount_latency)


@pytest.mark.parametrize("kwargs, words", [
    ({"simd": 0}, "simd"), ({"rows": 0}, "rows"), ({"cols": 0}, "cols"),
    ({"simd": 48}, "power of two"), ({"max_k": 0}, "max_k"), ({"pool_bits": 40}, "pool_bits"),
    ({"rows": 2.5}, "rows"), ({"clock_mhz": 0}, "clock_mhz"),
])
def test_bad_configs_rejected_with_a_clear_message(kwargs, words):
    with pytest.raises(ConfigError, match=words):
        ArrayConfig(**kwargs)


def test_derived_values():
    cfg = ArrayConfig(rows=4, cols=3, simd=32, max_k=100, max_m=10, max_n=7)
    assert cfg.kw_max == 4
    assert cfg.acc_width == 7                       # 100 < 2**7
    assert cfg.mm_result_width == 8
    assert cfg.pe_popcount_latency == popcount_latency(32) == 3
    assert cfg.mm_read_latency == 1 + 7             # address register + one-piece memory
    assert cfg.tile_flush == 8 + 3 + 2 + 1 + cfg.pe_latency
    assert cfg.a_bank_depth == 3 * 4 and cfg.w_bank_depth == 3 * 4
    assert cfg.lane_width % 8 == 0 and cfg.lane_width >= cfg.pool_sum_width
    assert cfg.out_fifo_depth >= 2 * cfg.rows
    with pytest.raises(AttributeError):
        cfg.acc_width = 3


def test_accumulator_holds_max_k():
    for k in (1, 2, 63, 64, 2048, 2047):
        cfg = ArrayConfig(max_k=k)
        assert (1 << cfg.acc_width) > k >= (1 << (cfg.acc_width - 1))


@pytest.mark.parametrize("words, bits", [(16384, 1), (9000, 1), (8192, 2), (4096, 4), (2048, 9),
                                         (1024, 18), (16, 18), (32768, 1)])
def test_slice_is_one_dp16kd_shape(words, bits):
    assert mem_slice_bits(words) == bits


def test_memory_pieces_and_read_latency():
    assert mem_piece_words(8192, 16384) == 8192 and mem_piece_words(5000, 16384) == 8192
    assert mem_piece_words(8192, 2048) == 2048
    assert mem_read_latency(8192, 16384) == 7          # 2 input, RAM, output, 3 transport
    assert mem_read_latency(8192, 2048) == 8           # + one 4:1 level over 4 pieces
    assert mem_read_latency(2500, 512) == 9            # 5 pieces: two 4:1 levels


@pytest.mark.parametrize("rows, pool_max_dim", [(1, 8), (4, 1024), (16, 1024)])
def test_fifo_credit_margins_and_depth(rows, pool_max_dim):
    cfg = ArrayConfig(rows=rows, pool_max_dim=pool_max_dim)
    assert cfg.mm_credit_margin == 3 * rows            # tile starts the credit cannot see yet
    assert cfg.pool_credit_margin == 3                 # 2 unseen issues + 1 output between counts
    # rows promised by the tiles in flight, counted here by walking tile starts: tiles of m
    # rows start max(1, R + C + m - 2) cycles apart (KW = 1) and stay promised for
    # 1 + tile_flush + m cycles
    flight = 0
    for m in range(1, rows + 1):
        period = max(1, rows + cfg.cols + m - 2)
        window = 1 + cfg.tile_flush + m
        flight = max(flight, m * len([t for t in range(0, window + period, period)
                                      if t < window + period - 1 and t <= window]))
    assert cfg.out_fifo_depth >= 3 * rows + flight + 3 + 5   # margin + in flight + staged
    need = max(3 * rows + BinaryCore.rows_in_flight(rows, cfg.cols, cfg.tile_flush) + 8,
               cfg.pool_latency + 8)
    assert cfg.out_fifo_depth == 1 << (need - 1).bit_length()


def test_default_latencies():
    cfg = ArrayConfig()
    assert (cfg.pe_latency, cfg.mm_read_latency, cfg.tile_flush) == (5, 8, 20)
    assert (cfg.pool_latency, cfg.result_latency, cfg.out_fifo_depth) == (5, 5, 64)
