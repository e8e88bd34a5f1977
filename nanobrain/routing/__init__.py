"""Request analysis: which workflow a free-form request is for."""

from nanobrain.routing.analyzer import LexicalAnalyzer, RequestAnalyzer, RouteDecision

__all__ = ["LexicalAnalyzer", "RequestAnalyzer", "RouteDecision"]
