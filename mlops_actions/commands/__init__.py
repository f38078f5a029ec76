"""Thin command layers: parse arguments, call a library function, render its result."""
