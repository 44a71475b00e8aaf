"""intsnn.sw."""
