"""``--reload``: watch the source files and restart a child server process when they change.

May import the workers (for the child process plumbing), the edges (sockets) and the rooms below;
never the server, which it runs by import string in the child.
"""
