"""Pictures: training curves (``plot``), 2-D word maps (``map``) and their shared drawing setup.

Drawing PNG, SVG and PDF files needs the optional matplotlib (``embedkit[plot]``); the HTML
word map does not. Nothing here is imported by the core or by training.
"""
