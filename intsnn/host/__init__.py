"""Host software for a board running the intsnn core behind the UART bridge: the byte
transport (:mod:`.transport`), the protocol client (:mod:`.link`), the training/evaluation
session that checks every result against the golden model (:mod:`.session`) and
``intsnn fpga`` (:mod:`.fpga`)."""
