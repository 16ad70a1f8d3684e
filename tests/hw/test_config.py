"""ArrayConfig validation and derived values."""

from dataclasses import replace

import pytest

from hw.rtl.core import BinaryCore

from hw.config import (ArrayConfig, ConfigError, mem_piece_words, mem_read_latency, mem_slice_bits,
                       popcount_latency)


def assert_switch_field(base: ArrayConfig, name: str, tag: str, top: int = 1) -> None:
    """``name`` is a field of 0 .. ``top`` added after the first records: left out of
    ``to_dict`` at 0 and read back as 0 when absent, ``tag`` added to the config's tag at 1,
    ``top`` + 1 refused."""
    on = replace(base, **{name: 1})
    assert on.tag == base.tag + tag and name not in base.to_dict()
    assert ArrayConfig.from_dict(on.to_dict()) == on
    assert getattr(ArrayConfig.from_dict(base.to_dict()), name) == 0
    allowed = "0 or 1" if top == 1 else ", ".join(map(str, range(top))) + f" or {top}"
    with pytest.raises(ConfigError, match=f"{name} must be {allowed}, got {top + 1}"):
        replace(base, **{name: top + 1})


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
    assert cfg.pe_popcount_latency == popcount_latency(32) == 2   # leaves, then 2 adder levels
    assert cfg.mm_read_latency == 1 + 8             # address register + one-piece memory
    assert cfg.tile_flush == 9 + 3 + 2 + 1 + cfg.pe_latency
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
    assert mem_read_latency(8192, 16384) == 8          # 3 input, RAM, output, 3 transport
    assert mem_read_latency(8192, 2048) == 9           # + one 4:1 level over 4 pieces
    assert mem_read_latency(2500, 512) == 10           # 5 pieces: two 4:1 levels


@pytest.mark.parametrize("rows, drain_rows, pool_max_dim",
                         [(1, 2, 8), (4, 2, 1024), (16, 2, 1024), (4, 1, 1024), (8, 4, 1024)])
