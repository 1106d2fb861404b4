"""Tests import the launcher under its old name; it lives in `emulator.process`."""

from emulator.process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

__all__ = ["DEFAULT_ID", "EXAMPLE_ID", "EmulatorProcess"]
