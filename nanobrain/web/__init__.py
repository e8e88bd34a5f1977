"""The HTTP, SSE, WebSocket and MCP surface: the app factory, routers, transports and the UI."""
