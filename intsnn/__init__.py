"""intsnn: integer-only online training of spiking neural networks.

Subpackages
-----------
golden : the bit-exact reference model (the specification, see docs/algorithm.md)
sw     : host software: datasets, encoders, training driver, CLI, reports
hw     : Amaranth generator of the integer LIF training datapath
sim    : cocotb benches and simulator runners
"""

__version__ = "0.1.0"
