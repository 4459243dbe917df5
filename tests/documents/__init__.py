"""Tests of vsssim.documents and vsssim.strategies."""
