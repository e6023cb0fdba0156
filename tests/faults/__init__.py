"""Helpers of the fault-injection suite (tests/test_faults*.py): CLI subprocesses, kills, corrupted files."""
