"""cocotb verification of the generated Verilog: drivers, monitor, reference model, scoreboard,
and the runner that builds and runs them (Icarus by default, Verilator optional)."""
