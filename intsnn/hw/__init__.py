"""intsnn.hw."""
