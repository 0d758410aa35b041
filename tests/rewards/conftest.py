"""Shared reward workers: spawning a pool costs ~0.5 s, so the tests reuse one per session."""

from __future__ import annotations

import pytest

from svgrl.rewards.code import CodeVerifier
from svgrl.rewards.math import MathVerifier


@pytest.fixture(scope="session")
def math_verifier():
    v = MathVerifier(workers=2)
    yield v
    v.close()


@pytest.fixture(scope="session")
def code_verifier():
    v = CodeVerifier()
    yield v
    v.close()
