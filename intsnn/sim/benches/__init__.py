"""cocotb test modules (imported inside the simulator, never collected by pytest)."""
