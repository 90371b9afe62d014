"""Checks of the tests and of the package's promises beyond the unit tests.

mutate.py and mutants.py (plant each listed bug in a copy of firmware/ and run the
tests: caught or survived), fuzz.py (run the hostile-call fuzzer, tools/device/fuzz.py,
on a target), model_fuzz.py (seeded mutations of a model file, for the loader).

May import: the standard library, board and quality.
"""
