"""intsnn.golden."""
