"""Renderers of a :class:`~vsssim.trace.Trace`: plain-text timeline, Mermaid diagrams, lane
layout (freeze and hold windows) and the SVG timeline."""

from vsssim.render.lanes import LaneLayout, Window, layout
from vsssim.render.mermaid import render_sequence, render_state_diagram
from vsssim.render.svg import render_svg
from vsssim.render.text import render_text

__all__ = ["LaneLayout", "Window", "layout", "render_sequence", "render_state_diagram",
           "render_svg", "render_text"]
