"""Renderers of a :class:`~vsssim.trace.Trace`: plain-text timeline and Mermaid diagrams."""

from vsssim.render.mermaid import render_sequence, render_state_diagram
from vsssim.render.text import render_text

__all__ = ["render_sequence", "render_state_diagram", "render_text"]
