"""intsnn.sim."""
