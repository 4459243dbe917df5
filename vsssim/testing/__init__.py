"""Testing toolkit for writers and requesters (pytest plugin, assertions, conformance)."""
