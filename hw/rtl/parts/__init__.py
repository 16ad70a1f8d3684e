"""The parts of the composed matmul core (:class:`hw.rtl.composed_core.ComposedCore`): job
control, operand loader, operand banks, tile reader, drain control and result path, each a
component with its own latency, joined by the signatures of :mod:`hw.rtl.interfaces`."""