def test_fifo_credit_margins_and_depth(rows, drain_rows, pool_max_dim):
    cfg = ArrayConfig(rows=rows, drain_rows=drain_rows, pool_max_dim=pool_max_dim)
    beats = -(-rows // cfg.drain_rows_eff)                # result beats of a full tile
    assert cfg.tile_beats == beats
    assert cfg.mm_credit_margin == 3 * beats           # tile starts the credit cannot see yet
    assert cfg.pool_credit_margin == 3                 # 2 unseen issues + 1 output between counts
    q = rows + cfg.cols - 1                            # bank period of a one-row tile
    tiles = 2 * ((cfg.tile_flush + beats - 2 + (q + 1) // 2) // q) + 2
    need = max(3 * beats + tiles * beats + 8, cfg.pool_latency + 8)   # margin, in flight, staged
    assert cfg.out_fifo_depth == 1 << (need - 1).bit_length()


@pytest.mark.parametrize("banks", [2, 3, 4])
def test_tiles_in_flight_bound_holds(banks):
    """No more tiles are promised at once than the FIFO sizing assumes, whatever KW: the tile
    reader's schedule (tile_period, bank_period over ``banks`` tiles) with the output always
    ready."""
    from hw.rtl.core import BinaryCore

    for rows, cols, drain_rows in ((1, 1, 1), (2, 2, 1), (4, 4, 2), (3, 5, 3), (8, 8, 2)):
        cfg = ArrayConfig(rows=rows, cols=cols, drain_rows=drain_rows, hold_banks=banks)
        bound = BinaryCore.tiles_in_flight(cfg.tile_beats, cfg.bank_period(1), cfg.tile_flush,
                                           banks)
        for kw in range(1, 3 * cfg.bank_period(rows)):
            for m_rows in (rows, 1):
                ends = [0]
                for i in range(1, 60):
                    t = ends[-1] + cfg.tile_period(m_rows, kw)
                    if i >= banks:
                        t = max(t, ends[-banks] + cfg.bank_period(m_rows))
                    ends.append(t)
                beats = cfg.tile_beats if m_rows == rows else 1
                spans = [(t - kw + 1, t + cfg.tile_flush + beats - 1) for t in ends]
                most = max(sum(a <= x <= b for a, b in spans) for x in range(ends[-1]))
                assert most <= bound, (rows, cols, drain_rows, kw, m_rows)


def test_drain_rows_is_validated_and_capped_at_rows():
    with pytest.raises(ConfigError, match=r"drain_rows must be an integer >= 1, got 0; pass "
                                          r"--drain-rows"):
        ArrayConfig(drain_rows=0)
    with pytest.raises(ConfigError, match="drain_rows must be <= 256, got 300"):
        ArrayConfig(drain_rows=300)
    assert ArrayConfig(rows=1, drain_rows=4).drain_rows_eff == 1
    assert ArrayConfig(rows=8, drain_rows=4).drain_rows_eff == 4
    cfg = ArrayConfig(rows=8, cols=4, drain_rows=3)
    assert cfg.tile_beats == 3 and cfg.out_width == 3 * 4 * cfg.lane_width


def test_hold_banks_is_validated():
    with pytest.raises(ConfigError, match=r"hold_banks must be an integer >= 2, got 1; pass "
                                          r"--hold-banks 2 or more"):
        ArrayConfig(hold_banks=1)
    with pytest.raises(ConfigError, match=r"hold_banks must be an integer >= 2, got '3'"):
        ArrayConfig(hold_banks="3")
    with pytest.raises(ConfigError, match=r"hold_banks must be <= 16, got 17: .*; pass a smaller "
                                          r"--hold-banks"):
        ArrayConfig(hold_banks=17)
    assert ArrayConfig().hold_banks == 2 and ArrayConfig().tag.endswith("d2")
    assert ArrayConfig(hold_banks=3).tag.endswith("d2h3")


def test_more_hold_banks_deepen_the_output_fifo_as_in_flight_tiles_need():
    from hw.rtl.core import BinaryCore

    for banks in (2, 3, 4, 8):
        cfg = ArrayConfig(rows=8, cols=8, simd=64, hold_banks=banks)
        q, beats, flush = cfg.bank_period(1), cfg.tile_beats, cfg.tile_flush
        tiles = banks * ((flush + beats - 2 + -(-q // banks)) // q) + banks
        assert BinaryCore.tiles_in_flight(beats, q, flush, banks) == tiles
        # margin 3 beats per start, 3 spare, 6 staged (3 result registers, the FIFO's 3)
        need = max(3 * beats + tiles * beats + 9, cfg.pool_latency + 9)
        assert cfg.out_fifo_depth == 1 << (need - 1).bit_length()


def test_default_latencies():
    cfg = ArrayConfig()
    assert (cfg.pe_latency, cfg.mm_read_latency, cfg.tile_flush) == (3, 9, 19)
    assert (cfg.pool_latency, cfg.result_latency, cfg.out_fifo_depth) == (8, 6, 32)
    assert cfg.pool_start_cycles == 5


def test_pool_lanes_default_is_cols_and_is_bounded_by_the_output_beat():
    assert ArrayConfig(cols=8).pool_lanes_eff == 8 and ArrayConfig().pool_lanes == 0
    assert ArrayConfig(cols=3, pool_lanes=3).data_width == ArrayConfig(cols=3).data_width
    cfg = ArrayConfig(rows=8, cols=8, simd=64, drain_rows=2, pool_lanes=16)
    assert (cfg.pool_lanes_eff, cfg.data_width, cfg.out_width) == (16, 256, 16 * cfg.lane_width)
    assert cfg.tag.endswith("d2l16") and not ArrayConfig(cols=4, pool_lanes=4).tag.endswith("l4")
    assert ArrayConfig(rows=8, cols=8, simd=64, drain_rows=4, pool_lanes=32).data_width == 512
    assert ArrayConfig(rows=2, cols=4, drain_rows=2, pool_lanes=5).pool_lanes_eff == 5
    with pytest.raises(ConfigError, match=r"^pool_lanes 24 exceeds the output beat's 16 lanes "
                       r"\(drain_rows 2 x cols 8\): pass --pool-lanes 16 or less or raise "
                       r"--drain-rows$"):
        ArrayConfig(rows=8, cols=8, drain_rows=2, pool_lanes=24)
    with pytest.raises(ConfigError, match=r"beat's 8 lanes \(drain_rows 2 x cols 4\).* raise "
                                          r"--cols \(drain_rows is already rows\)"):
        ArrayConfig(rows=2, cols=4, drain_rows=4, pool_lanes=9)
    for bad in (-1, 2.0, True):
        with pytest.raises(ConfigError, match=r"pool_lanes must be an integer >= 0, got .*; "
                                              r"pass --pool-lanes 0"):
            ArrayConfig(pool_lanes=bad)


def test_load_rows_is_validated_and_0_means_the_largest_power_of_two_dividing_r_and_c():
    with pytest.raises(ConfigError, match=r"^load_rows 3 must be a power of two dividing rows 4 "
                                          r"and cols 4 .*: pass --load-rows 4 or 0"):
        ArrayConfig(load_rows=3)
    with pytest.raises(ConfigError, match=r"^load_rows 4 must be a power of two dividing rows 6 "
                                          r"and cols 4 .*--load-rows 2 or 0"):
        ArrayConfig(rows=6, load_rows=4)
    with pytest.raises(ConfigError, match=r"load_rows must be an integer >= 0, got -1"):
        ArrayConfig(load_rows=-1)
    assert [ArrayConfig(rows=r, cols=c, load_rows=0).load_rows_eff
            for r, c in ((4, 4), (6, 4), (3, 5), (8, 16), (12, 24))] == [4, 2, 1, 8, 4]
    # the data beat holds G words (or the pool position, if wider); the default is unchanged
    assert ArrayConfig(rows=8, cols=8, simd=64, load_rows=8).data_width == 8 * 64
    assert ArrayConfig(rows=4, cols=4, simd=64, load_rows=4).data_width == 4 * 64
    assert ArrayConfig(rows=8, cols=8, simd=32, load_rows=2).data_width == 8 * 16  # the pool's
    assert ArrayConfig().data_width == 64 and ArrayConfig(load_rows=2).data_width == 64
    # left out of the dict (records, sidecars) at its default, so older records read back equal
    assert "load_rows" not in ArrayConfig().to_dict()
    assert ArrayConfig(load_rows=2).to_dict()["load_rows"] == 2
    assert ArrayConfig(**ArrayConfig(load_rows=2).to_dict()) == ArrayConfig(load_rows=2)
    assert ArrayConfig(load_rows=4).tag.endswith("d2g4") and ArrayConfig().tag.endswith("d2")


def test_core_parts_defaults_to_the_composed_core_and_old_dicts_read_as_single_module():
    """Since the core built from parts became the default, a config dict without ``core_parts``
    (every record, report and plan written before) is a single-module config: ``from_dict``
    reads it so, ``to_dict`` writes the field only for the core built from parts, and both
    round-trip; the tag marks the single-module core."""
    from hw.config import LATER_FIELDS

    assert ArrayConfig().core_parts == 1 and LATER_FIELDS["core_parts"] == 0
    assert ArrayConfig().to_dict()["core_parts"] == 1
    old = ArrayConfig(core_parts=0)
    assert "core_parts" not in old.to_dict()
    assert ArrayConfig.from_dict(old.to_dict()) == old
    assert ArrayConfig.from_dict(ArrayConfig().to_dict()) == ArrayConfig()
    # a dict written before the field existed: not today's default
    assert ArrayConfig.from_dict({"rows": 2, "cols": 2, "simd": 16}).core_parts == 0
    assert ArrayConfig(**{"rows": 2, "cols": 2, "simd": 16}).core_parts == 1
    assert old.tag.endswith("d2b") and ArrayConfig().tag.endswith("d2")
