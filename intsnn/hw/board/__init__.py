"""Board tops: the core behind a UART bridge, for a simulator (:mod:`.top`) or a board
(:mod:`.ulx3s`)."""
