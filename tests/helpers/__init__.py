"""Helpers shared by the test folders (plain modules: conftest files hold fixtures only)."""
